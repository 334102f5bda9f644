"""`rag eval --beir DIR`: retrieval on a BEIR-format set, each retriever beside plain BM25.

    DIR/corpus.jsonl     {"_id", "title", "text"} per document (indexed as it is: ids kept)
    DIR/queries.jsonl    {"_id", "text"} per query
    DIR/qrels/test.tsv   query-id <tab> corpus-id <tab> score, with a header line

Scores, per retriever (hybrid, dense, bm25: ours, over chunks, a paper ranked by its best chunk)
and for plain BM25 (bm25s over each whole document, title + text, English stopwords, no stemming:
what a BEIR baseline does), over the queries that have qrels: nDCG@10 (graded gains rel / log2(i+1),
as BEIR's pytrec_eval computes it), recall@10, recall@100 and MRR@100. Written into the report
folder: results.json gains a "beir" section and report.md a "BEIR" section (other sections stay).
"""
from __future__ import annotations

import csv
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from rag import Assistant, Settings

from .config import EvalError

RETRIEVERS = ("hybrid", "dense", "bm25")
DEPTH = 100  # papers ranked per query: recall@100 needs them
CANDIDATES = 300  # chunks each retriever returns before grouping, so ~100 distinct papers remain
MARK_START, MARK_END = "<!-- beir -->", "<!-- /beir -->"


