"""Index on disk: round trip, incremental updates, atomic swaps, damaged and mismatched indexes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rag import Assistant
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.index import build_index, index_home, open_index

from .conftest import SMALL, write_jsonl


def _build(settings, **kw):
    return build_index(settings, load_corpus(settings.corpus_paths), lambda: load_embedder(settings), **kw)


def _vectors(settings) -> dict[str, np.ndarray]:
    index = open_index(settings)
    try:
        got = index.collection.get(include=["embeddings"])
        return dict(zip(got["ids"], np.asarray(got["embeddings"])))
    finally:
        index.close()


def test_build_close_reopen_same_hits(small_settings):
    report = _build(small_settings)
    assert report.rebuilt and report.papers == 3 and report.added == report.chunks
    a = Assistant(small_settings)
    first = [(h.paper_id, round(h.score, 6)) for h in a.search("cheaper contrastive learning with a queue", k=3)]
    a.close()
    b = Assistant(small_settings)
    assert [(h.paper_id, round(h.score, 6)) for h in b.search("cheaper contrastive learning with a queue", k=3)] == first
    assert first[0][0] == next(h.paper_id for h in b.search("Contrastive Pretraining on a Budget"))
    index = b.loaded_index
    assert index.collection.count() == len(index.chunks) == report.chunks
    assert "|onnx-int8|export-v" in index.manifest["embedder"] and index.manifest["dim"] == 384
    b.close()


def test_build_report_times_each_stage(small_settings):
    report = _build(small_settings)
    assert set(report.timings) == {"chunk", "embed", "vectors", "records", "bm25", "fsync"}
    assert all(v >= 0 for v in report.timings.values()) and report.timings["embed"] > 0
    assert sum(report.timings.values()) <= report.seconds  # stages are parts of the build, never more
    assert _build(small_settings).timings == {}  # nothing to do: no stage ran


def test_unchanged_corpus_does_not_load_the_model(small_settings):
    _build(small_settings)

    def no_model():
        raise AssertionError("the embedder must not be loaded when nothing changed")

    report = build_index(small_settings, load_corpus(small_settings.corpus_paths), no_model)
    assert report.unchanged and report.added == 0 and report.seconds < 1.0


def test_incremental_update_embeds_only_new_and_changed_chunks(small_settings, small_corpus):
    _build(small_settings)
    before = _vectors(small_settings)
    rows = [dict(r) for r in SMALL]
    rows[0]["abstract"] = "A completely rewritten abstract about sparse attention. It has two sentences."
    del rows[2]
    rows.append({"title": "Diffusion Models for Audio", "abstract": "We generate audio with diffusion. It sounds good."})
    write_jsonl(small_corpus, rows)
    report = _build(small_settings)
    after = _vectors(small_settings)
    kept = set(before) & set(after)
    assert report.added == len(set(after) - set(before)) > 0
    assert report.removed == len(set(before) - set(after)) > 0
    assert kept, "the unchanged paper keeps its chunks"
    for cid in kept:  # unchanged chunks were not re-embedded or moved
        np.testing.assert_array_equal(before[cid], after[cid])
    a = Assistant(small_settings)
    assert a.search("audio generation with diffusion", k=1)[0].title == "Diffusion Models for Audio"
    assert "Graph Networks for Molecules" not in {h.title for h in a.search("molecules message passing", k=5)}
    a.close()


class _FailingEmbedder:
    """The real embedder that dies after the first batch, like a killed index run."""

    def __init__(self, inner):
        self.inner = inner
        self.identity, self.dim, self.max_tokens = inner.identity, inner.dim, inner.max_tokens
        self.count_tokens = inner.count_tokens

    def embed(self, texts, progress=None):
        self.inner.embed(texts[:1])
        raise KeyboardInterrupt("killed mid-run")


def test_interrupted_update_leaves_previous_index_usable(small_settings, small_corpus):
    _build(small_settings)
    live_before = (index_home(small_settings) / "CURRENT").read_text()
    write_jsonl(small_corpus, SMALL + [{"title": "New Paper", "abstract": "Something new entirely. Really."}])
    with pytest.raises(KeyboardInterrupt):
        build_index(small_settings, load_corpus(small_settings.corpus_paths), lambda: _FailingEmbedder(load_embedder(small_settings)))
    assert (index_home(small_settings) / "CURRENT").read_text() == live_before
    versions = [p.name for p in index_home(small_settings).iterdir() if p.name.startswith("v-")]
    assert versions == [live_before], "the half-written version is removed"
    index = open_index(small_settings)
    assert len(index.papers) == 3
    index.close()
    assert _build(small_settings).added > 0  # the next run completes the update


def test_damaged_index_says_to_rebuild(small_settings):
    report = _build(small_settings)
    (report.path / "chunks.jsonl").write_text('{"broken": ')
    with pytest.raises(IndexCorruptError, match=r"rag index --rebuild"):
        open_index(small_settings)
    a = Assistant(small_settings.with_options(auto_index=False))
    with pytest.raises(IndexCorruptError):
        a.ask("contrastive learning")
    rebuilt = _build(small_settings, rebuild=True)
    assert rebuilt.rebuilt and open_index(small_settings).collection.count() == rebuilt.chunks


def test_missing_vector_store_files_are_reported(small_settings):
    report = _build(small_settings)
    for f in (report.path / "chroma").glob("*.sqlite3"):
        f.write_bytes(b"not a database")
    with pytest.raises(IndexCorruptError, match="damaged"):
        open_index(small_settings)


def test_index_built_with_another_embedder_is_refused(small_settings):
    report = _build(small_settings)
    manifest = json.loads((report.path / "manifest.json").read_text())
    manifest["embedder"] = "some/other-model|torch"
    (report.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="some/other-model.*rag index --rebuild"):
        open_index(small_settings)
    with pytest.raises(IndexMismatchError):
        _build(small_settings)


def test_each_embedder_gets_its_own_collection(small_settings):
    _build(small_settings)
    other = small_settings.with_options(embed_backend="torch", auto_index=False)
    assert index_home(other) != index_home(small_settings)
    with pytest.raises(IndexMissingError, match="rag index"):
        open_index(other)


def test_fresh_assistant_builds_missing_index_itself(small_settings):
    a = Assistant(small_settings)
    answer = a.ask("How much cheaper is contrastive training with the memory queue?")
    assert a.last_build is not None and a.last_build.rebuilt
    assert not answer.abstained and "3x cheaper" in answer.text
    a.close()
