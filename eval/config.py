"""Eval configurations: which runs to score side by side, read from TOML or JSON and checked up front.

    # eval/configs/default.toml
    bootstrap = 1000            # resamples for the confidence intervals (optional)
    seed = 0                    # bootstrap seed (optional)
    judge_model = "/models/x"   # optional LLM judge: a local folder or a cached hub name (no download)

    [[runs]]
    name = "hybrid"             # shown in the report; letters, digits, - _ . only
    retriever = "hybrid"        # any rag.Settings field (top_k, generator, llm_model, chunk_tokens, ...)

    [[runs]]
    name = "llama-index"
    baseline = "llamaindex"     # the plain llama-index VectorStoreIndex baseline (retrieval only)

JSON takes the same keys: {"bootstrap": 1000, "runs": [{"name": ..., ...}]}. Every key and value is
validated (Settings fields through Settings itself) before any question is asked, and an error names
the file, the run and the key. Settings that shape the index (chunk_tokens, embed_model, ...) give
the run its own index folder, keyed by those values, so the default index is never rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag import Settings
from rag.assistant import INDEX_SHAPING
from rag.errors import RagError

TOP_KEYS = {"runs", "bootstrap", "seed", "judge_model", "description"}
RUN_KEYS = {"name", "baseline", "description"}
BASELINES = ("llamaindex",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class EvalError(RagError):
    """A question file, an eval config or an eval option is invalid."""


@dataclass
class RunSpec:
    """One configuration to score: Settings overrides, or a baseline."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    baseline: str | None = None
    settings: Settings | None = None  # the base settings with the overrides applied (validated)

    @property
    def shaping(self) -> dict[str, Any]:
        """The overrides that change what the index holds."""
        return {k: v for k, v in self.overrides.items() if k in INDEX_SHAPING}

    @property
    def per_call(self) -> dict[str, Any]:
        """The overrides passed with each question (everything but the index-shaping ones)."""
        return {k: v for k, v in self.overrides.items() if k not in INDEX_SHAPING}

    def describe(self) -> str:
        if self.baseline:
            return f"baseline {self.baseline} (retrieval only)"
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "configured settings"


@dataclass
class EvalConfig:
    runs: list[RunSpec]
    bootstrap: int = 1000
    seed: int = 0
    judge_model: str | None = None
    source: str = "(settings)"
    raw: dict[str, Any] = field(default_factory=dict)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot read config {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise EvalError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} ({exc})") from None
    if not isinstance(data, dict):
        raise EvalError(f"{path}: expected a table of options with a list of runs")
    return data


def parse_config(data: dict[str, Any] | str | Path | None, base: Settings, judge_model: str | None = None) -> EvalConfig:
    """A validated EvalConfig from a file, a dict, or None (one run of `base` as configured)."""
    if data is None:
        return EvalConfig([RunSpec("configured", {}, settings=base)], judge_model=judge_model)
    source = "config"
    if isinstance(data, (str, Path)):
        source = str(data)
        data = _read(Path(data))
    where = source
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise EvalError(f"{where}: unknown option(s) {', '.join(unknown)}; the top level takes {', '.join(sorted(TOP_KEYS))}")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise EvalError(f"{where}: needs at least one run: [[runs]] tables in TOML, a \"runs\" list in JSON")
    for key in ("bootstrap", "seed"):
        if key in data and (not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0):
            raise EvalError(f"{where}: {key} must be a whole number >= 0 (got {data[key]!r})")
    specs: list[RunSpec] = []
    for i, run in enumerate(runs, 1):
        name = run.get("name", f"run{i}")
        label = f"{where}: run {i} ({name})"
        if not isinstance(name, str) or not _NAME.match(name):
            raise EvalError(f"{label}: name must be 1-64 letters, digits, '-', '_' or '.'")
        if name in {s.name for s in specs}:
            raise EvalError(f"{label}: duplicate run name")
        overrides = {k: v for k, v in run.items() if k not in RUN_KEYS}
        unknown = sorted(set(overrides) - set(Settings.model_fields))
        if unknown:
            raise EvalError(f"{label}: unknown key(s) {', '.join(unknown)}; a run takes {', '.join(sorted(RUN_KEYS))} "
                            "and rag.Settings fields (see `rag settings`)")
        baseline = run.get("baseline")
        if baseline is not None:
            if baseline not in BASELINES:
                raise EvalError(f"{label}: unknown baseline {baseline!r}; use one of {', '.join(BASELINES)}")
            if overrides:
                raise EvalError(f"{label}: the {baseline} baseline takes no settings (got {', '.join(sorted(overrides))})")
        try:
            settings = base.with_options(**overrides)
        except RagError as exc:
            raise EvalError(f"{label}: {exc}") from None
        specs.append(RunSpec(name, overrides, baseline, settings))
    judge = judge_model or data.get("judge_model")
    if judge is not None and not isinstance(judge, str):
        raise EvalError(f"{where}: judge_model must be a folder or model name")
    return EvalConfig(specs, data.get("bootstrap", 1000), data.get("seed", 0), judge, source, data)


def index_dir_for(spec: RunSpec, base: Settings) -> Path | None:
    """A run that reshapes the index gets its own folder, keyed by the shaping values; None: the base index."""
    shaping = {k: v for k, v in spec.shaping.items() if k != "index_dir"}
    if not shaping or "index_dir" in spec.overrides:
        return None
    key = hashlib.sha1(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return base.cache_dir / "eval-index" / key


__all__ = ["EvalConfig", "EvalError", "RunSpec", "parse_config", "index_dir_for"]