def ndcg(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """Graded nDCG@k.  ndcg(["x", "a", "b"], {"a": 2, "b": 1}, 10) -> (2/log2(3) + 1/2) / (2 + 1/log2(3)) = 0.7967..."""
    dcg = sum(rels.get(r, 0) / math.log2(i + 1) for i, r in enumerate(ranked[:k], 1))
    ideal = sum(g / math.log2(i + 1) for i, g in enumerate(sorted((v for v in rels.values() if v > 0), reverse=True)[:k], 1))
    return dcg / ideal if ideal else 0.0


def recall(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Share of relevant documents in the top k.  recall(["a", "x"], {"a": 1, "b": 1}, 10) -> 0.5"""
    relevant = {d for d, g in rels.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], rels: Mapping[str, int], k: int = DEPTH) -> float:
    """1 / rank of the first relevant document in the top k.  mrr(["x", "a"], {"a": 1}) -> 0.5"""
    return next((1.0 / i for i, r in enumerate(ranked[:k], 1) if rels.get(r, 0) > 0), 0.0)


def score(ranked: Sequence[str], rels: Mapping[str, int]) -> dict[str, float]:
    return {"ndcg@10": ndcg(ranked, rels, 10), "recall@10": recall(ranked, rels, 10),
            "recall@100": recall(ranked, rels, 100), "mrr": mrr(ranked, rels)}


def load_beir(folder: Path, split: str = "test") -> tuple[Path, dict[str, str], dict[str, dict[str, int]]]:
    """(corpus.jsonl path, {query id: text}, {query id: {doc id: relevance}}); errors name the file."""
    folder = Path(folder)
    corpus, queries_file, qrels_file = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    for f in (corpus, queries_file, qrels_file):
        if not f.is_file():
            raise EvalError(f"{f} not found: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    queries: dict[str, str] = {}
    with queries_file.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    queries[str(row["_id"])] = str(row["text"])
                except (ValueError, KeyError, TypeError):
                    raise EvalError(f"{queries_file}:{no}: not a BEIR query ({{\"_id\": ..., \"text\": ...}})") from None
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as fh:
        for no, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not row or (no == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # the header line
            try:
                qid, did, rel = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise EvalError(f"{qrels_file}:{no}: expected query-id<TAB>corpus-id<TAB>score") from None
            qrels.setdefault(qid, {})[did] = rel
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise EvalError(f"{qrels_file}: {len(missing)} query id(s) not in {queries_file.name}, e.g. {missing[0]!r}")
    return corpus, queries, qrels


class PlainBM25:
    """The BEIR baseline: bm25s over whole documents (title + text), stopwords removed, no stemming."""

    def __init__(self, corpus: Path):
        import bm25s

        self.ids, texts = [], []
        with corpus.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    self.ids.append(str(row["_id"]))
                    texts.append(f"{row.get('title') or ''} {row.get('text') or ''}")
        self.model = bm25s.BM25()
        self.model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def ranked(self, query: str, k: int = DEPTH) -> list[str]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        docs, scores = self.model.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False, n_threads=1)
        return [self.ids[int(d)] for d, s in zip(docs[0], scores[0]) if s > 0]


def run_beir(folder: str | Path, settings: Settings | None = None, out: str | Path | None = None,
             say: Callable[[str], None] | None = None, progress: bool = True) -> dict[str, Any]:
    """Index the BEIR corpus, score every retriever and plain BM25, write the report; returns the "beir" section."""
    say = say or (lambda msg: print(msg, file=sys.stderr))
    folder = Path(folder)
    corpus, queries, qrels = load_beir(folder)
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.resolve().name) or "beir"
    base = settings or Settings()
    shaped = base.with_options(corpus=[corpus], corpus_name=f"beir-{name}", id_field=None, abstract_field=None)
    assistant = Assistant(shaped)
    started = time.perf_counter()
    report = assistant.index()
    say(report.summary())
    index_s = time.perf_counter() - started
    judged = [q for q in queries if q in qrels]
    from tqdm import tqdm

    runs: dict[str, Callable[[str], list[str]]] = {
        mode: (lambda q, m=mode: [h.paper_id for h in assistant.search(q, k=DEPTH, retriever=m, candidates=CANDIDATES)])
        for mode in RETRIEVERS}
    plain = PlainBM25(corpus)
    runs["plain-bm25"] = plain.ranked
    section: dict[str, Any] = {"dataset": str(folder), "name": name, "documents": report.papers, "chunks": report.chunks,
                               "queries": len(judged), "index_s": round(index_s, 1), "runs": {}}
    try:
        for run, ranked_for in runs.items():
            rows, times = [], []
            for qid in tqdm(judged, desc=f"beir/{run}", unit="q", file=sys.stderr, disable=not progress, leave=False):
                t = time.perf_counter()
                ranked = ranked_for(queries[qid])
                times.append((time.perf_counter() - t) * 1000)
                rows.append(score(ranked, qrels[qid]))
            means = {k: round(sum(r[k] for r in rows) / len(rows), 4) if rows else None for k in ("ndcg@10", "recall@10", "recall@100", "mrr")}
            times.sort()
            section["runs"][run] = {**means, "search_p50_ms": round(times[len(times) // 2], 1) if times else None}
    finally:
        assistant.close()
    out_dir = Path(out) if out else Path(__file__).resolve().parent / "results" / f"beir-{name}"
    write_report(out_dir, section)
    say(f"report: {out_dir / 'report.md'}")
    return section


def markdown(section: dict[str, Any]) -> str:
    lines = [MARK_START, f"## BEIR: {section['name']}", "",
             f"{section['documents']} documents ({section['chunks']} chunks), {section['queries']} queries with qrels "
             f"(`{section['dataset']}`). Ours: paper-level rankings from chunk retrieval; plain BM25: bm25s over whole documents.", "",
             "| run | nDCG@10 | recall@10 | recall@100 | MRR | search p50 ms |", "|---|---|---|---|---|---|"]
    for run, m in section["runs"].items():
        lines.append(f"| {run} | {m['ndcg@10']:.3f} | {m['recall@10']:.3f} | {m['recall@100']:.3f} | {m['mrr']:.3f} | {m['search_p50_ms']} |")
    return "\n".join(lines + ["", MARK_END])


def write_report(out_dir: Path, section: dict[str, Any]) -> None:
    """Add the section to results.json and report.md in `out_dir`, keeping what else they hold."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_file = out_dir / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results.setdefault("beir", {})[section["name"]] = section
    results_file.write_text(json.dumps(results, indent=1))
    report = out_dir / "report.md"
    text = report.read_text(encoding="utf-8") if report.exists() else "# Evaluation report\n"
    block = markdown(section)
    pattern = re.compile(re.escape(MARK_START) + r"\n## BEIR: " + re.escape(section["name"]) + r"\n.*?" + re.escape(MARK_END), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    report.write_text(text, encoding="utf-8")


def export_questions(question_files: Sequence[Path], out: Path, settings: Settings | None = None) -> Path:
    """Write the configured corpus and question files as a BEIR folder (answerable questions only).

    `python -m eval.beir export OUT eval/questions/test.jsonl ...`: the shipped corpus, scored the
    BEIR way, so its figures sit beside a public BEIR set's in the same report format.
    """
    from rag.corpus import load_corpus

    from .harness import load_questions

    base = settings or Settings()
    papers = load_corpus(base.corpus_paths, base.id_field, base.abstract_field).papers
    out = Path(out)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for paper in papers:
            f.write(json.dumps({"_id": paper.paper_id, "title": paper.title, "text": paper.abstract}, ensure_ascii=False) + "\n")
    known = {p.paper_id for p in papers}
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fq, (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for qf in question_files:
            for q in load_questions(Path(qf), known):
                if q.gold_ids:
                    fq.write(json.dumps({"_id": f"{Path(qf).stem}-{q.id}", "text": q.question}, ensure_ascii=False) + "\n")
                    fr.writelines(f"{Path(qf).stem}-{q.id}\t{gid}\t1\n" for gid in q.gold_ids)
    return out


if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "export":
    print(export_questions([Path(f) for f in sys.argv[3:]], Path(sys.argv[2])))


__all__ = ["run_beir", "export_questions", "load_beir", "ndcg", "recall", "mrr", "PlainBM25"]
