"""The command line shared by the reports over one part of the question sets (eval.collection_shift,
eval.typos): `--split dev|test`, `--out DIR`; the report goes to DIR and its table to stdout."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Callable


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def main(doc: str, run: Callable[..., dict[str, Any]], markdown: Callable[[dict[str, Any]], str], out_dir: Path,
         argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="test", help="which part of the question sets to ask")
    parser.add_argument("--out", type=Path, default=out_dir, help="folder for report-<split>.md/.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args.split, args.out, say=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown(report))
