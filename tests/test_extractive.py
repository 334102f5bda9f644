"""Extractive answers to several-part and list questions (rag/extractive.py, rag/question_parts.py).

Question decomposition on hand-made questions, then answers on the real shipped index: each part of
a several-part question gets its own sentence even when the answer may hold only as many sentences
as there are parts, a single-part question does not grow, and a list question quotes what each
paper proposes.
"""
from __future__ import annotations

import doctest

import pytest

import rag.question_parts
from rag.citations import answer_sentences
from rag.coverage import Scorer
from rag.extractive import Draft, ExtractiveGenerator, candidates, select
from rag.question_parts import has_number, question_parts


# ---- decomposition --------------------------------------------------------------------------------
@pytest.mark.parametrize("question, parts, quantity", [
    ("By how much does GemNet-OC beat the previous state of the art, and on which dataset?",
     ["By how much does GemNet-OC beat the previous state of the art", "on which dataset"], [True, False]),
    ("How many classes and roughly how many images does the dataset have, and what is it called?",
     ["How many classes", "roughly how many images does the dataset have", "what is it called"], [True, True, False]),
    ("What top-1 accuracy does Sequencer2D-L reach; how many parameters does it have?",
     ["What top-1 accuracy does Sequencer2D-L reach", "how many parameters does it have"], [True, True]),
    ("the few-shot backdoor attack with neural tangent kernels — what success rate did it get, with how many poisons?",
     ["what success rate did it get", "with how many poisons"], [True, True]),
    # context that asks nothing is no part: neither a lead-in sentence nor a lead-in phrase
    ("I'm writing a survey on unlearning. Which papers handle sequential deletion requests?",
     ["Which papers handle sequential deletion requests"], [False]),
    ("On YouRefIt, how much does the virtual touch line improve localization?",
     ["how much does the virtual touch line improve localization"], [True]),
    # "and" inside a clause joins nouns, not questions
    ("Which papers study Adam and SGD with large batches?", ["Which papers study Adam and SGD with large batches"], [False]),
    ("diffusion U-Net features for image classification", ["diffusion U-Net features for image classification"], [False]),
])
def test_question_parts(question, parts, quantity):
    got = question_parts(question)
    assert [p.text for p in got] == parts
    assert [p.quantity for p in got] == quantity


def test_parts_are_capped_and_never_empty():
    assert len(question_parts("What is A, what is B, what is C, what is D, what is E, and what is F?")) == rag.question_parts.MAX_PARTS
    assert question_parts("?") == []
    assert question_parts("   PIXEL   ")[0].text == "PIXEL"


@pytest.mark.parametrize("text, number", [
    ("We pretrain the 86M parameter PIXEL model.", True), ("It is ten times cheaper.", True),
    ("An attack success rate of 90%.", True), ("We propose a new attention pattern.", False),
])
def test_has_number(text, number):
    assert has_number(text) is number


def test_docstring_examples():
    result = doctest.testmod(rag.question_parts)
    assert result.attempted > 0 and result.failed == 0


# ---- answers on the shipped index ----------------------------------------------------------------
def _answer(assistant, question: str, max_sentences: int) -> Draft:
    hits = assistant.retriever.search(question, k=assistant.settings.top_k)
    *_, draft = ExtractiveGenerator(assistant.loaded_index, max_sentences=max_sentences).stream(question, hits)
    assert isinstance(draft, Draft) and not draft.abstained
    return draft


PIXEL = "Language Modelling with Pixels"


@pytest.mark.parametrize("question, wanted", [
    ("What does PIXEL reconstruct, how many parameters does it have, and how robust is it to orthographic attacks?",
     ["reconstruct the pixels of masked patches", "86M parameter", "more robust than BERT to orthographic attacks"]),
    ("How robust is PIXEL to orthographic attacks, and what data was it pretrained on?",
     ["more robust than BERT to orthographic attacks", "same English data as BERT"]),
    ("What does PIXEL reconstruct during pretraining, and how many parameters does it have?",
     ["reconstruct the pixels of masked patches", "86M parameter"]),
])
def test_each_part_gets_its_sentence_within_a_tight_budget(assistant, question, wanted):
    # As many sentences as parts: the best-scoring runners-up alone would leave a part out.
    draft = _answer(assistant, question, max_sentences=len(question_parts(question)))
    for piece in wanted:
        assert piece in draft.text, (piece, draft.text)
    assert {c.title for c in draft.citations} == {PIXEL}
    assert not draft.uncited and not draft.weak  # every quoted sentence cited and supported
    for c in draft.citations:
        assert c.span is not None and assistant.papers()[c.paper_id].abstract[c.span[0]:c.span[1]] == c.passage


def test_each_part_gets_its_sentence_in_a_full_answer(assistant):
    answer = assistant.ask("How many parameters does PIXEL have, and how robust is it to orthographic attacks?")
    assert not answer.abstained
    assert "86M parameter" in answer.text and "more robust than BERT to orthographic attacks" in answer.text
    assert answer.citations[0].title == PIXEL


