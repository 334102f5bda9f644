"""Questions in, scored rows out: question files, per-question scoring, aggregation with intervals.

Question files are JSONL, one object per line:
    {"id", "type", "question", "gold_titles": [...], "answer", "key_facts": [...], "count": N (optional)}
`count` (a "How many ...?" question) is the exact number the answer must state first (`count_exact`).
Gold papers are named by exact title (or `gold_ids`); type "unanswerable" has no gold. Style sets
(eval/questions/styles/<style>.jsonl) add "style", "split" (dev/test: the part), and for
unanswerable items "unanswerable_kind" (absent/unjoined/unstated), "missing", "concepts",
"detail_terms"; a file whose items carry two or more "split" values is scored part by part (run_eval).
Which questions each metric averages over is stated in `aggregate` (and the README).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from rag.citations import MARKER, answer_sentences
from rag.corpus import paper_id_for

from . import metrics as M
from .config import EvalError

TYPES = ("factoid", "which_paper", "multi_paper", "metadata", "unanswerable")
KINDS = ("absent", "unjoined", "unstated")
# A missing concept is "named" when the answer's `missing` shares a salient term (rag.coverage.Scorer.is_salient:
# rare in the collection) with what the question file says is missing; without the index, idf >= NAMED_IDF.
NAMED_IDF = 2.0
EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_FILES = {"dev": EVAL_DIR / "questions" / "dev.jsonl", "test": EVAL_DIR / "questions" / "test.jsonl"}


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_ids: list[str]
    answer: str = ""
    key_facts: list[str] = field(default_factory=list)
    source: str = ""
    count: int | None = None  # the exact number a "How many ...?" answer must state
    style: str = "original"  # the shipped dev/test splits are style "original"
    part: str | None = None  # "dev" or "test" in a style file
    kind: str | None = None  # unanswerable_kind: absent, unjoined, unstated
    missing: list[str] = field(default_factory=list)  # what an honest partial answer says is missing
    concept_forms: list[str] = field(default_factory=list)  # unjoined: every surface form of both concepts
    detail_terms: list[str] = field(default_factory=list)  # unstated: the asked detail's words
    history: list[str] = field(default_factory=list)  # earlier questions of the conversation, asked first, oldest first

    @property
    def unanswerable(self) -> bool:
        return self.type == "unanswerable"


def load_questions(path: Path, known_ids: Iterable[str] | None = None) -> list[Question]:
    """Questions of a JSONL file; any malformed line is an error naming the file and line."""
    known = set(known_ids) if known_ids is not None else None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read question file {path}: {exc.strerror or exc}") from None
    out: list[Question] = []
    seen: set[str] = set()
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{no}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise EvalError(f"{where}: expected an object")
        missing = [k for k in ("id", "type", "question") if not item.get(k)]
        if missing:
            raise EvalError(f"{where}: missing {', '.join(missing)}")
        if item["type"] not in TYPES:
            raise EvalError(f"{where}: unknown type {item['type']!r}; use one of {', '.join(TYPES)}")
        if item["id"] in seen:
            raise EvalError(f"{where}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        gold = list(item.get("gold_ids") or []) + [paper_id_for(t) for t in item.get("gold_titles") or []]
        if item["type"] != "unanswerable" and not gold:
            raise EvalError(f"{where}: an answerable question needs gold_titles or gold_ids")
        if item["type"] == "unanswerable" and gold:
            raise EvalError(f"{where}: an unanswerable question has no gold papers")
        if known is not None:
            unknown = [t for t, g in zip(item.get("gold_titles") or [], gold[len(item.get("gold_ids") or []):]) if g not in known]
            unknown += [g for g in item.get("gold_ids") or [] if g not in known]
            if unknown:
                raise EvalError(f"{where}: gold paper(s) not in the index: {unknown}")
        count = item.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise EvalError(f"{where}: 'count' must be a whole number >= 0, got {count!r}")
        kind = item.get("unanswerable_kind")
        if kind is not None and kind not in KINDS:
            raise EvalError(f"{where}: unknown unanswerable_kind {kind!r}; use one of {', '.join(KINDS)}")
        history = item.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, str) and h.strip() for h in history):
            raise EvalError(f"{where}: 'history' must be a list of earlier questions (non-empty strings)")
        forms = [f for c in item.get("concepts") or [] for f in (c if isinstance(c, list) else [c])]
        out.append(Question(item["id"], item["type"], item["question"], gold, item.get("answer", ""),
                            list(item.get("key_facts") or []), where, count, style=item.get("style") or "original",
                            part=item.get("split"), kind=kind, missing=list(item.get("missing") or []), concept_forms=forms,
                            detail_terms=list(item.get("detail_terms") or []), history=list(history)))
    if not out:
        raise EvalError(f"{path}: no questions")
    return out


RETRIEVAL = ("hit@1", "hit@5", "recall@5", "recall@10", "mrr", "ndcg@10")
ANSWER = ("key_fact_recall", "token_f1", "rouge_l", "semantic_similarity",
          "citation_precision", "citation_recall", "passage_precision", "sentence_recall", "count_exact")
NUMBER = re.compile(r"\b\d+\b")


def stated_count(text: str) -> int | None:
    """The first whole number of an answer's first line ("There are exactly 27 papers ..." -> 27), or None.

    >>> stated_count("About 2 papers of the 11 papers rated top 5% are about ..."), stated_count("No paper by X.")
    (2, None)
    """
    first = NUMBER.search(plain(text).split("\n")[0] if text else "")
    return int(first.group()) if first else None
JUDGE = ("correctness", "groundedness")


def plain(text: str) -> str:
    """Answer text without its [n] markers (for similarity with the reference)."""
    return " ".join(MARKER.sub(" ", text).split())


def score_question(q: Question, ranked: list[str], answer: Any | None = None, *, search_ms: float | None = None,
                   similarity: float | None = None, judgment: dict[str, Any] | None = None,
                   terms: Callable[[str], set[str]] = M.content_terms, weight: Callable[[str], float] = lambda t: 1.0,
                   salient: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Every metric of one question. `answer` is a rag.Answer (None: retrieval only); `similarity` the
    embedder cosine of answer and reference; `terms`/`weight` the support measure's tokenizer and idf."""
    gold = set(q.gold_ids)
    row: dict[str, Any] = {"id": q.id, "type": q.type, "style": q.style, "question": q.question, "gold": q.gold_ids, "ranked": ranked[:10]}
    if q.kind:
        row["kind"] = q.kind
    if search_ms is not None:
        row["search_ms"] = search_ms
    if not q.unanswerable:
        row.update({"hit@1": M.hit_at_k(ranked, gold, 1), "hit@5": M.hit_at_k(ranked, gold, 5),
                    "recall@5": M.recall_at_k(ranked, gold, 5), "recall@10": M.recall_at_k(ranked, gold, 10),
                    "mrr": M.reciprocal_rank(ranked, gold), "ndcg@10": M.ndcg_at_k(ranked, gold, 10)})
    if answer is not None:
        by_number = {c.number: c for c in answer.citations}
        sentences = [(s.text, [f"{by_number[n].title}. {by_number[n].passage}" for n in s.cites if n in by_number])
                     for s in answer_sentences(answer.text) if terms(MARKER.sub(" ", s.text))]
        cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
        row.update({"abstained": answer.abstained, "evidence": answer.evidence, "generator": answer.generator,
                    "confidence": answer.confidence, "missing": list(answer.missing),
                    "warnings": list(answer.warnings), "text": answer.text, "cited": cited,
                    "latency_ms": answer.timings.get("total_ms", 0.0),
                    **{k: answer.timings[k] for k in ("retrieve_ms", "generate_ms", "first_token_ms") if k in answer.timings}})
        if not q.unanswerable and not answer.abstained:
            support = M.citation_support(sentences, terms=terms, weight=weight) if sentences else {}
            row.update({"key_fact_recall": M.key_fact_recall(answer.text, q.key_facts) if q.key_facts else None,
                        "token_f1": M.token_f1(plain(answer.text), q.answer) if q.answer else None,
                        "rouge_l": M.rouge_l(plain(answer.text), q.answer) if q.answer else None,
                        "semantic_similarity": similarity if q.answer else None,
                        "citation_precision": M.citation_precision(cited, gold), "citation_recall": M.citation_recall(cited, gold),
                        "passage_precision": support.get("passage_precision"), "sentence_recall": support.get("sentence_recall")})
            if q.count is not None:
                row["count_stated"] = stated_count(answer.text.split("\n")[0])
                row["count_exact"] = float(row["count_stated"] == q.count)
        if q.kind in ("unjoined", "unstated"):
            # A partial answer counts as an abstention; it should also name what is missing.
            row["named_missing"] = bool(answer.abstained and names_missing(answer.missing, q, terms, salient or (lambda t: weight(t) >= NAMED_IDF)))
    if judgment:
        row.update(judgment)
    row["failures"] = failures(row)
    return row


