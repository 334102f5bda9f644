"""`python bench/answerability.py [--baseline CHECKOUT]`: warm ask() latency with the answerability decision.

Asks every dev question of the shipped split and the style sets (extractive generator, default
settings) once after a warm-up, in a fresh process per checkout, after waiting for the CPU to be
quiet; prints p50/p95 of ask() and of its parts (retrieve, decide, generate) from Answer.timings.
With --baseline, the same questions through another checkout's code (e.g. the commit before
issue 10) on the same index, for the ratio beside. Goal (issue 10): warm ask() p50 <= 25 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
GOAL_P50_MS = 25.0

CHILD = r"""
import json, sys, time
from pathlib import Path
from rag import Assistant, load_settings
files = [Path(p) for p in sys.argv[1:]]
qs = [json.loads(l) for f in files for l in f.read_text().splitlines() if l.strip()]
qs = [q["question"] for q in qs if q.get("split", "dev") == "dev"]
a = Assistant(load_settings(progress=False))
for q in qs[:5]:
    a.ask(q)
total, parts = [], {}
for q in qs:
    t = time.perf_counter()
    ans = a.ask(q)
    total.append((time.perf_counter() - t) * 1000)
    for k, v in ans.timings.items():
        parts.setdefault(k, []).append(v)
print(json.dumps({"n": len(qs), "total": total, "parts": parts}))
"""


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, round(q / 100 * len(xs)) - 1))]


def measure(checkout: Path, files: list[Path]) -> dict:
    sys.path.insert(0, str(BENCH_DIR))
    from run import wait_for_quiet

    wait_for_quiet()
    env = {**os.environ, "PYTHONPATH": str(checkout), "RAG_DATA_DIR": os.environ.get("RAG_DATA_DIR", str(PROJECT_DIR / "data"))}
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, files)], cwd=checkout, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{checkout}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed'}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to time on the same index and questions")
    args = parser.parse_args()
    q = PROJECT_DIR / "eval" / "questions"
    files = [q / "dev.jsonl", *sorted((q / "styles").glob("*.jsonl"))]
    rows = [("this checkout", measure(PROJECT_DIR, files))]
    if args.baseline:
        rows.append((f"baseline {args.baseline}", measure(args.baseline.resolve(), files)))
    print("| code | questions | ask p50 ms | ask p95 ms | retrieve p50 | decide p50 | generate p50 |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        p = r["parts"]
        med = lambda k: f"{statistics.median(p[k]):.1f}" if k in p else "–"  # noqa: E731
        print(f"| {name} | {r['n']} | {statistics.median(r['total']):.1f} | {pct(r['total'], 95):.1f} | {med('retrieve_ms')} | "
              f"{med('decide_ms')} | {med('generate_ms')} |")
    if len(rows) == 2:
        print(f"\nratio (this / baseline) of ask p50: {statistics.median(rows[0][1]['total']) / statistics.median(rows[1][1]['total']):.2f}")
    p50 = statistics.median(rows[0][1]["total"])
    print(f"goal: warm ask p50 <= {GOAL_P50_MS:.0f} ms: {'met' if p50 <= GOAL_P50_MS else 'NOT met'} ({p50:.1f} ms)")


if __name__ == "__main__":
    main()
