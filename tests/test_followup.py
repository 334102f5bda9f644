"""Follow-ups in a chat: which short questions stay on the earlier answer's papers (reference word or
not), the follow-up model that judges them, its file, and its trainer. Real index, real MiniLM."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rag import Assistant, ModelLoadError
from rag.answer_model import DEFAULT_FOLLOWUP_MODEL, DEFAULT_MODEL, RESOLUTION_FEATURES
from rag.answerability import FOLLOWUP_FEATURES, load_model
from rag.conversation import Fit, candidate, needs_context, referent_titles, shape, stays_on

from .conftest import write_jsonl

PIXEL_Q = "What does PIXEL reconstruct during pretraining instead of predicting tokens?"
PIXEL = "Language Modelling with Pixels"
HISTORY = [(PIXEL_Q, {"titles": [PIXEL]})]


# ---- which questions stay on the earlier papers (pure) ------------------------------------------
@pytest.mark.parametrize("question", ["error rate on MNIST?", "is there a JAX implementation?", "how much faster than GLaM?",
                                      "any application to stock markets?", "imagenet top-1?"])
def test_a_short_question_with_no_reference_word_stays_when_the_index_says_so(question):
    assert not needs_context(question), "no reference word: the old test let it go"
    assert candidate(question)
    assert referent_titles(question, HISTORY, stays=lambda titles: titles == (PIXEL,)) == (PIXEL,)
    assert referent_titles(question, HISTORY, stays=lambda titles: False) == ()
    assert referent_titles(question, HISTORY) == (), "no index to ask: as before"


@pytest.mark.parametrize("question, new_terms, margin, stays", [
    ("how big were the F1 gains?", 1, 0.5, True),            # one rare term the paper lacks
    ("how big were the F1 gains?", 2, 0.099, True),          # no other paper closer by 0.10
    ("how big were the F1 gains?", 2, 0.10, False),
    ("diffusion models", 0, 0.3, False),                    # keywords alone: the rare-terms count does not keep them
    ("false negative rate?", 2, 0.05, True),                # ... the semantic test does
    ("I care about seismic wave simulation; did they test the multigrid operator on seismic problems?", 5, 0.0, True),
    ("I care about seismic wave simulation; did they test the multigrid operator on seismic problems?", 0, 0.01, False),
])
def test_stays_on_by_length_shape_and_measures(question, new_terms, margin, stays):
    assert candidate(question)
    assert stays_on(Fit(*shape(question), new_terms, margin, 0.0)) is stays


@pytest.mark.parametrize("question", ["Which papers are about diffusion?", "Find other works on graph neural networks",
                                      "List all the neural process papers here.", "show me some other diffusion papers",
                                      "Which paper shows that label smoothing hurts knowledge distillation into smaller students when "
                                      "the teacher was trained with it?"])
def test_new_searches_and_long_questions_are_never_measured(question):
    asked = []
    assert referent_titles(question, HISTORY, stays=lambda titles: asked.append(titles) or True) == ()
    assert not candidate(question) and asked == [], "the index is not even asked"


@pytest.mark.parametrize("question", ["what datasets did the papers use?", "which of these papers is faster?",
                                      "did all of their experiments use ImageNet?", "any code for the work?"])
def test_papers_already_found_are_no_new_search(question):
    assert candidate(question)


@pytest.mark.parametrize("question", ["does that hold for EEG signals?", "How does this compare to pruning?", "is that better?"])
def test_this_or_that_after_an_auxiliary_points_back(question):
    assert needs_context(question)
    assert referent_titles(question, HISTORY) == (PIXEL,)


@pytest.mark.parametrize("question", ["compared with LoRA?", "vs SimCLR?", "same for vision transformers?", "better than CNNs?",
                                      "and versus xgboost?", "okay so compared to mixup"])
def test_a_comparison_that_leaves_its_first_term_out_points_back(question):
    assert needs_context(question)
    assert referent_titles(question, HISTORY) == (PIXEL,), "the left-out term is the earlier answer's paper"


@pytest.mark.parametrize("question", ["Which papers compare with LoRA?", "Is LoRA better than full fine-tuning?",
                                      "PIXEL compared with BERT"])
def test_a_comparison_with_both_terms_does_not(question):
    assert referent_titles(question, HISTORY) == ()


@pytest.mark.parametrize("question", ["okay and which benchmarks", "um what about robustness", "so uh and the code?"])
def test_spoken_fillers_before_an_opener_do_not_hide_it(question):
    assert needs_context(question)


def test_spoken_fillers_and_courtesy_words_are_question_words():
    from rag.coverage import QUESTION_WORDS

    assert {"okay", "um", "uh", "hmm", "tho", "thanks", "obrigado", "gracias", "yaar"} <= QUESTION_WORDS


@pytest.mark.parametrize("question, domains", [("any code?", set()), ("code n data released?", set()),
                                               ("is the source code available?", set()),
                                               ("could it do code generation", {"code"}), ("works on speech too?", {"speech or audio"})])
def test_asking_for_code_names_no_data_domain_but_code_generation_does(question, domains):
    from rag.coverage import named_domains
    from rag.index import bm25_query_tokens

    assert named_domains(bm25_query_tokens(question)) == domains


def test_an_abstained_turn_has_no_papers_to_stay_on():
    assert referent_titles("error rate on MNIST?", [(PIXEL_Q, {"abstained": True})], stays=lambda t: True) == ()


# ---- on the real index ----------------------------------------------------------------------------
def test_an_elliptical_follow_up_is_answered_from_the_earlier_paper(assistant):
    first = assistant.ask(PIXEL_Q)
    assert first.citations[0].title == PIXEL
    answer = assistant.ask("how many languages?", history=[first])
    assert PIXEL in answer.query and {h.title for h in answer.hits} == {PIXEL}
    assert not answer.abstained and answer.citations[0].title == PIXEL
    alone = assistant.ask("how many languages?")
    assert alone.query == "how many languages?" and alone.hits[0].title != PIXEL, "the chat did the work"


def test_an_elliptic_comparison_and_a_spoken_follow_up_are_about_the_earlier_paper(assistant):
    first = assistant.ask(PIXEL_Q)
    compared = assistant.ask("compared with LoRA?", history=[first])
    assert PIXEL in compared.query and {h.title for h in compared.hits} == {PIXEL}, "not a search for LoRA papers"
    spoken = assistant.ask("okay and how many languages", history=[first])
    assert PIXEL in spoken.query and not spoken.abstained and spoken.citations[0].title == PIXEL
    spoken_terms = assistant.judge("okay and how many languages", history=[first]).features
    plain_terms = assistant.judge("and how many languages", history=[first]).features
    assert spoken_terms["oov_share"] == plain_terms["oov_share"] == 0.0, "'okay' is no topic the collection lacks"


def test_a_follow_up_in_shorthand_is_retrieved_and_judged_written_out(assistant):
    first = assistant.ask(PIXEL_Q)
    clipped = assistant.ask("how many langs?", history=[first])
    assert clipped.query == f"how many languages? | {PIXEL}" and not clipped.abstained
    written = assistant.judge("how many languages?", history=[first])
    assert assistant.judge("how many langs?", history=[first]).confidence == pytest.approx(written.confidence, abs=1e-12)
    assert assistant.resolution_inputs("how many langs?", history=[first]) == \
        assistant.resolution_inputs("how many languages?", history=[first]), "its fit is measured written out too"
    raw = assistant.ask("how many langs?", history=[first], correct_typos=False)
    assert raw.query == f"how many langs? | {PIXEL}", "correct_typos off: as asked"


def test_a_new_topic_in_keywords_or_by_its_own_paper_leaves_the_earlier_paper(assistant):
    first = assistant.ask(PIXEL_Q)
    for question in ("diffusion models", "Which papers are about graph neural networks?",
                     "What accuracy does Sequencer2D-L reach on ImageNet?"):
        answer = assistant.ask(question, history=[first])
        assert PIXEL not in answer.query and answer.hits and answer.hits[0].title != PIXEL, question


def test_a_name_no_paper_writes_is_refused_naming_it_without_citing_the_earlier_paper(assistant):
    # GraphMAE occurs in no title or abstract: PIXEL's abstract is not cited as if it covered "mask"
    first = assistant.ask(PIXEL_Q)
    answer = assistant.ask("What does GraphMAE mask?", history=[first])
    assert PIXEL in answer.query and answer.abstained and answer.citations == ()
    assert answer.missing == ("GraphMAE",) and answer.text.endswith("does not mention \u201cGraphMAE\u201d."), answer.text


def test_a_follow_up_about_the_earlier_paper_is_judged_by_the_follow_up_model(assistant):
    first = assistant.ask(PIXEL_Q)
    main, follow_up = load_model(), load_model(DEFAULT_FOLLOWUP_MODEL)
    for question in ("how many languages?", "does that hold for speech?", "Which languages did they evaluate it on?"):
        verdict = assistant.judge(question, history=[first])
        assert verdict.confidence == pytest.approx(follow_up.probability(verdict.features), abs=1e-12), question
        assert verdict.confidence != pytest.approx(main.probability(verdict.features), abs=1e-3)
        asked = assistant.ask(question, history=[first])
        assert asked.confidence == pytest.approx(verdict.confidence, abs=1e-9)
        assert asked.abstained is (verdict.confidence < follow_up.threshold)
    alone = assistant.judge(PIXEL_Q)  # a self-contained question: the main model
    assert alone.confidence == pytest.approx(main.probability(alone.features), abs=1e-12)


def test_shipped_follow_up_model_loads_and_predicts_its_pinned_case(assistant):
    model = load_model(DEFAULT_FOLLOWUP_MODEL)
    data = json.loads(DEFAULT_FOLLOWUP_MODEL.read_text())
    assert model.features == FOLLOWUP_FEATURES and model.pair_head is None
    assert data["training"]["parts"] == "dev" and all(f["path"].startswith("eval/questions/followups/") for f in data["training"]["files"])
    pinned = data["pinned"]
    assert model.probability(pinned["features"]) == pytest.approx(pinned["probability"], abs=1e-9)
    prior = []
    for earlier in pinned["history"]:  # the earlier turns asked as the trainer asked them
        prior.append(assistant.ask(earlier, history=list(prior)))
    sig = assistant.answerability_inputs(pinned["question"], history=prior)
    assert sig.follow_up, "the pinned follow-up is still resolved to the earlier answer's paper"
    again = load_model().complete(sig.features, sig.pair)  # sem_pair: the main model's head
    for name in FOLLOWUP_FEATURES:
        tol = 2e-2 if name.startswith(("sem_", "phr_", "word_", "fused_", "rank_agree")) else 1e-6
        assert again[name] == pytest.approx(pinned["features"][name], abs=tol), name
    assert model.probability(again) == pytest.approx(pinned["probability"], abs=2e-2)


def test_a_missing_follow_up_model_fails_with_the_rebuild_message(full_settings, tmp_path):
    missing = tmp_path / "followup.json"
    a = Assistant(full_settings.with_options(followup_model=missing))
    try:
        with pytest.raises(ModelLoadError, match="eval.train_answerability") as err:
            a.ask(PIXEL_Q)
        assert str(missing) in str(err.value)
    finally:
        a.close()


# ---- the trainer --------------------------------------------------------------------------------
def test_follow_up_training_writes_a_file_that_predicts_like_scikit_learn(tmp_path, full_settings):
    from sklearn.linear_model import LogisticRegression

    from eval.train_followup import FOLLOWUP_C, fit, leave_one_set_out, write_model

    rng = np.random.default_rng(3)
    X = rng.normal(size=(70, len(FOLLOWUP_FEATURES)))
    y = (X[:, 1] - X[:, 4] + rng.normal(scale=0.5, size=70) > 0).astype(int)
    m = fit(X, y)
    path = tmp_path / "followup.json"
    qfile = write_jsonl(tmp_path / "f.jsonl", [{"id": "a"}])
    items = [{"question": f"q{i}", "history": [f"h{i}"], "_file": str(qfile)} for i in range(70)]
    write_model(path, m, items, X, full_settings)
    model = load_model(path)
    Z = (X - X.mean(0)) / X.std(0)
    ref = LogisticRegression(C=FOLLOWUP_C, max_iter=3000).fit(Z, y).predict_proba(Z)[:, 1]
    assert np.allclose([model.probability(dict(zip(FOLLOWUP_FEATURES, row))) for row in X], ref, atol=1e-6)
    assert json.loads(path.read_text())["pinned"]["history"] == ["h0"]
    runs = leave_one_set_out(X, y, np.array(["a"] * 35 + ["b"] * 35), FOLLOWUP_C)
    assert set(runs) == {"a", "b", "pooled"} and runs["pooled"]["n"] == 70


def test_follow_up_items_are_read_from_dev_parts_with_history_only(tmp_path):
    from eval.train_followup import load_follow_ups

    base = {"style": "followup", "type": "factoid", "question": "which datasets?"}
    path = write_jsonl(tmp_path / "f.jsonl", [{**base, "id": "a", "split": "dev", "history": ["Which paper ...?"]},
                                              {**base, "id": "b", "split": "test", "history": ["Which paper ...?"]},
                                              {**base, "id": "c", "split": "dev"}])
    assert [q["id"] for q in load_follow_ups([path])] == ["a"]


def test_the_shipped_model_files_are_distinct():
    assert DEFAULT_FOLLOWUP_MODEL.exists() and DEFAULT_FOLLOWUP_MODEL != DEFAULT_MODEL
    assert load_model(DEFAULT_FOLLOWUP_MODEL).coef.tolist() != load_model().coef.tolist()


# ---- the resolution head ------------------------------------------------------------------------
def test_the_shipped_resolution_head_decides_what_ask_does(assistant):
    head = load_model(DEFAULT_FOLLOWUP_MODEL).resolution
    assert head is not None
    first = assistant.ask(PIXEL_Q)
    decided = {}
    for question in ("how many languages?", "any speedup numbers?", "results on GLUE?", "diffusion models",
                     "which tokenizer does it replace?", "contrastive learning for graphs"):
        features = assistant.resolution_inputs(question, history=[first])
        answer = assistant.ask(question, history=[first])
        kept = PIXEL in answer.query
        if features is None:  # a reference word: kept by the rule of words, never measured
            assert kept, question
            continue
        assert set(features) == set(RESOLUTION_FEATURES)
        assert kept is head.stays(features), question
        decided[question] = kept
    assert decided["how many languages?"] and not decided["diffusion models"]
    assert not decided["contrastive learning for graphs"], "a new topic in keywords is a search"
    assert assistant.resolution_inputs(PIXEL_Q) is None, "no history: nothing to measure"


def test_resolution_training_takes_no_more_self_contained_questions_than_the_rule(tmp_path):
    from eval.train_followup import fit_resolution, rule_stays

    rng = np.random.default_rng(5)
    n = 400
    y = (rng.random(n) < 0.4).astype(int)
    words = rng.integers(2, 21, n).astype(float)
    func = (rng.random(n) < 0.8).astype(float)
    new = np.clip(rng.poisson(np.where(y == 1, 1.0, 2.5)), 0, 6).astype(float)
    best = rng.uniform(0.3, 0.8, n)
    theirs = best - np.abs(rng.normal(np.where(y == 1, 0.03, 0.2), 0.05))
    X = np.column_stack([words, func, new, best, theirs])
    r = fit_resolution(X, y)
    oof = r["out_of_fold"]
    assert oof["taken_for_follow_ups"] <= oof["rule_taken"] + 1
    assert oof["kept"] >= oof["rule_kept"] - 5  # on these rows the rule's cues are the only signal: about as good
    # the rule on rows is rag.conversation.stays_on on the questions the rows describe
    for question, row in (("how big were the F1 gains?", [6, 1, 2, 0.5, 0.45]), ("diffusion models", [2, 0, 0, 0.6, 0.3]),
                          ("false negative rate?", [3, 0, 2, 0.5, 0.46]), ("error rate on MNIST?", [4, 1, 1, 0.5, 0.2])):
        assert bool(rule_stays(np.array([row]))[0]) is stays_on(Fit(*shape(question), int(row[2]), row[3], row[4])), question
        assert shape(question) == (row[0], bool(row[1])), question


def test_a_damaged_resolution_head_says_how_to_rebuild(tmp_path):
    data = json.loads(DEFAULT_FOLLOWUP_MODEL.read_text())
    data["resolution"]["features"] = ["words"]
    path = tmp_path / "followup.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="resolution features") as err:
        load_model(path)
    assert "python -m eval.train_answerability" in str(err.value)
