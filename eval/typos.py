"""Questions with typos: retrieval and the answerability decision when content words are misspelt.

    python -m eval.typos                  # test parts of every question set; writes eval/results/typos/
    python -m eval.typos --split dev      # the dev parts (for work on rag.spelling)

Every question of the chosen part (the shipped split and every style file; metadata questions left
out) gets typos in its content words: the longest lowercase word of six letters or more that is not
a question word, and a second one for questions of twelve words or more, each with one edit drawn
with a fixed seed (a letter left out, two neighbours swapped, a letter doubled: the common slips).
Each question is asked three times through the public `Assistant.ask`: as written, with the typos
and `correct_typos` on (the default), and with the typos and it off. Scored: hit@1 and wrong
refusals of the answerable questions, refusals of the unanswerable ones (a correction must not make
an absent topic look present), and how often the correction restored the question exactly.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from rag import Assistant
from rag.coverage import QUESTION_WORDS

from . import part_report
from .harness import EVAL_DIR
from .train_answerability import load_items

OUT_DIR = EVAL_DIR / "results" / "typos"
SEED = 0
_CANDIDATE = re.compile(r"(?<![\w\-'])[a-z]{6,}(?![\w\-'])")
RUNS = {"as written": (False, True), "typos, corrected": (True, True), "typos, not corrected": (True, False)}


def misspell(question: str, rng: random.Random) -> str:
    """`question` with one edit in its longest content word (two words when it is long)."""
    words = [m for m in _CANDIDATE.finditer(question) if m.group(0) not in QUESTION_WORDS]
    n = 2 if len(question.split()) >= 12 else 1
    chosen = sorted(sorted(words, key=lambda m: -len(m.group(0)))[:n], key=lambda m: -m.start())
    for m in chosen:  # right to left, so earlier offsets hold
        w = m.group(0)
        i = rng.randrange(1, len(w) - 1)  # an inner letter: first and last stay
        kind = rng.choice(("drop", "swap", "double"))
        typo = w[:i] + w[i + 1:] if kind == "drop" else (w[:i] + w[i + 1] + w[i] + w[i + 2:] if kind == "swap" and w[i] != w[i + 1]
                                                          else w[:i] + w[i] + w[i:])
        question = question[:m.start()] + typo + question[m.end():]
    return question


def run(split: str, out_dir: Path, say=print) -> dict[str, Any]:
    rng = random.Random(SEED)
    items = [q for q in load_items() if q["split"] == split and q["type"] != "metadata"]
    typo = {q["id"]: misspell(q["question"], rng) for q in items}
    items = [q for q in items if typo[q["id"]] != q["question"]]  # a question with no long content word gets none
    assistant = Assistant()
    report: dict[str, Any] = {"split": split, "questions": len(items), "seed": SEED, "runs": {}}
    try:
        queries: dict[str, list[str | None]] = {}
        for name, (typos, correct) in RUNS.items():
            rows = []
            for q in items:
                ans = assistant.ask(typo[q["id"]] if typos else q["question"], correct_typos=correct)
                rows.append({"id": q["id"], "unanswerable": q["type"] == "unanswerable", "abstained": ans.abstained,
                             "hit1": bool(ans.hits) and ans.hits[0].title in q.get("gold_titles", [])})
                queries.setdefault(name, []).append(ans.query)
            report["runs"][name] = summary(rows)
            say(f"{name}: {report['runs'][name]}")
        # Answer.query: what was retrieved with; restored when the corrected typos retrieve with the question as written
        same = [a == b for a, b in zip(queries["as written"], queries["typos, corrected"])]
        report["restored"] = sum(same) / len(same) if same else None
    finally:
        assistant.close()
    report["examples"] = [{"question": q["question"], "typo": typo[q["id"]]} for q in items[:8]]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"report-{split}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out_dir / f"report-{split}.md").write_text(markdown(report), encoding="utf-8")
    return report


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if not r["unanswerable"]]
    una = [r for r in rows if r["unanswerable"]]
    return {"answerable": len(ans), "hit@1": sum(r["hit1"] for r in ans) / len(ans) if ans else None,
            "wrong_refusals": sum(r["abstained"] for r in ans) / len(ans) if ans else None,
            "unanswerable": len(una), "refused": sum(r["abstained"] for r in una) / len(una) if una else None}


def markdown(report: dict[str, Any]) -> str:
    pct = part_report.pct
    lines = [f"# Questions with typos ({report['split']} parts of every question set, {report['questions']} questions, seed {report['seed']})",
             "", f"The correction restored the retrieval text of {pct(report['restored'])} of the misspelt questions exactly.", "",
             "| run | answerable: hit@1 | answerable: wrongly refused | unanswerable: refused |", "|---|---|---|---|"]
    for name, r in report["runs"].items():
        lines.append(f"| {name} | {r['hit@1']:.3f} ({r['answerable']}) | {pct(r['wrong_refusals'])} | {pct(r['refused'])} ({r['unanswerable']}) |")
    lines += ["", "Examples:", ""] + [f"- {e['typo']}" for e in report["examples"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    part_report.main(__doc__, run, markdown, OUT_DIR, argv)


if __name__ == "__main__":
    main()
