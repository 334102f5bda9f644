"""Citation checking (rag/citations.py) on crafted answers: markers, renumbering, support, streaming."""
from __future__ import annotations

import random
import re

import pytest

from rag.citations import (Block, CitationRewriter, Source, answer_sentences, assess, check_citations, parse_marker,
                           rewrite_citations, sources_from_citations)


class WordScorer:
    """The Scorer interface (idf, terms, coverage) on plain lowercase words, every idf 1."""

    STOP = {"the", "a", "an", "of", "on", "in", "and", "is", "are", "it", "its", "by", "to", "with", "for", "this", "that", "we"}

    def idf(self, term: str) -> float:
        return 1.0

    def terms(self, text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z0-9%]+", text.lower()) if len(w) > 1 and w not in self.STOP}

    def coverage(self, question_terms: dict[str, float], text_terms: set[str]) -> float:
        total = sum(question_terms.values())
        return sum(w for t, w in question_terms.items() if t in text_terms) / total if total else 0.0


SOURCES = [
    Source(1, "p1", "Sparse Attention for Long Documents",
           (Block("We propose a sparse attention pattern for long documents.", (0, 58)),
            Block("On arXiv summarization it improves ROUGE by 2 points.", (89, 142)),
            Block("Authors: Ada Lovelace, Alan Turing.", None))),
    Source(2, "p2", "Contrastive Pretraining on a Budget",
           (Block("We cut the cost with a memory queue of negatives. Training is 3x cheaper at equal accuracy.", (60, 150)),)),
    Source(3, "p3", "Graph Networks for Molecules", (Block("Our model reaches state of the art on QM9.", (70, 113)),)),
]


@pytest.mark.parametrize("marker, numbers", [
    ("[1]", [1]), ("[ 2 ]", [2]), ("[1, 3]", [1, 3]), ("[1,3]", [1, 3]), ("[1; 3]", [1, 3]),
    ("[1-3]", [1, 2, 3]), ("[1–3]", [1, 2, 3]), ("[1, 2-3]", [1, 2, 3]), ("[3-1]", [3, 1]), ("[1-1000]", list(range(1, 101))),
])
def test_parse_marker_forms(marker, numbers):
    assert parse_marker(marker) == numbers


@pytest.mark.parametrize("text, expected, mapping, invalid", [
    ("Sparse attention helps [1].", "Sparse attention helps [1].", {1: 1}, []),
    # renumbered in order of first appearance
    ("Queues cut cost [2]. Sparse attention helps [1]. Again [2].", "Queues cut cost [1]. Sparse attention helps [2]. Again [1].", {2: 1, 1: 2}, []),
    # out of range: dropped with the space before it, reported
    ("A claim [7]. Another [0] claim [2].", "A claim. Another claim [1].", {2: 1}, [7, 0]),
    # grouped and ranges become adjacent single markers
    ("Both [1, 3].", "Both [1][2].", {1: 1, 3: 2}, []),
    ("All three [1-3].", "All three [1][2][3].", {1: 1, 2: 2, 3: 3}, []),
    ("Mixed [3, 1-2; 9].", "Mixed [1][2][3].", {3: 1, 1: 2, 2: 3}, [9]),
    # repeated and adjacent
    ("Dup [2, 2] and [2][2] and [1][2].", "Dup [1] and [1] and [2][1].", {2: 1, 1: 2}, []),
    ("Adjacent [1][9][2].", "Adjacent [1][2].", {1: 1, 2: 2}, [9]),
    ("Dropped then kept [9] [1] here.", "Dropped then kept [1] here.", {1: 1}, [9]),
    # not citations: left alone
    ("Values in [0.5, 1] and [x] stay.", "Values in [0.5, 1] and [x] stay.", {}, []),
    # whitespace at the ends goes
    ("  \n Leading [3] and trailing.  \n", "Leading [1] and trailing.", {3: 1}, []),
])
def test_rewrite_citations(text, expected, mapping, invalid):
    out, got_mapping, got_invalid = rewrite_citations(text, valid=[1, 2, 3])
    assert (out, got_mapping, got_invalid) == (expected, mapping, invalid)


