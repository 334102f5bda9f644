"""Dense, BM25 and hybrid retrieval on the real index; fusion and filters against references."""
from __future__ import annotations

import bm25s
import numpy as np
import pytest

from rag.errors import QuestionError, SettingsError
from rag.index import bm25_query_tokens
from rag.retrieve import Filters, rrf


def test_rrf_matches_hand_computed_case():
    fused = rrf([(["a", "b", "c"], 1.0), (["c", "a"], 0.5)], k=10)
    assert fused == pytest.approx({"a": 1 / 11 + 0.5 / 12, "b": 1 / 12, "c": 1 / 13 + 0.5 / 11})
    assert max(fused, key=fused.get) == "a"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_retriever_finds_the_paper_from_a_paraphrase(assistant, mode):
    hits = assistant.search("poisoning a training set with a backdoor using neural tangent kernels", k=5, retriever=mode)
    assert hits[0].title == "Few-shot Backdoor Attacks via Neural Tangent Kernels"
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert len({h.paper_id for h in hits}) == 5, "papers, not chunks"
    top = hits[0]
    assert top.passages and all(p.paper_id == top.paper_id for p in top.passages)
    for p in top.passages:
        if p.span:
            assert top.paper.abstract[p.span[0]:p.span[1]] == p.text


def test_bm25_scores_match_bm25s_called_directly(assistant):
    index = assistant.loaded_index
    query = "orthographic attacks pixels language model"
    ours = assistant.retriever.lexical(query, 20, None)
    corpus_tokens = bm25s.tokenize([c.embed_text for c in index.chunks], stopwords="en", stemmer=__import__("Stemmer").Stemmer("english"), show_progress=False)
    reference = bm25s.BM25()
    reference.index(corpus_tokens, show_progress=False)
    q = bm25s.tokenize([query], stopwords="en", stemmer=__import__("Stemmer").Stemmer("english"), show_progress=False)
    docs, scores = reference.retrieve(q, k=20, show_progress=False)
    expected = [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
    assert [d for d, _ in ours] == [d for d, _ in expected]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in expected], rtol=1e-5)
    assert bm25_query_tokens("The Attacks!") == ["attack"]


def test_our_tokenizer_is_bm25s_token_for_token(assistant):
    """rag.lexical tokenizes without bm25s.tokenize (its hidden progress bars cost 0.25 ms a call):
    the same tokens on every chunk, title and question, one text at a time or in a batch."""
    from rag import lexical

    index = assistant.loaded_index
    texts = [c.text for c in index.chunks] + [p.title for p in index.papers.values()]
    texts += ["", "A", "THE and OF", "Ünïcode naïve café 3D-CNNs x_y 10x", "What's new in DINO, compared to DETR?"]
    reference = bm25s.tokenize(texts, stopwords="en", stemmer=lexical._stemmer(), show_progress=False, return_ids=False)
    lexical._STEMS.clear()
    assert lexical._bm25_tokenize(texts) == reference
    assert [bm25_query_tokens(t) for t in texts[:200]] == reference[:200]
    lexical._STEMS.clear()  # past the cache's size, words are stemmed without keeping them
    old, lexical._STEMS_MAX = lexical._STEMS_MAX, 10
    try:
        assert lexical._bm25_tokenize(texts[:300]) == reference[:300]
        kept = len(lexical._STEMS)
        assert lexical._bm25_tokenize(texts[300:]) == reference[300:] and len(lexical._STEMS) == kept
    finally:
        lexical._STEMS_MAX = old


def test_bm25_leaves_question_words_out(assistant):
    """"Describe the method proposed in the PIXEL paper": "describe" and "lists" match a survey's
    abstract, not the paper asked about; BM25 ranks on the question's topic words only."""
    r = assistant.retriever
    assert r.lexical("Describe the method proposed in the PIXEL paper.", 20, None) == r.lexical("PIXEL", 20, None)
    assert r.lexical("List papers that use graph neural networks for molecules", 20, None) == \
        r.lexical("graph neural networks molecules", 20, None)
    assert r.lexical("which papers", 5, None), "a query of question words alone still searches"
    hits = assistant.search("Describe the method proposed in the PIXEL paper.", k=3)
    assert hits[0].title == "Language Modelling with Pixels"


