"""`run_eval`: score every run of a config on every question file, resumably, and write the report.

    from eval import run_eval
    report = run_eval(questions=["eval/questions/test.jsonl"], config="eval/configs/default.toml", out="eval/results/x")

Out folder: report.md, results.json, one chart per question file (chart_<split>.png) and
rows/<split>__<run>.jsonl (one scored question per line, written as each finishes). A rows file
starts with a header holding a fingerprint of everything that decides its rows (the run's
effective settings, the question file's hash, the judge, the harness version): re-running with the
same out folder skips the questions already scored; a changed fingerprint starts that file clean
(and says so); `fresh=True` starts everything clean. A line cut short by an interruption is dropped.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from rag import Assistant, Settings
from rag.corpus import load_corpus

from . import harness as H
from . import metrics as M
from .config import EvalConfig, EvalError, RunSpec, index_dir_for, parse_config

log = logging.getLogger(__name__)
HARNESS_VERSION = 3  # bump when a row's contents change, so old rows are not resumed
RANKED_K = 10  # papers ranked per question: enough for hit@5, recall@10 and nDCG@10


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RowsFile:
    """rows/<split>__<run>.jsonl: a fingerprint header, then one JSON row per scored question."""

    def __init__(self, path: Path, fingerprint: str, fresh: bool, say: Callable[[str], None]):
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        header, rows = self._read()
        if header is not None and header.get("fingerprint") == fingerprint and not fresh:
            self.done = {r["id"]: r for r in rows}
            if rows:
                say(f"{path.name}: resuming, {len(rows)} question(s) already scored")
        elif header is not None and not fresh:
            say(f"{path.name}: the config, settings or questions changed since the last run; starting clean")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rewrite what is kept: this also drops a line cut short by an interrupted run.
        with path.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"fingerprint": fingerprint, "version": HARNESS_VERSION}) + "\n")
            for r in self.done.values():
                f.write(json.dumps(r) + "\n")
        self._f = path.open("a", encoding="utf-8")

    def _read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if not self.path.exists():
            return None, []
        header, rows = None, []
        for i, line in enumerate(self.path.read_text(encoding="utf-8").splitlines()):
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a row cut short: scored again
            if i == 0:
                header = item
            elif isinstance(item, dict) and "id" in item:
                rows.append(item)
        return header, rows

    def add(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, default=float) + "\n")
        self._f.flush()
        self.done[row["id"]] = row

    def close(self) -> None:
        self._f.close()


class RunScorer:
    """Answers and scores questions for one run (an Assistant with overrides, or the baseline)."""

    def __init__(self, spec: RunSpec, assistant: Assistant | None, baseline: Any, judge: Any):
        self.spec, self.assistant, self.baseline, self.judge = spec, assistant, baseline, judge
        if assistant is not None:
            from rag.coverage import Scorer as TermScorer

            terms = TermScorer(assistant.loaded_index)  # the index's stemmer and BM25 idf, as rag.citations uses
            self.terms, self.weight, self.salient = terms.terms, terms.idf, terms.is_salient
        self.options = spec.per_call

    def __call__(self, q: H.Question) -> dict[str, Any]:
        if self.baseline is not None:
            started = time.perf_counter()
            ranked = self.baseline.ranked(q.question, RANKED_K)
            return H.score_question(q, ranked, search_ms=(time.perf_counter() - started) * 1000)
        a = self.assistant
        assert a is not None
        if q.history:
            # A follow-up: the earlier questions are asked first and their answers passed on, as the chat UI
            # does; what is scored is the follow-up's answer, and its ranking is what that answer retrieved
            # (search() alone has no history).
            prior: list[Any] = []
            for earlier in q.history:
                prior.append(a.ask(earlier, history=list(prior), **self.options))
            answer = a.ask(q.question, history=prior, **self.options)
            ranked = [h.paper_id for h in answer.hits]
            search_ms = answer.timings.get("retrieve_ms")
        else:
            started = time.perf_counter()
            ranked = [h.paper_id for h in a.search(q.question, k=RANKED_K, **self.options)]
            search_ms = (time.perf_counter() - started) * 1000
            answer = a.ask(q.question, **self.options)
        similarity = None
        if q.answer and not answer.abstained and not q.unanswerable:
            vecs = a.embed([H.plain(answer.text) or ".", q.answer])
            similarity = float(M.cosine(vecs[0], vecs[1]))
        judgment = None
        if self.judge is not None:
            judgment = self.judge.grade(q.question, q.answer, answer.text, [c.passage for c in answer.citations])
        return H.score_question(q, ranked, answer, search_ms=search_ms, similarity=similarity, judgment=judgment,
                                terms=self.terms, weight=self.weight, salient=self.salient)


def _fingerprint(spec: RunSpec, qfile: Path, judge: str | None) -> str:
    settings = spec.settings.model_dump(mode="json") if spec.settings else {}
    model = None
    if spec.settings is not None and not spec.baseline:  # a retrained answerability model changes the answers
        from rag.answerability import DEFAULT_FOLLOWUP_MODEL, DEFAULT_MODEL

        paths = [Path(spec.settings.answerability_model or DEFAULT_MODEL), Path(spec.settings.followup_model or DEFAULT_FOLLOWUP_MODEL)]
        model = "|".join(_sha(p) if p.exists() else "-" for p in paths)
    blob = json.dumps({"run": spec.name, "baseline": spec.baseline, "settings": settings, "questions": _sha(qfile),
                       "judge": judge, "version": HARNESS_VERSION, "answerability_model": model}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_eval(questions: Iterable[str | Path] | None = None, config: str | Path | dict[str, Any] | None = None,
             out: str | Path | None = None, settings: Settings | None = None, fresh: bool = False,
             judge_model: str | None = None, progress: bool = True, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score each run of `config` on each question file; write the report to `out`; return results.json's dict.

    questions: JSONL files (default: eval/questions dev and test). config: a TOML/JSON file, a dict,
    or None (one run with `settings`). Everything is validated before any question is asked.
    """
    from . import report as R

    say = say or (lambda msg: print(msg, file=sys.stderr))
    base = settings or Settings()
    cfg = parse_config(config, base, judge_model)  # fails before any work on a bad key or value
    files = [Path(f) for f in questions] if questions else list(H.DEFAULT_FILES.values())
    parsed = {f: H.load_questions(f) for f in files}  # syntax errors name file:line, before any index work
    splits = {f: f.stem for f in files}
    if len(set(splits.values())) < len(files):
        raise EvalError("two question files share a name; give files with distinct names (the name labels the split)")
    out_dir = Path(out) if out else H.EVAL_DIR / "results" / (Path(str(config)).stem if isinstance(config, (str, Path)) else "settings")
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    assistants = _assistants(cfg, base)
    main = next(iter(assistants.values()), None) or Assistant(base)
    known = main.papers()
    for f in files:  # gold titles checked against the index, still before scoring
        parsed[f] = H.load_questions(f, known)
    parts = _parts(parsed, splits)
    judge = None
    if cfg.judge_model:
        from .judge import Judge

        judge = Judge(cfg.judge_model, base)
    else:
        say("LLM judge: skipped (no judge_model configured)")

    total = sum(len(qs) for _, _, qs in parts) * len(cfg.runs)
    bar = _bar(total, progress)
    results: dict[str, Any] = {"runs": {}, "seconds": {}}
    baseline_info: dict[str, Any] = {}
    try:
        for spec in cfg.runs:
            scorer: RunScorer | None = None  # made on the first question not yet scored (a resumed run may need none)
            for split, f, qs in parts:
                rows_file = RowsFile(out_dir / "rows" / f"{split}__{spec.name}.jsonl", _fingerprint(spec, f, cfg.judge_model), fresh, say)
                t0 = time.perf_counter()
                bar.set_description(f"{split}/{spec.name}")
                try:
                    for q in qs:
                        if q.id not in rows_file.done:
                            scorer = scorer or _scorer(spec, assistants, base, judge, baseline_info)
                            rows_file.add(scorer(q))
                        bar.update(1)
                finally:
                    rows_file.close()
                rows = [rows_file.done[q.id] for q in qs]
                results["runs"].setdefault(spec.name, {})[split] = {
                    "overall": H.aggregate(rows, cfg.bootstrap, cfg.seed), "by_type": H.by_type(rows), "by_style": H.by_style(rows)}
                results["seconds"][f"{split}/{spec.name}"] = time.perf_counter() - t0
    finally:
        bar.close()
        for a in assistants.values():
            a.close()
    results["seconds"]["total"] = time.perf_counter() - started
    results.update(R.provenance(cfg, base, files, judge, baseline_info))
    R.write(out_dir, results, cfg, {split: f for split, f, _ in parts}, {split: qs for split, _, qs in parts}, known)
    say(f"report: {out_dir / 'report.md'}")
    return results