def names_missing(missing: Iterable[str], q: Question, terms: Callable[[str], set[str]], salient: Callable[[str], bool]) -> bool:
    """Whether the answer's missing concepts share a rare term with what `q` says is missing.

    Unstated: the asked detail (`detail_terms`, `missing`); unjoined: `missing` and either concept's
    forms (neither joined paper has the other). Salient terms only, so "model" or "data" never count.
    """
    said = {t for m in missing for t in terms(m) if salient(t)}
    expected = q.missing + (q.detail_terms if q.kind == "unstated" else q.concept_forms)
    wanted = {t for m in expected for t in terms(m) if salient(t)}
    return bool(said & wanted)


def failures(row: dict[str, Any]) -> list[str]:
    """What went wrong with one question, in words the report lists."""
    out = []
    answerable = row["type"] != "unanswerable"
    if answerable and row.get("hit@5") == 0.0:
        out.append("missed retrieval")
    if "abstained" in row:
        if answerable and row["abstained"]:
            out.append("wrong abstention")
        if not answerable and not row["abstained"]:
            out.append("missed abstention")
        if row.get("named_missing") is False and row["abstained"]:
            out.append("missing concept not named")
        if row.get("key_fact_recall") is not None and row["key_fact_recall"] < 1.0:
            out.append("missing key facts")
        if row.get("passage_precision") is not None and row["passage_precision"] < 1.0:
            out.append("unsupported citations")
        if row.get("count_exact") == 0.0:
            out.append("wrong count")
    return out