def test_dense_scores_are_cosine_similarities(assistant):
    index = assistant.loaded_index
    query = "language model that renders text as images"
    ours = assistant.retriever.dense(query, 10, None)
    q = assistant.retriever.embed_query(query)
    got = index.collection.get(ids=[index.chunks[i].chunk_id for i, _ in ours], include=["embeddings"])
    vecs = dict(zip(got["ids"], np.asarray(got["embeddings"])))
    for i, score in ours:
        assert score == pytest.approx(float(vecs[index.chunks[i].chunk_id] @ q), abs=1e-4)
    assert [s for _, s in ours] == sorted((s for _, s in ours), reverse=True)


def test_hybrid_fuses_both_rankings(assistant):
    query = "dual algorithmic reasoning max-flow min-cut"
    s = assistant.settings
    chunks = assistant.loaded_index.chunks

    def best_per_paper(ranked):
        best = {}
        for i, score in ranked:
            best.setdefault(chunks[i].paper_id, score)
        return best

    dense = best_per_paper(assistant.retriever.dense(query, s.candidates, None))
    lexical = best_per_paper(assistant.retriever.lexical(query, s.candidates, None))

    def norm(scores, pid):
        lo, hi = min(scores.values()), max(scores.values())
        return (scores[pid] - lo) / (hi - lo) if pid in scores else 0.0

    hits = assistant.search(query, k=10, retriever="hybrid", fusion="relative")
    assert hits[0].title == "Dual Algorithmic Reasoning"
    for h in hits:  # relative fusion: weighted sum of min-max normalized scores
        assert h.score == pytest.approx(s.dense_weight * norm(dense, h.paper_id) + s.bm25_weight * norm(lexical, h.paper_id))
    top = assistant.search(query, k=10, retriever="hybrid", fusion="rrf", rrf_k=60)[0]
    assert top.title == "Dual Algorithmic Reasoning" and top.dense_rank and top.bm25_rank
    assert top.score == pytest.approx(s.dense_weight / (60 + top.dense_rank) + s.bm25_weight / (60 + top.bm25_rank))


@pytest.mark.parametrize("filters, check", [
    ({"page": "000_d4af2e6ebec4f2da"}, lambda p: "000_d4af2e6ebec4f2da" in p.pages),
    ({"presentation": "top 5%"}, lambda p: "top 5%" in (p.presentation or "")),
    ({"award": "outstanding"}, lambda p: p.award == "Outstanding Paper"),
    ({"author": "kyunghyun cho"}, lambda p: "Kyunghyun Cho" in p.authors),
])
@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_apply_to_every_retriever(assistant, filters, check, mode):
    hits = assistant.search("graph neural networks", k=20, retriever=mode, filters=filters)
    assert hits and all(check(h.paper) for h in hits)
    allowed = [p for p in assistant.loaded_index.papers.values() if check(p)]
    assert len(hits) == min(20, len(allowed)) or mode == "bm25"


def test_filter_with_no_match_returns_nothing(assistant):
    assert assistant.search("graph", filters=Filters(author="Nobody Atall")) == []
    with pytest.raises(SettingsError, match="unknown filter"):
        assistant.search("graph", filters={"colour": "red"})


def test_bad_queries(assistant):
    with pytest.raises(QuestionError, match="empty"):
        assistant.search("   ")
    with pytest.raises(SettingsError, match="unknown retriever|retriever"):
        assistant.search("graph", retriever="magic")
    assert assistant.search("the of and", k=3)  # all stopwords: dense still answers
