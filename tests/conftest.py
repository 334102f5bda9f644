"""Shared fixtures: real corpus, real MiniLM (int8 ONNX and torch), real Chroma on disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Assistant, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "data" / "seeds"


@pytest.fixture(scope="session")
def full_settings(tmp_path_factory) -> Settings:
    """Settings whose index (the whole shipped corpus) is built once per test run."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("index"), progress=False)
    Assistant(settings).index()
    return settings


@pytest.fixture(scope="session")
def assistant(full_settings) -> Assistant:
    a = Assistant(full_settings)
    yield a
    a.close()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


SMALL = [
    {"title": "Sparse Attention for Long Documents", "abstract": "We propose a sparse attention pattern for long documents. It scales linearly with length. On arXiv summarization it improves ROUGE by 2 points.", "authors": ["Ada Lovelace", "Alan Turing"]},
    {"title": "Contrastive Pretraining on a Budget", "abstract": "Contrastive learning is expensive because it needs large batches. We cut the cost with a memory queue of negatives. Training is 3x cheaper at equal accuracy.", "authors": "Grace Hopper; Edsger Dijkstra"},
    {"title": "Graph Networks for Molecules", "abstract": "We study message passing networks for molecular property prediction. Our model reaches state of the art on QM9. Code is released.", "authors": []},
]


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    return write_jsonl(tmp_path / "small.jsonl", SMALL)


@pytest.fixture
def small_settings(tmp_path, small_corpus) -> Settings:
    return Settings(corpus=[small_corpus], index_dir=tmp_path / "index", progress=False)
