"""Answerability: each signal on hand-made cases, the shipped model file, partial answers, the by-style eval."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import ABSTAIN_TEXT, Assistant
from rag.answerability import (DEFAULT_MODEL, FEATURES, FOLLOWUP_FEATURES, lacking_words, load_model, phrases, question_words, salient_terms,
                               signals, word_mean)
from rag.errors import ModelLoadError
from tests.conftest import write_jsonl

SPARSE = "Sparse Attention for Long Documents"
CONTRASTIVE = "Contrastive Pretraining on a Budget"
MOLECULES = "Graph Networks for Molecules"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The three-paper corpus of conftest (SMALL), indexed once for this module."""
    from tests.conftest import SMALL

    tmp = tmp_path_factory.mktemp("small")
    from rag import Settings

    settings = Settings(corpus=[write_jsonl(tmp / "small.jsonl", SMALL)], index_dir=tmp / "index", progress=False)
    a = Assistant(settings)
    a.index()
    yield a
    a.close()


def _features(a: Assistant, question: str) -> tuple[dict[str, float], list]:
    hits = a.search(question, k=a.settings.top_k)
    col = a._get_collection()
    return signals(question, hits, col, a.embed([question])[0], a.embed).features, hits


# ---- signals on hand-made cases ------------------------------------------------------------------
def test_every_term_in_one_abstract_gives_full_coverage_and_cooccurrence(small):
    f, hits = _features(small, "memory queue of negatives")
    assert hits[0].title == CONTRASTIVE
    assert f["lex_top_paper"] == 1.0 and f["sal_top_paper"] == 1.0 and f["sal_cooc_any"] == 1.0
    assert f["sal_split_gap"] == 0.0 and f["oov_share"] == 0.0 and f["missing_idf"] == 0.0
    assert f["bigram_any"] == 1.0 and f["bigram_top_paper"] == 1.0  # "memory queue", "queue negat" are adjacent there
    assert set(f) == set(FOLLOWUP_FEATURES) and set(FEATURES) < set(FOLLOWUP_FEATURES)
    assert f["lack_titled"] == 0.0


def test_a_concept_another_paper_is_titled_for_shows_in_lack_titled(small):
    """A follow-up judged against one paper ("does the memory queue also help graph networks?", about the
    contrastive paper): "graph" is missing there and is what another paper's title is about."""
    col, sc = small._get_collection(), small._get_collection().scorer
    question = "does the memory queue also help graph networks?"
    hits = small.search(question, k=3)
    only = [h for h in hits if h.title == CONTRASTIVE]
    f = signals(question, only, col, small.embed([question])[0], small.embed).features
    assert f["lack_titled"] == pytest.approx(sc.idf("graph") / sc.max_idf) and f["lack_titled"] > 0
    assert signals(question, hits, col, small.embed([question])[0], small.embed).features["lack_titled"] == 0.0, \
        "the titled paper is retrieved: nothing lacks"
    rouge = "does the memory queue also improve ROUGE?"  # ROUGE is in an abstract, in no title
    assert signals(rouge, only, col, small.embed([rouge])[0], small.embed).features["lack_titled"] == 0.0


def test_concepts_split_over_two_papers_show_in_cooccurrence_and_split_gap(small):
    sc = small._get_collection().scorer
    f, hits = _features(small, "sparse attention for molecular property prediction")
    words = question_words("sparse attention for molecular property prediction")
    sal = salient_terms(words, sc)
    in_sparse = sum(w for t, w in sal.items() if t in {"spars", "attent"}) / sum(sal.values())
    # No abstract holds both concepts: the best single paper has only its own concept's weight.
    assert f["sal_cooc_any"] == pytest.approx(max(in_sparse, 1 - in_sparse))
    assert f["sal_split_gap"] == pytest.approx(1 - max(in_sparse, 1 - in_sparse))
    assert {h.title for h in hits[:2]} == {SPARSE, MOLECULES}