def test_a_single_part_question_does_not_grow(assistant):
    single = assistant.ask("How many parameters does PIXEL have?")
    double = assistant.ask("How many parameters does PIXEL have, and how robust is it to orthographic attacks?")
    assert "86M parameter" in single.text
    # the second part's sentence comes only with the second part
    assert "orthographic attacks and linguistic code-switching" not in single.text
    assert len(answer_sentences(single.text)) <= assistant.settings.answer_sentences
    assert len(answer_sentences(double.text)) <= assistant.settings.answer_sentences
    # the decomposition adds nothing to a one-part question, for any budget
    question = "How many parameters does PIXEL have?"
    assert len(question_parts(question)) == 1
    hits = assistant.retriever.search(question, k=assistant.settings.top_k)
    scorer = Scorer(assistant.loaded_index)
    ranked = candidates(question, hits, scorer)
    for n in (1, 3, 5):
        with_parts = select(question, ranked, n, scorer)
        without = select(question, ranked, n, scorer, decompose=False)
        assert [c.text for c in with_parts] == [c.text for c in without]


def test_a_list_question_quotes_what_each_paper_proposes(assistant):
    answer = assistant.ask("Which papers propose methods for imputing missing values in multivariate time series?")
    assert not answer.abstained
    titles = [c.title for c in answer.citations]
    assert "Multivariate Time-series Imputation with Disentangled Temporal Representations" in titles
    assert "Probabilistic Imputation for Time-series Classification with Missing Data" in titles
    assert "we propose TIDER" in answer.text  # the second paper's contribution, not only its background
    assert len(answer_sentences(answer.text)) <= assistant.settings.answer_sentences


def test_an_asking_clause_after_context_gets_the_sentence_that_names_what_it_asks(assistant):
    """The context sentence matches "competes with state-of-the-art classifiers"; the question asks for
    datasets, which one sentence names (Iris, PIMA Indian) and another only mentions ("complex datasets")."""
    question = ("The gated perceptron supposedly competes with state-of-the-art classifiers. "
                "On what datasets is that claim based?")
    assert [p.names for p in question_parts(question)] == [True]
    answer = assistant.ask(question)
    assert not answer.abstained and answer.citations[0].title == "More Consideration for the Perceptron"
    assert "Iris dataset" in answer.text and "PIMA Indian" in answer.text


def test_a_quantity_part_prefers_the_sentence_with_the_number(assistant):
    draft = _answer(assistant, "How many parameters does PIXEL have?", max_sentences=1)
    assert "86M" in draft.text


def test_a_listing_line_is_not_quoted_for_the_question_words_it_holds(assistant):
    # "Which papers ..." shares only the question word "paper" with a listing line ("Presentation:
    # In-Person Poster presentation / top 25% paper."): that line answers nothing asked.
    question = "Which papers here make contrastive learning cheaper?"
    draft = _answer(assistant, question, max_sentences=3)
    assert all(c.span is not None for c in draft.citations), [c.passage for c in draft.citations]
    hits = assistant.retriever.search(question, k=assistant.settings.top_k)
    ranked = candidates(question, hits, Scorer(assistant.loaded_index))
    lines = [c for c in ranked if c.span is None]
    assert lines and max(c.pref for c in lines) < min(c.pref for c in ranked if c.span is not None and c.coverage > 0)


def test_a_listing_line_answers_the_listing_fields_a_question_names(assistant):
    # "poster" and "tier" are listing fields: the line "Poster: #31 ... top 5% paper" answers them,
    # although "poster" is also a question word ("Which posters ...?").
    question = "What poster number was the award-winning GNN biconnectivity paper, and which tier was it in?"
    draft = _answer(assistant, question, max_sentences=3)
    lines = [c.passage for c in draft.citations if c.span is None]
    assert lines and "#31" in lines[0] and "top 5% paper" in lines[0], draft.text


def test_a_quantity_answer_opens_with_the_sentence_that_states_it(assistant):
    answer = assistant.ask("What attack success rate do the NTK-designed poisons reach?")
    first = answer_sentences(answer.text)[0].text
    assert "attack success rate of 90%" in first, answer.text
    c = answer.citations[0]  # the citation still quotes one exact slice of the abstract, first to last sentence
    assert assistant.papers()[c.paper_id].abstract[c.span[0]:c.span[1]] == c.passage and "90%" in c.passage


@pytest.mark.parametrize("question, n", [
    ("Give me 3 papers on graph neural networks", 3),
    ("Give me two papers on graph neural networks", 2),
    ("Which papers study graph neural networks?", None),  # no count: as many as clear the list bar
])
def test_a_question_that_says_how_many_papers_gets_that_many(assistant, question, n):
    draft = _answer(assistant, question, max_sentences=assistant.settings.answer_sentences)
    papers = {c.paper_id for c in draft.citations}
    if n is None:
        assert len(papers) >= 2
    else:
        assert len(papers) == n, [c.title for c in draft.citations]
