"""Choose fusion weights and the abstention threshold on the DEV split only.

    python -m eval.tune [--questions eval/questions/dev.jsonl]

Prints retrieval figures for a grid of fusion settings, then the evidence threshold that maximizes
abstention F1 with at most 5% wrong abstentions on answerable questions. The test split is never
read here: its figures are reported by `rag eval`, not used for choices.
"""
from __future__ import annotations

import argparse
import itertools
import logging

from rag import Assistant, load_settings

from . import metrics as M
from .harness import DEFAULT_FILES, load_questions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", default=str(DEFAULT_FILES["dev"]))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    assistant = Assistant(load_settings(progress=False))
    questions = load_questions(args.questions, assistant.loaded_index.papers)
    answerable = [q for q in questions if not q.unanswerable]
    print(f"{len(questions)} dev questions, {len(answerable)} answerable")
    print("mode   fusion   rrf_k  w_bm25  w_dense  hit@1  hit@5  mrr")
    grid = [("bm25", "rrf", 60, 1.0, 1.0), ("dense", "rrf", 60, 1.0, 1.0)] + [
        ("hybrid", "rrf", k, wb, 1.0) for k, wb in itertools.product((2, 5, 10, 20, 60), (1.0, 1.5, 2.0, 3.0))] + [
        ("hybrid", "relative", 60, wb, 1.0) for wb in (0.5, 0.75, 1.0, 1.5, 2.0)]
    for mode, fusion, k, wb, wd in grid:
        ranked = [[h.paper_id for h in assistant.search(q.question, k=10, retriever=mode, fusion=fusion, rrf_k=k, bm25_weight=wb, dense_weight=wd)]
                  for q in answerable]
        gold = [set(q.gold_ids) for q in answerable]
        h1 = sum(M.hit_at_k(r, g, 1) for r, g in zip(ranked, gold)) / len(gold)
        h5 = sum(M.hit_at_k(r, g, 5) for r, g in zip(ranked, gold)) / len(gold)
        mrr = sum(M.reciprocal_rank(r, g) for r, g in zip(ranked, gold)) / len(gold)
        print(f"{mode:6} {fusion:8} {k:5} {wb:7} {wd:8}  {h1:.3f}  {h5:.3f}  {mrr:.3f}", flush=True)

    # The lexical evidence alone (no answerability model): what the generators' own gate would see.
    answers = [assistant.ask(q.question, abstain_threshold=-1.0, min_confidence=0.0) for q in questions]
    unans = [q.unanswerable for q in questions]
    best = None
    for t in sorted({round(a.evidence, 3) for a in answers}):
        pred = [a.evidence < t for a in answers]
        ab = M.abstention(pred, unans)
        if ab["false_abstain_rate"] <= 0.05 and (best is None or ab["f1"] > best[1]["f1"]):
            best = (t, ab)
    print("evidence of unanswerable:", sorted(round(a.evidence, 3) for a, u in zip(answers, unans) if u))
    print("evidence of answerable (lowest 15):", sorted(round(a.evidence, 3) for a, u in zip(answers, unans) if not u)[:15])
    print("best threshold (false abstain <= 5%):", best)


if __name__ == "__main__":
    main()