def test_a_word_no_chunk_holds_is_out_of_vocabulary_with_the_largest_idf(small):
    sc = small._get_collection().scorer
    f, _ = _features(small, "zyzzyva contrastive learning")
    weights = {t: sc.idf(t) for t in sc.question_terms("zyzzyva contrastive learning", content_only=True)}
    assert sc.idf("zyzzyva") == sc.max_idf
    assert f["oov_share"] == pytest.approx(sc.max_idf / sum(weights.values()))
    assert f["missing_idf"] == pytest.approx(1.0)  # the rarest lacking term is the unknown one


@pytest.mark.parametrize("question, missing", [
    ("How many GPUs did the contrastive pretraining on a budget need?", 1.0),  # a detail the paper never names
    ("What learning rate does the memory queue of negatives use?", 1.0),      # "learning rate": a two-word detail
    ("What batch size makes contrastive learning expensive?", 1.0),          # "large batches", never "batch size"
    ("Is the code for the molecular message passing networks released?", 0.0),  # "Code is released."
    ("How much cheaper is the memory queue of negatives?", 0.0),             # asks no listed detail
])
def test_an_asked_detail_the_top_paper_never_names(small, question, missing):
    f, _ = _features(small, question)
    assert f["detail_missing"] == missing


@pytest.mark.parametrize("question, missing", [
    ("message passing networks for molecular property prediction in videos", 1.0),  # a setting the paper never names
    ("sparse attention for long speech recordings", 1.0),
    ("message passing networks for molecular property prediction", 0.0),  # "molecular": the paper's own domain
    ("graph networks that predict properties of proteins", 0.0),          # graphs and molecules, named other ways
    ("a memory queue of negatives for contrastive learning", 0.0),         # names no domain
])
def test_a_named_domain_the_top_paper_never_mentions(small, question, missing):
    f, _ = _features(small, question)
    assert f["domain_missing"] == missing


@pytest.mark.parametrize("question, asks", [
    ("Which papers use message passing networks?", 1.0),
    ("any papers on sparse attention", 1.0),
    ("Anything about contrastive learning on a budget?", 1.0),
    ("List the works that cut the cost of contrastive learning", 1.0),
    ("Which paper uses a memory queue of negatives?", 0.0),  # one paper
    ("How much cheaper is contrastive pretraining on a budget?", 0.0),
    ("sparse attention long documents", 0.0),  # a keyword query names no form
])
def test_a_question_that_asks_for_papers_in_the_plural(small, question, asks):
    f, _ = _features(small, question)
    assert f["asks_list"] == asks


@pytest.mark.parametrize("question, missing", [
    ("What ROUGE improvement does the sparse attention pattern give on arXiv?", 0.0),  # both are named there
    ("What FID does the sparse attention pattern for long documents reach?", 1.0),  # asks for what it never names
    ("How many negatives does the memory queue for contrastive learning hold?", 0.0),  # ("negatives" is named)
    ("Which GPU batch size did the memory queue use?", None),  # one of the three is named: "batch"
    ("sparse attention long documents FID", 0.0),  # no wh-phrase: nothing asked for
    ("Which method builds a memory queue of negatives?", 0.0),  # "builds" is the verb of the ask, not what it asks for
    ("Which papers summon a memory queue of negatives?", 0.0),  # any word after a plural head
    ("Give me the FID of the sparse attention pattern for long documents.", 1.0),  # a request asks too
    ("Tell me the ROUGE improvement of the sparse attention pattern on arXiv.", 0.0),
    ("Give me the paper with a sparse attention pattern for long documents.", 0.0),  # "paper": no detail asked
    ("Does the sparse attention paper for long documents report an FID?", 1.0),  # a yes/no check asks too
    ("Does the sparse attention paper for long documents report a ROUGE improvement?", 0.0),
    ("Is the FID stated in the sparse attention paper for long documents?", 1.0),  # ... and in the passive
])
def test_what_the_question_asks_for_that_the_top_paper_never_names(small, question, missing):
    f, hits = _features(small, question)
    sc = small._get_collection().scorer
    if missing is None:  # idf-weighted: "gpu" is missing, "batch" is held, "size" is missing
        w = {t: sc.idf(t) for t in ("gpu", "batch", "size")}
        missing = (w["gpu"] + w["size"]) / sum(w.values())
    assert f["focus_missing"] == pytest.approx(missing)


