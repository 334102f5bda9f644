"""Answer-quality evaluation over question files: `rag eval`, or from Python:

    from eval import run_eval
    results = run_eval(questions=["eval/questions/dev.jsonl"], config="eval/configs/default.toml", out="eval/results/dev")

See eval/runner.py (runs, resume), eval/metrics.py (every metric), eval/config.py (config files).
"""
from __future__ import annotations

from typing import Any


def run_eval(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Score each run of a config on question files and write the report (see eval.runner.run_eval)."""
    from .runner import run_eval as _run

    return _run(*args, **kwargs)


evaluate = run_eval

__all__ = ["run_eval", "evaluate"]