def _mean(values: Iterable[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _abstain_f1(rows: list[dict[str, Any]]) -> float:
    return M.abstention([r["abstained"] for r in rows], [r["type"] == "unanswerable" for r in rows])["f1"]


def aggregate(rows: list[dict[str, Any]], resamples: int = 0, seed: int = 0) -> dict[str, Any]:
    """Means over the rows, with percentile-bootstrap intervals under "ci" when `resamples` > 0.

    Retrieval: answerable questions. Answer and citation metrics: answerable questions that were
    answered (not abstained); key_fact_recall_all counts abstentions as 0. Abstention: all
    questions. Latency: every answered or abstained question (ask() total; search_ms separately).
    """
    answerable = [r for r in rows if r["type"] != "unanswerable"]
    out: dict[str, Any] = {"questions": len(rows), "answerable": len(answerable)}
    samples: dict[str, list[float]] = {}
    for key in RETRIEVAL:
        samples[key] = [r[key] for r in answerable if r.get(key) is not None]
    asked = [r for r in rows if "abstained" in r]
    if asked:
        answered = [r for r in answerable if "abstained" in r and not r["abstained"]]
        out["answered"] = len(answered)
        for key in ANSWER:
            samples[key] = [r[key] for r in answered if r.get(key) is not None]
        samples["key_fact_recall_all"] = [0.0 if r["abstained"] else r["key_fact_recall"] for r in answerable
                                          if "abstained" in r and (r["abstained"] or r.get("key_fact_recall") is not None)]
        ab = M.abstention([r["abstained"] for r in asked], [r["type"] == "unanswerable" for r in asked])
        out.update({f"abstain_{k}": v for k, v in ab.items()})
        partial_rows = [r for r in asked if "named_missing" in r]
        if partial_rows:  # kinds unjoined/unstated: abstained (plain or partial) and named the missing concept
            out["partial_named"] = sum(r["named_missing"] for r in partial_rows) / len(partial_rows)
            out["partial_answers"] = sum(bool(r.get("missing")) for r in partial_rows) / len(partial_rows)
        conf = [(r["confidence"], r["type"] != "unanswerable") for r in asked if r.get("confidence") is not None]
        if conf:  # calibration of the answerability probability
            out["confidence_brier"] = sum((c - float(y)) ** 2 for c, y in conf) / len(conf)
        kinds = {}
        for k in KINDS:
            sel = [r["abstained"] for r in asked if r.get("kind") == k]
            if sel:
                kinds[k] = sum(sel) / len(sel)
        if kinds:
            out["abstained_by_kind"] = kinds
        lat = [r["latency_ms"] for r in asked]
        out["latency_p50_ms"], out["latency_p95_ms"] = M.percentile(lat, 50), M.percentile(lat, 95)
        out["generators"] = sorted({r["generator"] for r in asked})
    searched = [r["search_ms"] for r in rows if r.get("search_ms") is not None]
    if searched:
        out["search_p50_ms"], out["search_p95_ms"] = M.percentile(searched, 50), M.percentile(searched, 95)
    judged = [r for r in rows if "judge_ok" in r]
    if judged:
        for key in JUDGE:
            samples[key] = [r[key] for r in judged if r.get(key) is not None]
        out["judge_unparseable"] = sum(not r["judge_ok"] for r in judged) / len(judged)
    for key, values in samples.items():
        out[key] = _mean(values)
    if resamples:
        ci = {k: M.bootstrap_ci(v, resamples=resamples, seed=seed) for k, v in samples.items() if v}
        if asked and len(asked) > 1:
            ci["abstain_f1"] = M.bootstrap_ci(asked, _abstain_f1, resamples=resamples, seed=seed)
        out["ci"] = {k: v for k, v in ci.items() if v is not None}
    return out


def by_type(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """aggregate() per question type (no intervals: the groups are small)."""
    return {t: aggregate([r for r in rows if r["type"] == t]) for t in TYPES if any(r["type"] == t for r in rows)}


def by_style(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """aggregate() per question style (the shipped splits are "original")."""
    styles = sorted({r.get("style", "original") for r in rows})
    return {s: aggregate([r for r in rows if r.get("style", "original") == s]) for s in styles}


__all__ = ["EvalError", "Question", "TYPES", "KINDS", "DEFAULT_FILES", "aggregate", "by_style", "by_type", "failures",
           "load_questions", "names_missing", "plain", "score_question"]