def _parts(parsed: dict[Path, list[H.Question]], splits: dict[Path, str]) -> list[tuple[str, Path, list[H.Question]]]:
    """(label, file, questions) to score: a file whose items carry two or more `split` values (a style set)
    is scored part by part, labelled "<file>-<part>" (e.g. long-dev, long-test), so dev and test figures
    never mix."""
    out = []
    for f, qs in parsed.items():
        names = list(dict.fromkeys(q.part for q in qs if q.part))
        if len(names) < 2:  # one part only (e.g. a held-out test file): the file's own name
            out.append((splits[f], f, qs))
            continue
        for part in names:
            out.append((f"{splits[f]}-{part}", f, [q for q in qs if q.part == part]))
        rest = [q for q in qs if not q.part]
        if rest:
            out.append((splits[f], f, rest))
    return out


def _scorer(spec: RunSpec, assistants: dict[str, Assistant], base: Settings, judge: Any,
            baseline_info: dict[str, Any]) -> RunScorer:
    if spec.baseline:
        scorer = RunScorer(spec, None, _baseline(base, baseline_info), None)
        scorer.baseline.ranked("warm-up question")
    else:
        scorer = RunScorer(spec, assistants[_akey(spec)], None, judge)
        scorer.assistant.ask("warm-up question", **scorer.options)  # loads the embedder (and LLM): not a question's latency
    return scorer


def _akey(spec: RunSpec) -> str:
    return json.dumps(sorted((k, str(v)) for k, v in spec.shaping.items()))


def _assistants(cfg: EvalConfig, base: Settings) -> dict[str, Assistant]:
    """One Assistant per distinct index shape; runs that differ only per call share one."""
    out: dict[str, Assistant] = {}
    for spec in cfg.runs:
        if spec.baseline or _akey(spec) in out:
            continue
        shaped = spec.shaping
        own = index_dir_for(spec, base)
        if own is not None:
            shaped["index_dir"] = own
        out[_akey(spec)] = Assistant(base.with_options(**shaped) if shaped else base)
    return out


def _baseline(base: Settings, info: dict[str, Any]) -> Any:
    from rag.embedding import resolve_model

    from .baseline import Baseline

    papers = load_corpus(base.corpus_paths).papers
    b = Baseline(papers, str(resolve_model(base.embed_model)), base.cache_dir)
    info.update({"store": str(b.path), "build_s": b.build_s})
    return b


def _bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="q", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


__all__ = ["run_eval", "RowsFile", "HARNESS_VERSION"]