@pytest.mark.parametrize("question, missing", [
    ("How many layers does the message passing network for molecular property prediction use?", 1.0),  # QM9 is no amount
    ("What accuracy does message passing reach on QM9 for molecular properties?", 1.0),
    ("Which paper studies message passing networks for molecular property prediction?", 0.0),  # no amount asked
    ("How much cheaper is contrastive pretraining on a budget?", 0.0),  # "3x cheaper" states one
    ("By how much does sparse attention improve ROUGE on arXiv?", 0.0),  # "2 points"
])
def test_an_amount_asked_of_a_paper_that_states_none(small, question, missing):
    f, _ = _features(small, question)
    assert f["number_missing"] == missing


@pytest.mark.parametrize("question, missing", [
    ("Which datasets does contrastive pretraining on a budget with a memory queue evaluate on?", 1.0),  # its abstract names nothing
    ("Which dataset does the message passing network for molecular property prediction use?", 0.0),  # "QM9"
    ("Besides QM9, which dataset does the message passing network for molecular property prediction use?", 1.0),  # QM9 is asked
    ("Which paper studies message passing networks for molecular property prediction?", 0.0),  # no named things asked
])
def test_named_things_asked_of_a_paper_that_names_none(small, question, missing):
    f, hits = _features(small, question)
    assert f["names_missing"] == missing


@pytest.mark.parametrize("question, detail, domain", [
    ("Our lab has few GPUs and works with videos. Which paper uses a memory queue of negatives?", 0.0, 0.0),  # context only
    ("Which paper uses a memory queue of negatives, and how many GPUs did it need?", 1.0, 0.0),
    ("Which paper uses a memory queue of negatives for videos?", 0.0, 1.0),
])
def test_asked_details_and_domains_are_read_in_the_asking_clauses_only(small, question, detail, domain):
    f, hits = _features(small, question)
    assert hits[0].title == CONTRASTIVE
    assert (f["detail_missing"], f["domain_missing"]) == (detail, domain)


def test_asking_clause_coverage_leaves_the_context_out(small):
    sc = small._get_collection().scorer
    question = "Our zyzzyva lab is tiny. Which paper uses a memory queue of negatives?"
    f, hits = _features(small, question)
    assert hits[0].title == CONTRASTIVE
    sal = salient_terms(question_words(question), sc)
    asked = {t for _, ts in question_words("Which paper uses a memory queue of negatives") for t in ts}
    context_only = sum(w for t, w in sal.items() if t not in asked) / sum(sal.values())
    assert "zyzzyva" in sal and context_only > 0
    assert f["context_share"] == pytest.approx(context_only)
    assert f["ask_sal_top"] == 1.0 and f["ask_lex_top"] == 1.0  # the asking clause is all in the paper
    assert f["sal_top_paper"] < 1.0 and f["lex_top_paper"] < 1.0  # the whole question is not
    # without context the asking-clause signals are the whole question's
    g, _ = _features(small, "Which paper uses a memory queue of negatives?")
    assert g["context_share"] == 0.0 and g["ask_sal_top"] == g["sal_top_paper"] and g["ask_lex_top"] == g["lex_top_paper"]


@pytest.mark.parametrize("question, missing", [
    ("Which benchmark did the graph networks for molecules reach state of the art on, QM9 or ZINC?", 0.0),  # QM9 is held
    ("Which benchmark did the graph networks for molecules use, like ZINC or PCQM4M?", 1.0),  # it names neither
    ("Which benchmark did the graph networks for molecules use?", 0.0),  # no candidate offered
    ("Was QM9 among the benchmarks of the graph networks for molecules?", 0.0),
    ("Were ZINC and PCQM4M among the benchmarks of the graph networks for molecules?", 1.0),
    ("Which model did message passing on molecules beat (e.g. SchNet)?", 0.0),  # an aside describes: no candidate
])
def test_candidates_the_question_offers_that_the_top_paper_never_names(small, question, missing):
    f, hits = _features(small, question)
    assert hits[0].title == MOLECULES
    assert f["guess_missing"] == pytest.approx(missing)


