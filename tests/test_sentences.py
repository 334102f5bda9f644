"""Sentence and title vectors beside the index version (rag/sentences.py): built, reused, repaired, read.

Real parts: the small corpus, the real int8 MiniLM embedder, a real Chroma store on disk; and the
shipped corpus's index for the signal itself.
"""
from __future__ import annotations

import logging

import numpy as np

from rag import Assistant
from rag import sentences as S
from rag.chunking import split_sentences
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.index import build_index, open_index

from .conftest import SMALL, write_jsonl


class _Recording:
    """The real embedder, keeping every text it was asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []
        self.identity, self.dim, self.max_tokens, self.count_tokens = inner.identity, inner.dim, inner.max_tokens, inner.count_tokens

    def embed(self, texts, progress=None):
        self.texts += list(texts)
        return self.inner.embed(texts, progress=progress) if progress else self.inner.embed(texts)


def _build(settings, embedder=None):
    return build_index(settings, load_corpus(settings.corpus_paths), lambda: embedder or load_embedder(settings))


def _papers(settings):
    index = open_index(settings)
    try:
        return index.path, list(index.papers.values())
    finally:
        index.close()


def test_build_stores_a_vector_per_sentence_and_title(small_settings):
    report = _build(small_settings)
    assert report.timings["sentences"] > 0
    version, papers = _papers(small_settings)
    sv = S.load(version, papers)
    assert sv is not None
    assert isinstance(sv.vectors, np.memmap) and sv.vectors.dtype == np.float16, "mapped, not read into memory"
    embedder = load_embedder(small_settings)
    for p in papers:
        texts = [p.abstract[a:b] for a, b in split_sentences(p.abstract)]
        rows = sv.paper_rows[p.paper_id]
        assert len(rows) == len(texts) == 3
        stored = np.asarray(sv.vectors[rows], dtype=np.float32)
        # the same text's vector, up to float16 storage and the int8 model's batch-dependent activation scales
        assert np.einsum("ij,ij->i", stored, embedder.embed(texts)).min() > 0.98
        assert np.abs(np.linalg.norm(stored, axis=1) - 1).max() < 1e-2
        title = embedder.embed([p.title])[0]
        assert sv.title(p.paper_id, title) > 0.98
        assert sv.best_sentence(p.paper_id, embedder.embed([texts[1]])[0]) > 0.98


def test_the_build_reports_the_sentence_step_and_a_large_one_goes_in_blocks(small_settings, monkeypatch):
    monkeypatch.setattr(S, "BLOCK", 4)  # 9 sentences and 3 titles: three blocks
    seen = []
    report = build_index(small_settings, load_corpus(small_settings.corpus_paths), lambda: load_embedder(small_settings),
                         progress=lambda stage, done, total: seen.append((done, total)) if stage == "sentences" else None)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    version, papers = _papers(small_settings)
    monkeypatch.setattr(S, "BLOCK", 16384)
    one_call = S.vectors_for(version / "elsewhere", papers, load_embedder(small_settings).embed)
    stored = np.asarray(S.load(version, papers).vectors, dtype=np.float32)
    assert np.einsum("ij,ij->i", stored, np.asarray(one_call.vectors, dtype=np.float32)).min() > 0.98
    assert report.timings["sentences"] > 0


def test_update_embeds_only_new_sentences(small_settings, small_corpus):
    _build(small_settings)
    rows = [dict(r) for r in SMALL]
    rows[0]["abstract"] = "We propose a sparse attention pattern for long documents. A new second sentence appears here."
    write_jsonl(small_corpus, rows)
    recording = _Recording(load_embedder(small_settings))
    _build(small_settings, recording)
    unchanged = {s for r in SMALL[1:] for s in (r["abstract"][a:b] for a, b in split_sentences(r["abstract"]))}
    assert "A new second sentence appears here." in recording.texts
    assert not unchanged & set(recording.texts), "unchanged sentences are not embedded again"
    assert "We propose a sparse attention pattern for long documents." not in recording.texts, "a kept sentence of a changed paper too"
    version, papers = _papers(small_settings)
    assert S.load(version, papers) is not None


def test_an_index_without_them_still_answers_and_rag_index_adds_them(small_settings, caplog):
    _build(small_settings)
    version, papers = _papers(small_settings)
    (version / S.VECTORS).unlink()
    a = Assistant(small_settings)
    try:
        with caplog.at_level(logging.WARNING, logger="rag.sentences"):
            features = a.answerability_inputs("How are contrastive negatives kept cheaply?").features
        assert "run `rag index` to store them" in caplog.text
        assert features["sent_top_paper"] > 0.3 and features["title_top_paper"] > 0.2
    finally:
        a.close()
    report = _build(small_settings)
    assert report.unchanged and report.path == version, "added in place: no new version, no chunk embedded"
    assert S.load(version, papers) is not None

    def no_model():
        raise AssertionError("nothing to do now: the embedder must not load")

    assert build_index(small_settings, load_corpus(small_settings.corpus_paths), no_model).unchanged


def test_a_damaged_or_stale_file_is_recomputed_not_trusted(small_settings, caplog):
    _build(small_settings)
    version, papers = _papers(small_settings)
    good = np.array(S.load(version, papers).vectors)
    (version / S.VECTORS).write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING, logger="rag.sentences"):
        assert S.load(version, papers) is None
    assert "unreadable" in caplog.text
    embedder = load_embedder(small_settings)
    S.write(version, papers[:2], embedder.embed, embedder.dim)  # another collection's files
    assert S.load(version, papers) is None, "vectors of other papers are stale"
    again = S.vectors_for(version, papers, embedder.embed)
    np.testing.assert_array_equal(np.asarray(again.vectors), good)
    _build(small_settings)  # `rag index` writes them again
    np.testing.assert_array_equal(np.asarray(S.load(version, papers).vectors), good)
    np.save(version / S.KEYS, np.load(version / S.KEYS)[:-1])  # a crash between the two files' replacements
    with caplog.at_level(logging.WARNING, logger="rag.sentences"):
        assert S.load(version, papers) is None
    assert "do not match their keys" in caplog.text


def test_a_question_that_is_one_sentence_finds_it(assistant):
    paper = next(p for p in assistant.papers().values() if p.title == "Few-shot Backdoor Attacks via Neural Tangent Kernels")
    a, b = split_sentences(paper.abstract)[1]
    features = assistant.answerability_inputs(paper.abstract[a:b]).features
    assert features["sent_top_paper"] > 0.97, "the sentence itself is in the top paper"
    assert features["sent_top_paper"] > features["sem_top_paper"], "sharper than the passage that holds it"
    assert 0.0 < features["title_top_paper"] < features["sent_top_paper"]