def test_streamed_rewriting_equals_the_whole_text():
    rng = random.Random(0)
    texts = ["A [3]. B [1, 3] and C [9][1-2].  ", "  Lead [2] tail  ", "X [1][1] y [2] [2].", "open [12", "open [1, 2",
             "z [1][9] [2] end.", "[2] first. Then [1-3] and [1 ,2 ;3]!", "no markers at all", "p < 0.05 [x] [0.5, 1] [1]"]
    for text in texts:
        whole = rewrite_citations(text, [1, 2, 3])[0]
        for _ in range(100):
            rw, out, i = CitationRewriter([1, 2, 3]), "", 0
            while i < len(text):
                k = rng.randint(1, 5)
                out += rw.feed(text[i:i + k])
                i += k
            assert out + rw.finish() == whole, text


def test_held_back_text_is_only_a_possible_marker_or_trailing_space():
    rw = CitationRewriter([1, 2])
    assert rw.feed("Sparse attention ") == "Sparse attention"
    assert rw.feed("helps [") == " helps"
    assert rw.feed("2") == ""
    assert rw.feed("] a lot") == " [1] a lot"
    assert rw.feed(" [x") == " [x"  # cannot become a marker: shown at once
    assert rw.finish() == ""


def test_markers_opening_a_sentence_belong_to_the_one_before():
    sentences = answer_sentences("Sparse attention helps. [1] Queues cut cost [2]. [1][2] Done.")
    assert [(s.text, s.cites) for s in sentences] == [
        ("Sparse attention helps. [1]", [1]), ("Queues cut cost [2]. [1][2]", [2, 1]), ("Done.", [])]


def test_check_citations_scores_support_and_lists_sentences_to_check():
    answer = ("It improves ROUGE by 2 points on arXiv summarization [1]. "
              "Training is 3x cheaper with a memory queue [2, 7]. "
              "It was written by Ada Lovelace and Alan Turing [1]. "
              "Graph models are bad at chemistry [3]. "
              "Transformers dominate vision benchmarks. It is.")
    text, checked = check_citations(answer, SOURCES, WordScorer())
    assert text == ("It improves ROUGE by 2 points on arXiv summarization [1]. Training is 3x cheaper with a memory queue [2]. "
                    "It was written by Ada Lovelace and Alan Turing [1]. Graph models are bad at chemistry [3]. "
                    "Transformers dominate vision benchmarks. It is.")
    assert [c.number for c in checked.citations] == [1, 2, 3]
    assert [c.paper_id for c in checked.citations] == ["p1", "p2", "p3"]
    c1, c2, c3 = checked.citations
    # the cited passage is the block that best covers the sentences citing it, with its span
    assert c1.passage == "On arXiv summarization it improves ROUGE by 2 points." and c1.span == (89, 142)
    assert c1.support == 1.0 and c2.support == 1.0
    assert c3.support is not None and c3.support < 0.4
    assert checked.uncited == ["Transformers dominate vision benchmarks."]  # "It is." has no content word
    assert checked.weak == ["Graph models are bad at chemistry [3]."]
    assert len(checked.warnings) == 1 and "[7]" in checked.warnings[0]


def test_a_metadata_claim_cites_the_metadata_passage():
    text, checked = check_citations("Ada Lovelace and Alan Turing are its authors [1].", SOURCES, WordScorer())
    (c,) = checked.citations
    assert c.passage == "Authors: Ada Lovelace, Alan Turing." and c.span is None and c.support == 1.0


def test_an_answer_without_markers_has_every_sentence_uncited():
    text, checked = check_citations("Sparse attention helps. Queues cut cost.", SOURCES, WordScorer())
    assert checked.citations == [] and checked.uncited == ["Sparse attention helps.", "Queues cut cost."]


def test_assess_works_on_already_numbered_text():
    from rag.types import Citation

    cites = [Citation(1, "p2", "Contrastive Pretraining on a Budget", "Training is 3x cheaper at equal accuracy.", (111, 150))]
    checked = assess("Training is 3x cheaper at equal accuracy. [1]", sources_from_citations(cites), WordScorer())
    assert checked.citations[0].support == 1.0 and checked.uncited == [] and checked.weak == []


def test_extractive_answers_carry_support_scores(assistant):
    answer = assistant.ask("What attack success rate do the NTK-designed poisons reach?")
    assert answer.citations and all(c.support is not None and c.support >= 0.9 for c in answer.citations)
    assert answer.uncited == () and answer.weak == ()
    d = answer.to_dict()
    assert d["uncited"] == [] and d["weak"] == [] and d["citations"][0]["support"] is not None


def test_docstring_examples_of_the_new_modules():
    import doctest

    import rag.citations
    import rag.prompting

    for module in (rag.citations, rag.prompting):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
