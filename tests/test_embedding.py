"""Embedder resolution and the int8 ONNX backend checked against sentence-transformers (fp32)."""
from __future__ import annotations

import numpy as np
import pytest

from rag.corpus import load_corpus
from rag.embedding import OnnxInt8Embedder, TorchEmbedder, resolve_model
from rag.errors import ModelLoadError
from rag.settings import Settings

from .conftest import SEEDS


def test_bundled_model_resolves_offline():
    path = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
    assert resolve_model("all-MiniLM-L6-v2") == path
    assert resolve_model(str(path)) == path


def test_bad_model_names_raise_actionable_errors(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not load embedding model 'nobody/no-such-model'"):
        TorchEmbedder("nobody/no-such-model", device="cpu")
    with pytest.raises(ModelLoadError, match="needs a local model folder"):
        OnnxInt8Embedder("nobody/no-such-model", tmp_path)


def test_int8_onnx_vectors_agree_with_fp32_sentence_transformers():
    settings = Settings()
    papers = load_corpus([SEEDS]).papers[::10]
    texts = [f"{p.title}. {p.abstract}" for p in papers] + ["a short query about graph neural networks"]
    fp32 = TorchEmbedder(settings.embed_model, device="cpu", batch_size=16).embed(texts)
    int8 = OnnxInt8Embedder(settings.embed_model, settings.resolved_model_cache_dir).embed(texts)
    assert fp32.shape == int8.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, rtol=1e-5)
    cos = (fp32 * int8).sum(axis=1)
    assert cos.mean() > 0.985 and cos.min() > 0.96, (cos.mean(), cos.min())
    # the same nearest neighbour for most texts, under either backend
    same = ((fp32 @ fp32.T).argsort(1)[:, -2] == (int8 @ int8.T).argsort(1)[:, -2]).mean()
    assert same > 0.8