def test_a_half_held_candidate_counts_its_held_share(small):
    sc = small._get_collection().scorer
    f, hits = _features(small, "Which benchmark did the graph networks for molecules use, say QM9 ZINC?")
    assert hits[0].title == MOLECULES
    w = {t: sc.idf(t) for t in ("qm9", "zinc")}
    assert f["guess_missing"] == pytest.approx(w["zinc"] / sum(w.values()))


def test_word_order_matters_for_bigrams_only(small):
    a, _ = _features(small, "memory queue")
    b, _ = _features(small, "queue memory")
    assert a["bigram_any"] == 1.0 and b["bigram_any"] == 0.0
    assert a["sal_cooc_any"] == b["sal_cooc_any"] == 1.0


def test_semantic_signals_match_a_direct_computation(small):
    question = "a cheaper way to learn contrastive representations"
    f, hits = _features(small, question)
    col = small._get_collection()
    q = small.embed([question])[0]
    sims = col.chunk_vectors @ q
    assert f["sem_top"] == pytest.approx(float(sims.max()), abs=1e-5)
    per_paper = [max(float(sims[i]) for i in col.paper_chunks[h.paper_id]) for h in hits]
    assert f["sem_top_paper"] == pytest.approx(per_paper[0], abs=1e-5)
    assert f["sem_margin"] == pytest.approx(per_paper[0] - max(per_paper[1:]), abs=1e-5)
    words = question_words(question)
    phr = phrases(words, salient_terms(words, col.scorer), col.scorer)
    sal = salient_terms(words, col.scorer)
    units = lacking_words(words, sal, col.paper_terms[hits[0].paper_id])
    pv = small.embed([p.text for p in phr] + units)[:len(phr)]  # one batch, as signals() embeds (int8 is batch-dependent)
    best_any = [(col.chunk_vectors @ v).max() for v in pv]
    assert f["phr_min_any"] == pytest.approx(float(min(best_any)), abs=1e-5)


def test_word_signals_look_at_the_words_the_top_paper_lacks(small):
    col = small._get_collection()
    # Every salient word in the top paper: nothing to embed, every word feature is 1.
    f, hits = _features(small, "memory queue of negatives")
    assert f["word_min_top"] == f["word_mean_top"] == f["word_min_joint"] == f["word_min_any"] == 1.0
    # "GPUs" is the one salient word the contrastive paper lacks (no abstract has it): its cosines decide.
    question = "How many GPUs did the contrastive pretraining with the memory queue use?"
    f, hits = _features(small, question)
    words = question_words(question)
    sal = salient_terms(words, col.scorer)
    top = col.paper_terms[hits[0].paper_id]
    units = lacking_words(words, sal, top)
    assert hits[0].title == CONTRASTIVE and units == ["GPUs"]
    phr = phrases(words, sal, col.scorer)
    gv = small.embed([p.text for p in phr] + units)[-1]  # the batch signals() embeds
    sims = col.chunk_vectors @ gv
    in_top = float(max(sims[i] for i in col.paper_chunks[hits[0].paper_id]))
    assert f["word_min_top"] == pytest.approx(in_top, abs=1e-5)
    assert f["word_min_any"] == pytest.approx(float(sims.max()), abs=1e-5)
    assert f["word_min_joint"] == pytest.approx(max(max(sims[i] for i in col.paper_chunks[h.paper_id]) for h in hits), abs=1e-5)
    assert f["word_mean_top"] == pytest.approx(word_mean(words, sal, top, {"GPUs": in_top}), abs=1e-6)


