"""Comparison questions asked side by side (rag.comparison): parsing, and answers on the real index and model."""
from __future__ import annotations

import re

import pytest

from rag.comparison import combine, comparison, merged
from rag.types import Citation

HYPER = "How to Exploit Hyperspherical Embeddings for Out-of-Distribution Detection?"


@pytest.mark.parametrize("question, names, queries", [
    ("What's the difference between hyperspherical and hyperbolic embeddings in these papers?",
     ("hyperspherical embeddings", "hyperbolic embeddings"), ("hyperspherical embeddings", "hyperbolic embeddings")),
    ("Compare MLP-Mixer with MetaFormer", ("MLP-Mixer", "MetaFormer"), ("MLP-Mixer", "MetaFormer")),
    ("How does DINO differ from DETR?", ("DINO", "DETR"), ("DINO", "DETR")),
    ("TimesNet vs. Mamba-ND for time series?", ("TimesNet", "Mamba-ND"), ("TimesNet for time series", "Mamba-ND for time series")),
    ("Which is better for OOD detection, hyperspherical embeddings or energy scores?",
     ("hyperspherical embeddings", "energy scores"), ("hyperspherical embeddings for OOD detection", "energy scores for OOD detection")),
    ("Are transformers better than CNNs for vision here?", ("transformers", "CNNs"), ("transformers for vision", "CNNs for vision")),
    ("What is TimesNet and how does it compare to Mamba-ND?", ("TimesNet", "Mamba-ND"), ("TimesNet", "Mamba-ND")),
])
def test_comparisons_are_split_into_their_sides(question, names, queries):
    got = comparison(question)
    assert got is not None and got.names == names and got.queries == queries


@pytest.mark.parametrize("question", [
    "How much faster is SPDER compared with prior methods?",  # one paper against its baselines
    "RobustFill synthesis accuracy vs prior neural",
    "DINO DETR COCO AP 12 vs 24 epochs",  # a quantity, not a thing
    "Compare the approaches to test-time adaptation in the collection.",  # one topic, not two
    "Two papers here look at Adam vs SGD and batch size. What does each conclude?",
    "Which papers compare contrastive learning methods?",
    "What is the difference between the two?",
])
def test_questions_that_compare_no_two_things_are_not_split(question):
    assert comparison(question) is None


def test_combine_numbers_the_sides_citations_on():
    a = Citation(number=1, paper_id="a", title="A", passage="x", span=(0, 1))
    b = Citation(number=1, paper_id="b", title="B", passage="y", span=(0, 1))
    text, cites = combine(["X", "Y"], ["A: x [1]", "B: y [1] and z [1]"], [[a], [b]])
    assert text == "On X \u2014 A: x [1]\nOn Y \u2014 B: y [2] and z [2]"
    assert [(c.number, c.paper_id) for c in cites] == [(1, "a"), (2, "b")]


def test_merged_alternates_the_sides_papers(assistant):
    x = assistant.search("hyperspherical embeddings", k=3)
    y = assistant.search("hyperbolic embeddings", k=3)
    both = merged(x, y, 4)
    assert [h.paper_id for h in both[:2]] == [x[0].paper_id, y[0].paper_id]
    assert [h.rank for h in both] == [1, 2, 3, 4] and len({h.paper_id for h in both}) == 4


def test_two_papers_are_compared_side_by_side(assistant):
    """Judged as one question, two names no single abstract joins look like an unjoined pair."""
    question = "What is the difference between TimesNet and Mamba-ND?"
    ans = assistant.ask(question)
    assert not ans.abstained and ans.generator == "extractive"
    assert [c.title for c in ans.citations] == ["TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis",
                                                "Mamba-ND: Selective State Space Modeling for Multi-Dimensional Data"]
    first, second = ans.text.split("\nOn Mamba-ND \u2014 ")
    assert first.startswith("On TimesNet \u2014 TimesNet: ") and "[1]" in first and "[2]" not in first
    assert second.startswith("Mamba-ND: ") and "[2]" in second and "[1]" not in second
    assert 2 <= len(re.findall(r"\[1\]", first)) <= 3, "half a plain answer's sentences a side"
    for c in ans.citations:  # exact slices of each abstract
        assert assistant.paper(c.paper_id).abstract[c.span[0]:c.span[1]] == c.passage
    assert ans.query == "TimesNet | Mamba-ND" and 0 < ans.confidence < 1
    assert [h.title for h in ans.hits[:2]] == [c.title for c in ans.citations]
    assert not assistant.gated(question), "judged side by side, so not on the question as a whole"


def test_one_paper_that_names_both_sides_answers_as_one(assistant):
    ans = assistant.ask("How does DINO differ from DETR?")
    assert not ans.abstained and ans.citations[0].title.startswith("DINO: DETR with Improved DeNoising")
    assert not ans.text.startswith("On ") and ans.query == "How does DINO differ from DETR?"
    assert assistant.gated("How does DINO differ from DETR?")


def test_a_side_the_collection_lacks_is_named(assistant):
    ans = assistant.ask("Compare hyperspherical embeddings with quantum error correction codes")
    assert ans.abstained and ans.missing == ("quantum error correction codes",)
    assert ans.citations and ans.citations[0].title == HYPER
    assert "covers hyperspherical embeddings [1]" in ans.text and "no abstract here covers quantum error correction codes" in ans.text
    # neither side: the plain abstention
    none = assistant.ask("Compare sourdough fermentation with medieval tapestry weaving")
    assert none.abstained and none.missing == () and none.citations == ()


def test_one_abstract_with_every_word_of_both_sides_answers_as_one(assistant):
    ans = assistant.ask("CANIFE empirical epsilon vs theoretical DP bound")
    assert not ans.abstained and not ans.text.startswith("On ")
    assert ans.citations[0].title.startswith("CANIFE: Crafting Canaries") and "lower than the theoretical bound" in ans.text
