"""Answerability on collections the model was not fitted on: parts of the shipped corpus, indexed alone.

    python -m eval.collection_shift                 # writes eval/results/collection-shift/
    python -m eval.collection_shift --split dev     # the same on the dev parts (for feature work)

The answerability model is fitted on questions over the whole 525-paper collection. A user's own
collection differs in size and topics, and its rarity weights and retrieval scores move with it. This
run indexes sub-collections of the shipped pages (the two ICLR session pages alone, 143 papers; the
three paper-listing pages alone, 383 papers), asks every question of the chosen part of the question
sets (the shipped split and every style file) through the public `Assistant.ask`, and scores:

- gold inside: answerable questions whose gold papers are all in the sub-collection (answer them);
- paper missing: factoid and which-paper questions whose gold paper is not in it (refuse them: the
  paper they are about is not in this collection; multi-paper questions with some gold inside are
  left out, as a partial list can still be right);
- written unanswerable: the sets' unanswerable questions, unanswerable in any part of the corpus.
Abstention F1 pools the last two as the questions to refuse. Metadata questions are left out (the
router answers them from the listings, not the decision).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rag import Assistant, Settings

from . import metrics as M
from . import part_report
from .harness import EVAL_DIR
from .train_answerability import load_items

SEEDS = EVAL_DIR.parent / "data" / "seeds"
SUBSETS = {"ICLR session pages (000, 001)": ("000_", "001_"), "paper-listing pages (002-004)": ("002_", "003_", "004_")}
OUT_DIR = EVAL_DIR / "results" / "collection-shift"


def partition(items: list[dict[str, Any]], titles: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The questions of one sub-collection (titles: its papers), in the three groups of the module doc."""
    groups: dict[str, list[dict[str, Any]]] = {"gold inside": [], "paper missing": [], "written unanswerable": []}
    for q in items:
        if q["type"] == "metadata":
            continue
        if q["type"] == "unanswerable":
            groups["written unanswerable"].append(q)
        elif all(t in titles for t in q["gold_titles"]):
            groups["gold inside"].append(q)
        elif q["type"] != "multi_paper" and not any(t in titles for t in q["gold_titles"]):
            groups["paper missing"].append(q)
    return groups


def score(groups: dict[str, list[dict[str, Any]]], refused: dict[str, bool]) -> dict[str, Any]:
    """Refusal rate per group and abstention F1 (refuse: paper missing and written unanswerable)."""
    out: dict[str, Any] = {g: {"n": len(qs), "refused": sum(refused[q["id"]] for q in qs) / len(qs) if qs else None}
                           for g, qs in groups.items()}
    pooled = [q for g in groups.values() for q in g]
    to_refuse = {q["id"] for g in ("paper missing", "written unanswerable") for q in groups[g]}
    ab = M.abstention([refused[q["id"]] for q in pooled], [q["id"] in to_refuse for q in pooled])
    out["abstain_f1"], out["wrong_refusals"] = ab["f1"], ab["false_abstain_rate"]
    return out


def run(split: str, out_dir: Path, say=print) -> dict[str, Any]:
    items = [q for q in load_items() if q["split"] == split]
    report: dict[str, Any] = {"split": split, "subsets": {}}
    for name, prefixes in SUBSETS.items():
        pages = sorted(p for p in SEEDS.glob("*.txt") if p.name.startswith(prefixes))
        with tempfile.TemporaryDirectory() as tmp:
            assistant = Assistant(Settings(corpus=pages, index_dir=Path(tmp) / "index", progress=False))
            try:
                assistant.index()
                titles = {p.title for p in assistant.papers().values()}
                groups = partition(items, titles)
                refused = {q["id"]: assistant.ask(q["question"]).abstained for g in groups.values() for q in g}
            finally:
                assistant.close()
        report["subsets"][name] = {"papers": len(titles), **score(groups, refused)}
        say(f"{name}: {report['subsets'][name]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"report-{split}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out_dir / f"report-{split}.md").write_text(markdown(report), encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    pct = part_report.pct
    lines = [f"# Answerability on sub-collections ({report['split']} parts of every question set)", "",
             "| collection | papers | gold inside: wrongly refused | paper missing: refused | written unanswerable: refused | abstain F1 |",
             "|---|---|---|---|---|---|"]
    for name, s in report["subsets"].items():
        lines.append(f"| {name} | {s['papers']} | {pct(s['gold inside']['refused'])} of {s['gold inside']['n']} | "
                     f"{pct(s['paper missing']['refused'])} of {s['paper missing']['n']} | "
                     f"{pct(s['written unanswerable']['refused'])} of {s['written unanswerable']['n']} | {s['abstain_f1']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    part_report.main(__doc__, run, markdown, OUT_DIR, argv)


if __name__ == "__main__":
    main()
