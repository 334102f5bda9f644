"""Run question files through the assistant and score retrieval, answers, citations, abstention.

Question files are JSONL, one object per line:
    {"id", "type", "question", "gold_titles": [...], "answer", "key_facts": [...]}
Gold papers are named by exact title (or `gold_ids`); type "unanswerable" has no gold.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from rag import Assistant
from rag.corpus import normalize_title, paper_id_for
from rag.errors import RagError

from . import metrics as M

TYPES = ("factoid", "which_paper", "multi_paper", "metadata", "unanswerable")
EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_FILES = {"dev": EVAL_DIR / "questions" / "dev.jsonl", "test": EVAL_DIR / "questions" / "test.jsonl"}


class EvalError(RagError):
    """A question file or an eval option is invalid."""


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_ids: list[str]
    answer: str = ""
    key_facts: list[str] = field(default_factory=list)
    source: str = ""

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
        out.append(Question(item["id"], item["type"], item["question"], gold, item.get("answer", ""),
                            list(item.get("key_facts") or []), where))
    if not out:
        raise EvalError(f"{path}: no questions")
    return out


def score_question(q: Question, ranked: list[str], answer: Any | None) -> dict[str, Any]:
    """Every metric of one question (answer may be None for retrieval-only runs)."""
    gold = set(q.gold_ids)
    row: dict[str, Any] = {"id": q.id, "type": q.type, "question": q.question, "ranked": ranked[:10]}
    if not q.unanswerable:
        row.update({"hit@1": M.hit_at_k(ranked, gold, 1), "hit@5": M.hit_at_k(ranked, gold, 5),
                    "recall@5": M.recall_at_k(ranked, gold, 5), "recall@10": M.recall_at_k(ranked, gold, 10),
                    "mrr": M.reciprocal_rank(ranked, gold), "ndcg@10": M.ndcg_at_k(ranked, gold, 10)})
    if answer is not None:
        cited = [c.paper_id for c in answer.citations]
        row.update({"abstained": answer.abstained, "evidence": answer.evidence, "cited": cited, "text": answer.text,
                    "latency_ms": answer.timings.get("total_ms", 0.0)})
        if not q.unanswerable:
            row.update({"key_fact_recall": M.key_fact_recall(answer.text, q.key_facts) if q.key_facts else None,
                        "citation_precision": M.citation_precision(cited, gold), "citation_recall": M.citation_recall(cited, gold),
                        "token_f1": M.token_f1(answer.text, q.answer) if q.answer else None,
                        "rouge_l": M.rouge_l(answer.text, q.answer) if q.answer else None})
    return row


def _mean(values: Iterable[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean metrics over the rows (answer metrics over answered rows), abstention over all."""
    answerable = [r for r in rows if r["type"] != "unanswerable"]
    out: dict[str, Any] = {"questions": len(rows)}
    for key in ("hit@1", "hit@5", "recall@5", "recall@10", "mrr", "ndcg@10"):
        out[key] = _mean(r.get(key) for r in answerable)
    if rows and "abstained" in rows[0]:
        answered = [r for r in answerable if not r["abstained"]]
        for key in ("key_fact_recall", "citation_precision", "citation_recall", "token_f1", "rouge_l"):
            out[key] = _mean(r.get(key) for r in answered)
        out["key_fact_recall_all"] = _mean((r.get("key_fact_recall") if not r["abstained"] else 0.0) for r in answerable if r.get("key_fact_recall") is not None)
        ab = M.abstention([r["abstained"] for r in rows], [r["type"] == "unanswerable" for r in rows])
        out.update({f"abstain_{k}": v for k, v in ab.items()})
        lat = sorted(r["latency_ms"] for r in rows)
        out["latency_p50_ms"] = statistics.median(lat)
        out["latency_p95_ms"] = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    return out


def run(assistant: Assistant, questions: list[Question], retriever: str | None = None, answer: bool = True,
        progress: Callable[[int, int], None] | None = None, **options: Any) -> dict[str, Any]:
    """Score every question with one configuration; returns {"rows", "overall", "by_type", "seconds"}."""
    started = time.perf_counter()
    opts = dict(options)
    if retriever:
        opts["retriever"] = retriever
    rows = []
    for i, q in enumerate(questions, 1):
        hits = assistant.search(q.question, k=10, **opts)
        ans = assistant.ask(q.question, **opts) if answer else None
        rows.append(score_question(q, [h.paper_id for h in hits], ans))
        if progress:
            progress(i, len(questions))
    by_type = {t: aggregate([r for r in rows if r["type"] == t]) for t in TYPES if any(r["type"] == t for r in rows)}
    return {"rows": rows, "overall": aggregate(rows), "by_type": by_type, "seconds": time.perf_counter() - started}


__all__ = ["EvalError", "Question", "aggregate", "load_questions", "normalize_title", "run", "score_question"]