def test_lacking_words_are_the_rarest_first_and_capped():
    from rag.coverage import Scorer

    s = Scorer.from_counts({"alpha": 1, "beta": 3, "gamma": 9, "delta": 20, "epsilon": 30, "zeta": 2}, n=1000)
    w = question_words("alpha beta gamma delta epsilon zeta")
    sal = salient_terms(w, s)
    assert lacking_words(w, sal, frozenset({"zeta"})) == ["alpha", "beta", "gamma", "delta"]  # zeta held; the 5th cut
    assert lacking_words(w, sal, frozenset(sal)) == []
    # The mean: held words count 1, embedded lacking ones their cosine, lacking ones past the cap 0.
    cos = {"alpha": 0.5, "beta": 0.5, "gamma": 0.5, "delta": 0.5}
    expected = (sal["zeta"] + 0.5 * (sal["alpha"] + sal["beta"] + sal["gamma"] + sal["delta"])) / sum(sal.values())
    assert word_mean(w, sal, frozenset({"zeta"}), cos) == pytest.approx(expected)


def test_the_pair_vector_is_the_question_times_the_top_papers_best_passage(small):
    question = "a cheaper way to learn contrastive representations"
    hits = small.search(question, k=small.settings.top_k)
    col = small._get_collection()
    q = small.embed([question])[0]
    sig = signals(question, hits, col, q, small.embed)
    rows = col.paper_chunks[hits[0].paper_id]
    best = max(rows, key=lambda i: float(col.chunk_vectors[i] @ q))
    assert np.allclose(sig.pair, q * col.chunk_vectors[best], atol=1e-6)
    assert float(sig.pair.sum()) == pytest.approx(sig.features["sem_top_paper"], abs=1e-4)  # a cosine is its sum
    assert sig.features["sem_pair"] == 0.0  # the model's head fills it (Model.complete)
    assert signals(question, [], col, q, small.embed).pair is None


def test_pair_head_scores_a_hand_made_vector():
    from rag.answer_model import PairHead

    head = PairHead(np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]), 0.5)
    assert head.score(np.array([1.0, 1.0])) == pytest.approx(1.0 * 1 + 2.0 * 0 + 0.5)
    assert head.score(np.array([2.0, 3.0])) == pytest.approx(2.0 + 2.0 * 1.0 + 0.5)
    assert head.score(None) == 0.0 and head.score(np.zeros(3)) == 0.0  # no hit / wrong size: neutral


def test_retrieval_scores_and_margins_are_read_from_the_hits(small):
    f, hits = _features(small, "sparse attention long documents")
    assert f["fused_top"] == hits[0].score and f["fused_margin"] == pytest.approx(hits[0].score - hits[1].score)
    assert f["rank_agree"] == float(hits[0].dense_rank == 1 and hits[0].bm25_rank == 1)


def test_chunk_vectors_are_the_indexed_ones(small):
    col = small._get_collection()
    chunk = small.loaded_index.chunks[0]
    stored = small.loaded_index.collection.get(ids=[chunk.chunk_id], include=["embeddings"])["embeddings"][0]
    assert np.allclose(col.chunk_vectors[0], stored)
    assert np.allclose(np.linalg.norm(col.chunk_vectors, axis=1), 1.0, atol=1e-3)


# ---- the model file ------------------------------------------------------------------------------
VECTOR_FEATURES = ("sem_", "phr_", "word_", "fused_", "rank_agree")
def test_shipped_model_loads_and_predicts_its_pinned_case(assistant):
    model = load_model()
    data = json.loads(DEFAULT_MODEL.read_text())
    assert model.features == FEATURES and data["training"]["parts"] == "dev" and data["training"]["files"]
    assert all(len(f["sha256"]) == 64 for f in data["training"]["files"])
    pinned = data["pinned"]
    assert model.probability(pinned["features"]) == pytest.approx(pinned["probability"], abs=1e-9)
    # The same question through the real assistant gives the same features, hence the same probability.
    # Word features must match exactly; those read off the int8 embeddings (cosines, the pair head, the
    # fused retrieval score) move by about 1e-3 when onnxruntime or transformers change their kernels
    # (1.30 -> 1.32 did), so they get a tolerance that still catches a changed computation.
    again = assistant.answerability_signals(pinned["question"])
    for name in FEATURES:
        tol = 2e-2 if name.startswith(VECTOR_FEATURES) else 1e-6
        assert again[name] == pytest.approx(pinned["features"][name], abs=tol), name
    assert model.probability(again) == pytest.approx(pinned["probability"], abs=2e-2)


