"""Listing questions through the full ask() path, search by author, `rag papers`, and the metadata eval set.

On the shipped-corpus index (conftest `assistant`). Reference sets come from rag.listings lookups whose
counts tests/test_listings.py checks against the pages by hand (top 5%: 11, top 25%: 27, ...).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.index import bm25_query_tokens
from rag.listed import DENSE_BAR
from rag.listings import Lookup

ROOT = Path(__file__).resolve().parent.parent
NTK = "Few-shot Backdoor Attacks via Neural Tangent Kernels"


def items(answer) -> list[int]:
    """The [n] of each list line of an answer."""
    return [int(m.group(1)) for m in re.finditer(r"^\[(\d+)\] ", answer.text, re.M)]


def test_a_list_longer_than_top_k_is_complete_with_one_citation_per_paper(assistant):
    expected = assistant.listings().find(Lookup(tier="poster accept", presentation="in-person"))
    assert len(expected) == 96
    answer = assistant.ask("Which regular poster accepts were presented in person?", top_k=3)
    assert answer.route == "metadata" and not answer.abstained and answer.generator == "listing"
    assert [c.paper_id for c in answer.citations] == [p.paper_id for p in expected]  # all 96, listing order, no cut at top_k
    assert items(answer) == list(range(1, 97)) and [c.number for c in answer.citations] == list(range(1, 97))
    assert answer.text.startswith("96 papers")
    for c in answer.citations:  # each citation quotes that paper's listing line, which states the asked fields
        assert c.span is None and "poster accept" in c.passage and "In-Person" in c.passage
    assert answer.to_dict()["route"] == "metadata"


def test_top_5_percent_question_cites_all_eleven(assistant):
    answer = assistant.ask("Which posters were rated top 5%?")
    assert len(answer.citations) == 11 and len({c.paper_id for c in answer.citations}) == 11
    assert all("top 5% paper" in assistant.paper(c.paper_id).presentation for c in answer.citations)


def test_author_answers_and_variants(assistant):
    plain = assistant.ask("Which papers did Sewoong Oh co-author?")
    assert plain.text.startswith("Sewoong Oh co-authored 1 paper here:") and [c.title for c in plain.citations] == [NTK]
    assert "list no authors" in plain.text  # pages without author lists are said to list none, not claimed to hold none
    for variant in ("Papers by S. Oh?", "which papers did sewoong oh write", "What has SEWOONG OH co-authored?"):
        answer = assistant.ask(variant)
        assert answer.route == "metadata" and [c.title for c in answer.citations] == [NTK], variant
    accents = assistant.ask("What did Petar Velickovic work on here?")
    assert "listed as Petar Veličković" in accents.text and [c.title for c in accents.citations] == ["Dual Algorithmic Reasoning"]
    assert len(assistant.ask("Which papers is MICAH GOLDBLUM on?").citations) == 3


def test_unknown_author_abstains_and_suggests_a_close_name(assistant):
    unknown = assistant.ask("Which papers did Yann Dauphin co-author?")
    assert unknown.abstained and unknown.citations == () and unknown.route == "metadata"
    assert unknown.text.startswith("No paper by Yann Dauphin is in the collection") and "list no authors" in unknown.text
    typo = assistant.ask("Which posters list Sewong Oh as an author?")
    assert typo.abstained and "Did you mean Sewoong Oh?" in typo.text


def test_a_paper_named_by_its_title(assistant):
    count = assistant.ask("How many authors does 'Multi-lingual Evaluation of Code Generation Models' have?")
    assert count.route == "metadata" and "has exactly 25 listed authors" in count.text and len(count.citations) == 1
    unlisted = assistant.ask("Who wrote 'DenseShift: Towards Accurate and Transferable Low-Bit Shift Network'?")
    # its page lists no authors: the answer says so and abstains instead of claiming it has none
    assert unlisted.abstained and "lists no authors" in unlisted.text and unlisted.citations == ()


def test_a_paper_named_by_its_content(assistant):
    who = assistant.ask("Who wrote the PIXEL paper?")
    assert who.generator == "field" and not who.abstained and who.citations[0].title == "Language Modelling with Pixels"
    # labelled as read from one paper's listing, not as a list of papers clearing a bar (the CLI and UI use written_by)
    assert who.written_by.startswith("listing field") and "relevance bar" not in who.written_by
    assert "Phillip Rust" in who.text and "best matching \u201cPIXEL\u201d" in who.text and who.text.endswith("[1]")
    count = assistant.ask("How many authors does the hyperspherical OOD detection paper have?")
    assert "has exactly 4 listed authors" in count.text
    # no paper is about the topic: the answerability decision on the content words abstains, naming no authors
    none = assistant.ask("Who wrote the paper on quantum annealing schedules for protein folding?")
    assert none.abstained and "Authors:" not in none.text


@pytest.mark.parametrize("question, title, verdict, facts", [
    ("Is TimesNet one of the top-25% papers?", "TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis",
     "No", ["poster accept", "#61"]),  # dev item q088: was refused as "no abstract covers top-25 together with TimesNet"
    ("Was PIXEL an oral?", "Language Modelling with Pixels", "Yes", ["Oral presentation"]),
    ("Did the TimesNet paper get an award?", "TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis", "No", []),
])
def test_a_yes_no_listing_check_of_a_paper_named_by_its_content(assistant, question, title, verdict, facts):
    answer = assistant.ask(question)
    assert answer.generator == "field" and not answer.abstained and answer.text.startswith(verdict + ":")
    assert [c.title for c in answer.citations] == [title] and all(f in answer.text for f in facts)


def test_a_yes_no_check_on_a_page_without_tiers_says_the_collection_cannot_tell(assistant):
    # "Sequencer" alone used to retrieve another paper, whose poster line was quoted as the answer
    answer = assistant.ask("Is Sequencer a top-25% paper?")
    assert answer.abstained and "Sequencer: Deep LSTM for Image Classification" in answer.text
    assert "does not say whether it is rated top 25%" in answer.text


def test_a_paper_is_found_by_its_own_name(assistant):
    listings = assistant.listings()
    assert listings.by_id[listings.named_paper("Is Sequencer a top-25% paper?")].title.startswith("Sequencer:")
    assert listings.by_id[listings.named_paper("who wrote Codebook Features?")].title.startswith("Codebook Features:")
    assert listings.named_paper("Is the sequencer any good?") is None  # names match as written


def test_counts_over_metadata_are_exact(assistant):
    answer = assistant.ask("How many top-25% posters are there?")
    assert answer.text.startswith("There are exactly 27 papers rated top 25%") and len(answer.citations) == 27
    assert assistant.ask("How many orals are in the collection?").text.startswith("There are exactly 8 papers")


def test_a_count_over_content_is_an_estimate_with_its_bar(assistant):
    answer = assistant.ask("How many papers are about diffusion?")
    assert answer.route == "retrieval" and answer.generator == "listing" and not answer.abstained
    stated = int(re.search(r"\d+", answer.text).group())
    assert answer.text.startswith("About ") and "estimate from retrieval" in answer.text and f"{DENSE_BAR:.2f}" in answer.text
    assert stated == len(answer.citations) == len(items(answer)) >= 5
    by_id = {h.paper_id: h for h in answer.hits}
    for c in answer.citations:  # every counted paper clears the stated bar
        hit = by_id[c.paper_id]
        words = "diffus" in bm25_query_tokens(f"{hit.paper.title} {hit.paper.abstract}")
        assert words or max(p.dense_score or 0 for p in hit.passages) >= DENSE_BAR


def test_mixed_question_ranks_within_the_lookup(assistant):
    top5 = {p.paper_id for p in assistant.listings().find(Lookup(tier="top 5%"))}
    answer = assistant.ask("Which top-5% posters are about graph neural networks?")
    assert answer.route == "mixed" and {h.paper_id for h in answer.hits} <= top5  # retrieval saw only the lookup's papers
    assert [c.title for c in answer.citations] == ["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"]
    prose = assistant.ask("What do Kenneth Li and his co-authors find about the Othello model?")
    assert prose.route == "mixed" and prose.generator == "extractive"  # not a list question: the generator answers
    assert {c.title for c in prose.citations} == {"Emergent World Representations: Exploring a Sequence Model Trained on a Synthetic Task"}
    none = assistant.ask("Which award-winning posters are about protein folding?")
    assert none.route == "mixed" and none.abstained and none.citations == ()


def test_user_filters_narrow_a_lookup(assistant):
    answer = assistant.ask("Which posters were rated top 5%?", filters={"award": "outstanding"})
    assert [c.title for c in answer.citations] == ["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"]


def test_content_questions_still_go_through_retrieval(assistant):
    answer = assistant.ask("What attack success rate do the NTK-designed poisons reach?")
    assert answer.route == "retrieval" and answer.generator == "extractive" and "90%" in answer.text


def test_search_finds_an_authors_papers(assistant):
    goldblum = {p.paper_id for p in assistant.listings().find(Lookup(authors=("Micah Goldblum",)))}
    assert {h.paper_id for h in assistant.search("Micah Goldblum", k=10)} == goldblum
    assert {h.paper_id for h in assistant.search("Goldblum", k=10)} == goldblum
    assert assistant.search("S. Oh backdoor", k=3)[0].title == NTK
    filtered = assistant.search("graph neural network expressivity", k=3, filters={"award": "outstanding"})
    assert [h.title for h in filtered] == ["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"]


def rag_cli(*args: str, index_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args, "--index-dir", str(index_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_rag_papers_command(full_settings):
    out = rag_cli("papers", "--author", "micah goldblum", "--tier", "top 5%", "--json", index_dir=full_settings.index_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["count"] == 1 and data["papers"][0]["title"] == "The Lie Derivative for Measuring Learned Equivariance"
    text = rag_cli("papers", "--award", "any", "--page", "2", index_dir=full_settings.index_dir)
    assert text.returncode == 0 and text.stdout.startswith("2 of 525 papers") and "[2] " in text.stdout
    bad = rag_cli("papers", "--page", "9", index_dir=full_settings.index_dir)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no page '9'") and "Traceback" not in bad.stderr


def test_metadata_eval_set_is_regenerated_from_the_pages(tmp_path):
    """eval/questions/metadata.jsonl is what its generator writes from the independent stdlib page parser."""
    shipped = (ROOT / "eval" / "questions" / "metadata.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in shipped.splitlines()]
    subprocess.run([sys.executable, "eval/questions/_metadata_gold.py"], cwd=ROOT, check=True, capture_output=True, timeout=60)
    assert (ROOT / "eval" / "questions" / "metadata.jsonl").read_text(encoding="utf-8") == shipped
    assert len(rows) >= 40 and {r["split"] for r in rows} == {"dev", "test"}
    assert sum(len(r["gold_titles"]) >= 10 for r in rows) >= 3 and sum("count" in r for r in rows) >= 5
    assert sum(r["type"] == "unanswerable" for r in rows) >= 5


def test_stated_count_metric():
    import eval.harness as H

    assert H.stated_count("There are exactly 27 papers rated top 25% in the listing metadata:\n[1] A") == 27
    assert H.stated_count("No paper by X is in the collection.") is None
    q = H.Question("c1", "metadata", "How many orals?", ["p1"], count=8)
    from rag.types import Answer, Citation

    answer = Answer("How many orals?", "There are exactly 8 papers presented as orals:\n[1] A", (Citation(1, "p1", "A", "x", None),),
                    False, "listing")
    row = H.score_question(q, ["p1"], answer)
    assert row["count_exact"] == 1.0 and row["citation_precision"] == 1.0
    wrong = H.score_question(H.Question("c2", "metadata", "How many orals?", ["p1"], count=9), ["p1"], answer)
    assert wrong["count_exact"] == 0.0 and "wrong count" in wrong["failures"]


PIXEL = "Language Modelling with Pixels"


@pytest.mark.parametrize("question, quoted", [
    ("Who wrote the PIXEL paper and what does it do?", "PIXEL is a pretrained language model that renders text as images"),
    ("Who are the authors of TimesNet, and what problem does it solve?", "temporal variation modeling"),
])
def test_a_listing_field_and_a_content_part_are_both_answered(assistant, question, quoted):
    """The field from the paper's listing, then the rest quoted from its abstract, on its own line
    (before: the listing line alone, "what does it do" left unanswered)."""
    answer = assistant.ask(question)
    assert not answer.abstained and answer.generator == "field"
    field, content = answer.text.split("\n")
    assert "Authors: " in field and field.endswith("[1]") and quoted in content and "[2]" in content and "[1]" not in content
    listing, *quotes = answer.citations
    assert listing.number == 1 and listing.span is None and "Authors: " in listing.passage
    assert quotes and all(c.number == 2 and c.paper_id == listing.paper_id for c in quotes)
    paper = assistant.paper(listing.paper_id)
    assert all(paper.abstract[c.span[0]:c.span[1]] == c.passage for c in quotes)


def test_a_question_of_listing_fields_only_is_answered_from_the_listing(assistant):
    answer = assistant.ask("Who wrote the PIXEL paper?")
    assert answer.generator == "field" and "\n" not in answer.text and len(answer.citations) == 1
    assert answer.citations[0].title == PIXEL
    from rag.listed import plan  # two listing parts: nothing for the abstract to answer
    assert plan("Was Mid-Vision Feedback presented in person or virtually, and at which poster?", assistant.listings(),
                assistant.settings, None).also is None
