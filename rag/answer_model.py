"""The answerability model file: a standardized logistic regression over rag.answerability.FEATURES,
and an optional pair head that turns (question vector * best passage vector) into one of them.

Written by `python -m eval.train_answerability` (dev parts only), read here with plain numpy:
scikit-learn is needed only to train. A missing or damaged file raises ModelLoadError with the
rebuild command.

The pair head is a second, small logistic regression over the element-wise product of the question
vector and the top paper's best passage vector (both already computed by retrieval: no model call).
A cosine adds those 384 products with equal weights; the head learns which dimensions matter for
"this passage answers this question", and its log-odds is the feature `sem_pair` of the main model.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError

MODEL_FORMAT = 1
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "answerability.json"
# The decision for a follow-up about the earlier answer's papers ("which benchmarks did they use?"):
# the same features, weighed apart, since a question that leans on the chat names little of its own
# and a model fitted on self-contained questions refuses it (README "Follow-ups").
DEFAULT_FOLLOWUP_MODEL = DEFAULT_MODEL.with_name("answerability-followup.json")
REBUILD = "run `python -m eval.train_answerability` to rebuild it"
PAIR_FEATURE = "sem_pair"


@dataclass(frozen=True)
class PairHead:
    """Standardized logistic regression over the pair vector; `score` is its log-odds."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def score(self, pair: np.ndarray | None) -> float:
        if pair is None or len(pair) != len(self.coef):
            return 0.0  # no hit, or no passage vector: the neutral value the model was fitted around
        z = (np.asarray(pair, dtype=np.float64) - self.mean) / self.scale
        return float(np.einsum("i,i->", z, self.coef)) + self.intercept  # einsum: no BLAS threads (rag.answerability)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept}


# What a follow-up's resolution head reads (rag.conversation.Fit.features): is a short question with no
# reference word about the earlier answer's papers?
RESOLUTION_FEATURES = ("words", "function_word", "new_terms", "best_cosine", "their_cosine")


@dataclass(frozen=True)
class ResolutionHead:
    """Standardized logistic regression over RESOLUTION_FEATURES; a question stays on the earlier papers
    when its score reaches `threshold` (fitted by eval.train_followup on dev follow-ups and dev
    self-contained questions asked after a random earlier answer)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    def score(self, features: dict[str, float]) -> float:
        z = (np.array([features[n] for n in RESOLUTION_FEATURES], dtype=np.float64) - self.mean) / self.scale
        return float(np.einsum("i,i->", z, self.coef)) + self.intercept

    def stays(self, features: dict[str, float]) -> bool:
        return self.score(features) >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(RESOLUTION_FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "threshold": self.threshold}


@dataclass(frozen=True)
class Model:
    """Standardized logistic regression over its `features` (the main model: FEATURES; the follow-up
    model: FOLLOWUP_FEATURES), as written by eval.train_answerability."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    meta: dict[str, Any]
    pair_head: PairHead | None = None
    resolution: ResolutionHead | None = None  # the follow-up model's: which short questions are follow-ups

    def complete(self, features: dict[str, float], pair: np.ndarray | None) -> dict[str, float]:
        """The features with the pair head's score filled in (unchanged when the model has no head)."""
        if self.pair_head is None:
            return features
        return {**features, PAIR_FEATURE: self.pair_head.score(pair)}

    def probability(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(float(c) * (features.get(n, 0.0) - float(m)) / float(s)
                                 for n, m, s, c in zip(self.features, self.mean, self.scale, self.coef))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def model_to_dict(model: Model) -> dict[str, Any]:
    data = {"format": MODEL_FORMAT, "kind": "logistic_regression", "features": list(model.features),
            "mean": model.mean.tolist(), "scale": model.scale.tolist(), "coef": model.coef.tolist(),
            "intercept": model.intercept, "threshold": model.threshold, **model.meta}
    if model.pair_head is not None:
        data["pair_head"] = model.pair_head.to_dict()
    if model.resolution is not None:
        data["resolution"] = model.resolution.to_dict()
    return data


def _vectors(data: dict[str, Any], n: int | None) -> list[np.ndarray]:
    arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
    size = n if n is not None else arrays[0].shape[0] if arrays[0].ndim == 1 else -1
    if any(a.ndim != 1 or a.shape[0] != size for a in arrays) or not np.all(arrays[1] > 0) or not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("weights do not match the feature list")
    return arrays


def load_model(path: Path | str | None = None, default: Path = DEFAULT_MODEL) -> Model:
    """The model file at `path` (default: the shipped one, `default`); a missing or damaged file says how to rebuild it."""
    from .answerability import FOLLOWUP_FEATURES

    path = Path(path) if path else default
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"the answerability model {path} is missing: {REBUILD}") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"the answerability model {path} is damaged ({type(exc).__name__}): {REBUILD}") from None
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, this version reads {MODEL_FORMAT}")
        names = tuple(data["features"])
        unknown = set(names) - set(FOLLOWUP_FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        arrays = _vectors(data, len(names))
        head = None
        if data.get("pair_head") is not None:
            h = data["pair_head"]
            head = PairHead(*_vectors(h, None), float(h["intercept"]))
        resolution = None
        if data.get("resolution") is not None:
            r = data["resolution"]
            if tuple(r["features"]) != RESOLUTION_FEATURES:
                raise ValueError(f"resolution features {r['features']!r}, this version reads {list(RESOLUTION_FEATURES)}")
            resolution = ResolutionHead(*_vectors(r, len(RESOLUTION_FEATURES)), float(r["intercept"]), float(r["threshold"]))
        meta = {k: v for k, v in data.items()
                if k not in {"format", "kind", "features", "mean", "scale", "coef", "intercept", "threshold", "pair_head", "resolution"}}
        return Model(names, arrays[0], arrays[1], arrays[2], float(data["intercept"]), float(data["threshold"]), meta, head,
                     resolution)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"the answerability model {path} is damaged ({exc}): {REBUILD}") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


__all__ = ["DEFAULT_MODEL", "DEFAULT_FOLLOWUP_MODEL", "MODEL_FORMAT", "PAIR_FEATURE", "REBUILD", "RESOLUTION_FEATURES", "Model",
           "PairHead", "ResolutionHead", "file_sha256", "load_model",
           "model_to_dict"]