@pytest.mark.parametrize("content, reason", [
    (None, "is missing"),
    ("{not json", "is damaged"),
    (json.dumps({"format": 1, "features": ["no_such_feature"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0, "threshold": 0.5}), "unknown features"),
    (json.dumps({"format": 1, "features": list(FEATURES), "mean": [0], "scale": [1], "coef": [1], "intercept": 0, "threshold": 0.5}), "do not match"),
    (json.dumps({"format": 99}), "format"),
    (json.dumps({"format": 1, "features": ["sem_top"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0, "threshold": 0.5,
                 "pair_head": {"mean": [0, 0], "scale": [1, 1], "coef": [1], "intercept": 0}}), "do not match"),
])
def test_missing_or_damaged_model_file_says_how_to_rebuild(tmp_path, content, reason):
    path = tmp_path / "answerability.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ModelLoadError, match=reason) as err:
        load_model(path)
    assert "python -m eval.train_answerability" in str(err.value) and str(path) in str(err.value)


def test_assistant_with_a_damaged_model_fails_with_the_rebuild_message(full_settings, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    a = Assistant(full_settings.with_options(answerability_model=bad))
    try:
        with pytest.raises(ModelLoadError, match="eval.train_answerability"):
            a.ask("What attack success rate do the NTK-designed poisons reach?")
    finally:
        a.close()


def test_training_writes_a_file_that_predicts_like_scikit_learn(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from eval.train_answerability import C, _write_model, fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, len(FEATURES)))
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(scale=0.5, size=80) > 0).astype(int)
    m = fit(X, y)
    questions = tmp_path / "q.jsonl"
    write_jsonl(questions, [{"id": "a"}])
    items = [{"question": f"q{i}", "style": "s", "_file": str(questions)} for i in range(80)]
    path = tmp_path / "model.json"
    _write_model(path, m, items, np.ones(80, bool), X, {})
    model = load_model(path)
    Z = (X - X.mean(0)) / X.std(0)
    ref = LogisticRegression(C=C, max_iter=2000).fit(Z, y).predict_proba(Z)[:, 1]
    ours = [model.probability(dict(zip(FEATURES, row))) for row in X]
    assert np.allclose(ours, ref, atol=1e-6)
    assert 0.0 <= model.threshold <= 1.0


def test_training_with_pair_vectors_writes_a_head_that_predicts_like_the_trainer(tmp_path):
    from eval.train_answerability import _write_model, fit, head_score, probability, served

    rng = np.random.default_rng(1)
    X, P = rng.normal(size=(90, len(FEATURES))), rng.normal(size=(90, 8))
    y = (X[:, 0] + P[:, 2] - P[:, 5] + rng.normal(scale=0.5, size=90) > 0).astype(int)
    m = fit(X, y, P)
    assert m["head"] is not None and abs(m["head"]["coef"][2]) > abs(m["head"]["coef"][0])  # it found the pair signal
    questions = write_jsonl(tmp_path / "q.jsonl", [{"id": "a"}])
    items = [{"question": f"q{i}", "style": "s", "_file": str(questions)} for i in range(90)]
    path = tmp_path / "model.json"
    _write_model(path, m, items, np.ones(90, bool), served(m, X, P), {})
    model = load_model(path)
    assert model.pair_head is not None
    assert [model.pair_head.score(p) for p in P[:5]] == pytest.approx(list(head_score(m["head"], P[:5])), abs=1e-9)
    ours = [model.probability(model.complete(dict(zip(FEATURES, row)), pair)) for row, pair in zip(X, P)]
    assert np.allclose(ours, probability(m, X, P), atol=1e-9)
    pinned = json.loads(path.read_text())["pinned"]
    assert model.probability(pinned["features"]) == pytest.approx(pinned["probability"], abs=1e-12)


def test_threshold_keeps_wrong_refusals_under_the_cap():
    from eval.train_answerability import choose_threshold

    assert choose_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(0.5)
    # One answerable question scores lowest: refusing it would cost 1 of 2 (50%), so the cut stays below it.
    t = choose_threshold(np.array([0.05, 0.1, 0.2, 0.9]), np.array([1, 0, 0, 1]), max_wrong=0.05)
    assert t < 0.05 or t == 0.0


# ---- decisions and partial answers ---------------------------------------------------------------
def test_kind_a_absent_topic_gets_the_plain_abstention(assistant):
    for forced in (None, 1.0):  # the shipped model's decision, and a forced refusal: still nothing to offer
        answer = assistant.ask("Which recipe makes the fluffiest sourdough bread?", min_confidence=forced)
        assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.missing == () and answer.citations == ()
        assert 0.0 <= answer.confidence < 0.5


def test_kind_b_unjoined_concepts_get_a_partial_answer_naming_the_missing_one(small):
    answer = small.ask("sparse attention for molecular property prediction", min_confidence=1.0)
    assert answer.abstained and answer.missing
    assert answer.text.startswith("The collection does not answer this") and "[1]" in answer.text and "[2]" in answer.text
    titles = {c.title for c in answer.citations}
    assert titles == {SPARSE, MOLECULES}
    missing = " ".join(answer.missing).lower()
    assert ("molecular" in missing) != ("sparse" in missing)  # the concept the closest paper lacks, not both
    for c in answer.citations:  # cited passages are exact slices of the abstract
        paper = small.loaded_index.papers[c.paper_id]
        assert paper.abstract[c.span[0]:c.span[1]] == c.passage
    assert answer.to_dict()["missing"] == list(answer.missing) and answer.to_dict()["confidence"] is not None


@pytest.mark.parametrize("question, missing", [
    # "learning" is in the abstract ("Contrastive learning"): the detail phrase the question asks for is named whole
    ("What learning rate did the contrastive pretraining with the memory queue use?", ["learning rate"]),
    # every rare word is held; what the question asks for is not: before, a plain abstention
    ("Which datasets did the sparse attention pattern for long documents use?", ["datasets"]),
])
def test_a_partial_answer_names_what_the_question_asks_for(small, question, missing):
    answer = small.ask(question, min_confidence=1.0)
    assert answer.abstained and list(answer.missing) == missing, answer.text
    assert f"no mention of {missing[0]}" in answer.text and answer.citations


def test_kind_c_unstated_detail_gets_a_partial_answer_naming_the_detail(small):
    answer = small.ask("How many GPUs did the contrastive pretraining with the memory queue use?", min_confidence=1.0)
    assert answer.abstained and [m.lower() for m in answer.missing] == ["gpus"]
    assert answer.citations[0].title == CONTRASTIVE and "no mention of GPUs" in answer.text


def test_an_answerable_question_is_answered_with_its_confidence(assistant):
    answer = assistant.ask("What attack success rate do the NTK-designed poisons reach?")
    assert not answer.abstained and answer.missing == () and answer.confidence > load_model().threshold
    never = assistant.ask("Which recipe makes the fluffiest sourdough bread?", min_confidence=0.0)
    assert not never.abstained  # 0: the model never refuses; the generator answers


def test_the_decision_is_the_model_on_the_signals(assistant):
    """What the Assistant decides equals the shipped model applied to the features (what LOSO scores)."""
    model = load_model()
    for q in ("How many GPUs were used to train PIXEL?", "What does PIXEL reconstruct during pretraining instead of predicting tokens?"):
        verdict = assistant.judge(q)
        p = model.probability(assistant.answerability_signals(q))
        assert verdict.confidence == pytest.approx(p, abs=1e-9) and verdict.answerable == (p >= model.threshold)


def test_the_decision_sees_what_ask_retrieves_and_skips_what_the_router_answers(assistant):
    """A mixed question (narrowed to its lookup's papers by the router) is judged on the narrowed hits,
    as `ask` judges it; a question the router answers itself is not gated (the trainer leaves it out)."""
    mixed = "There are two different 'DINO' papers in the poster session - what is each one about?"
    assert assistant.gated(mixed)
    assert assistant.judge(mixed).confidence == pytest.approx(assistant.ask(mixed).confidence, abs=1e-9)
    field_of = "Who wrote the PIXEL paper?"  # answered from the listing, after the decision on its content words
    assert assistant.gated(field_of)
    assert assistant.judge(field_of).confidence == pytest.approx(assistant.ask(field_of).confidence, abs=1e-9)
    assert not assistant.gated("Which posters list Yoshua Bengio as an author?")
    assert assistant.gated("What attack success rate do the NTK-designed poisons reach?")


# ---- the eval: by style, by part, partial answers scored --------------------------------------------
def test_by_style_report_on_a_small_style_file(small, tmp_path):
    from eval import run_eval

    rows = [
        {"id": "s-1", "style": "terse", "split": "dev", "type": "factoid", "question": "memory queue of negatives cost",
         "gold_titles": [CONTRASTIVE], "answer": "Training is 3x cheaper.", "key_facts": ["3x cheaper"]},
        {"id": "s-2", "style": "terse", "split": "test", "type": "factoid", "question": "sparse attention ROUGE gain arXiv",
         "gold_titles": [SPARSE], "answer": "It improves ROUGE by 2 points.", "key_facts": ["2 points"]},
        {"id": "s-3", "style": "terse", "split": "test", "type": "unanswerable", "unanswerable_kind": "unjoined",
         "question": "sparse attention for molecular property prediction", "gold_titles": [], "near_titles": [SPARSE, MOLECULES],
         "missing": ["sparse attention for molecules"], "concepts": [["sparse attention"], ["molecular", "molecules"]]},
        {"id": "s-4", "style": "terse", "split": "test", "type": "unanswerable", "unanswerable_kind": "unstated",
         "question": "GPUs used for contrastive memory queue training", "gold_titles": [], "near_titles": [CONTRASTIVE],
         "missing": ["GPU count"], "detail_terms": ["GPUs"]},
    ]
    path = write_jsonl(tmp_path / "terse.jsonl", rows)
    results = run_eval(questions=[path], settings=small.settings.with_options(min_confidence=1.0), out=tmp_path / "out",
                       progress=False, say=lambda m: None)
    runs = results["runs"]["configured"]
    assert set(runs) == {"terse-dev", "terse-test"}  # one style file, scored part by part
    test = runs["terse-test"]
    assert set(test["by_style"]) == {"terse"} and test["by_style"]["terse"]["questions"] == 3
    overall = test["overall"]
    assert overall["abstain_recall"] == 1.0 and overall["abstain_false_abstain_rate"] == 1.0  # forced refusals
    assert overall["partial_named"] == 1.0 and overall["abstained_by_kind"] == {"unjoined": 1.0, "unstated": 1.0}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## By style" in report and "| configured | terse-test | terse | 3 |" in report
    scored = [json.loads(line) for line in (tmp_path / "out" / "rows" / "terse-test__configured.jsonl").read_text().splitlines()[1:]]
    assert {r["id"]: r.get("named_missing") for r in scored} == {"s-2": None, "s-3": True, "s-4": True}
    assert all(r["style"] == "terse" and r["confidence"] is not None for r in scored)


def test_names_missing_needs_a_rare_shared_term():
    from eval.harness import Question, names_missing

    q = Question("x", "unanswerable", "?", [], kind="unstated", missing=["dataset license"], detail_terms=["license"])
    idf = {"licens": 6.0, "dataset": 1.0, "data": 0.5}
    terms = lambda text: {w.lower().rstrip("s")[:6] for w in text.split()}  # noqa: E731  (a toy stemmer)
    salient = lambda t: idf.get(t, 0.0) >= 2.0  # noqa: E731
    assert names_missing(["license"], q, terms, salient)
    assert not names_missing(["dataset"], q, terms, salient)  # shared, but too common to name anything
    assert not names_missing([], q, terms, salient)
