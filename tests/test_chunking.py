"""Sentence splitting and chunking: exact spans, word-piece budgets, overlap, stable ids."""
from __future__ import annotations

import pytest

from rag.chunking import chunk_paper, split_sentences
from rag.corpus import load_corpus
from rag.embedding import OnnxInt8Embedder
from rag.settings import Settings
from rag.types import Paper

from .conftest import SEEDS


@pytest.fixture(scope="module")
def embedder():
    s = Settings()
    return OnnxInt8Embedder(s.embed_model, s.resolved_model_cache_dir)


def test_sentences_respect_abbreviations_initials_and_numbers():
    text = "Results improve by 3.5 points, e.g. on CIFAR-10 (Fig. 2). Smith et al. agree! Does J. Doe? Yes in 3D. Done"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Results improve by 3.5 points, e.g. on CIFAR-10 (Fig. 2).", "Smith et al. agree!", "Does J. Doe?", "Yes in 3D.", "Done"]


def test_sentence_spans_cover_every_abstract_exactly():
    for paper in load_corpus([SEEDS]).papers:
        spans = split_sentences(paper.abstract)
        assert spans[0][0] == 0 and spans[-1][1] == len(paper.abstract.rstrip())
        for (a, b), (c, _) in zip(spans, spans[1:]):
            assert paper.abstract[b:c].strip() == ""  # nothing between sentences but whitespace


def test_chunks_fit_budget_carry_title_and_exact_spans(embedder):
    corpus = load_corpus([SEEDS])
    budget = 200
    long_abstracts = 0
    for paper in corpus.papers:
        chunks = chunk_paper(paper, embedder.count_tokens, budget, overlap=1)
        text_chunks = [c for c in chunks if c.kind == "abstract"]
        if len(text_chunks) > 1:
            long_abstracts += 1
        for c in text_chunks:
            assert paper.abstract[c.span[0]:c.span[1]] == c.text
            assert c.embed_text.startswith(paper.title) and c.embed_text.endswith(c.text)
            assert embedder.count_tokens([c.embed_text])[0] <= budget + 1  # +1: title/passage joint
        assert text_chunks[0].span[0] == 0 and text_chunks[-1].span[1] == len(paper.abstract)
        for a, b in zip(text_chunks, text_chunks[1:]):
            # consecutive chunks share a sentence, unless one sentence filled the whole window
            assert b.span[0] < a.span[1] or len(split_sentences(a.text)) == 1
            assert a.span[0] < b.span[0]
    assert long_abstracts > 250  # more than half the abstracts exceed one window


def test_whole_text_is_reachable_for_abstracts_longer_than_the_model_window(embedder):
    corpus = load_corpus([SEEDS])
    over = [p for p in corpus.papers if embedder.count_tokens([p.title + ". " + p.abstract])[0] > 254]
    assert len(over) > 250
    for paper in over[:50]:
        chunks = [c for c in chunk_paper(paper, embedder.count_tokens, 200, 1) if c.kind == "abstract"]
        covered = set()
        for c in chunks:
            covered.update(range(*c.span))
        text_positions = {i for i, ch in enumerate(paper.abstract) if not ch.isspace()}
        assert text_positions <= covered


def test_metadata_chunk_and_content_addressed_ids(embedder):
    paper = Paper("p-1", "A Title", "First sentence here. Second sentence there.", authors=("A B",), award="Outstanding Paper")
    chunks = chunk_paper(paper, embedder.count_tokens, 200, 1)
    assert [c.kind for c in chunks] == ["abstract", "metadata"]
    assert chunks[1].text == "Authors: A B. Award: Outstanding Paper." and chunks[1].span is None
    again = chunk_paper(paper, embedder.count_tokens, 200, 1)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]
    changed = chunk_paper(Paper("p-1", "A Title", "First sentence here. Second sentence changed."), embedder.count_tokens, 200, 1)
    assert changed[0].chunk_id != chunks[0].chunk_id


def test_run_on_sentence_is_cut_at_word_boundaries(embedder):
    words = " ".join(f"word{i}" for i in range(400)) + "."
    paper = Paper("p", "T", words)
    chunks = [c for c in chunk_paper(paper, embedder.count_tokens, 64, 0) if c.kind == "abstract"]
    assert len(chunks) > 3
    assert " ".join(c.text for c in chunks) == words
    assert all(embedder.count_tokens([c.embed_text])[0] <= 66 for c in chunks)
