"""Request frames ("Summarize ...", "Explain X in simple terms", "Recommend a paper on X") and the
words that only phrase a request: what `ask` retrieves with and judges, on the real index and model."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.framing import subject, without_intro
from rag.listings import Listings
from rag.routing import route

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"


@pytest.mark.parametrize("question, expected", [
    ("Explain rectified flow in simple terms.", "rectified flow."),
    ("Could you please explain how DINO denoises anchor boxes?", "DINO denoises anchor boxes?"),
    ("Briefly explain what neural tangent kernels are used for in the backdoor paper.",
     "neural tangent kernels are used for in the backdoor paper."),
    ("Recommend me two good papers to read on model compression", "model compression"),
    ("suggest a paper about test-time adaptation, briefly", "test-time adaptation"),
    ("What should I read about graph transformers?", "graph transformers?"),
    ("Summarize the PIXEL paper like I'm five", "Summarize the PIXEL paper"),
    ("What's the consensus on whether larger batch sizes hurt generalization?", "larger batch sizes hurt generalization?"),
    ("What about TimesNet vs Mamba-ND?", "TimesNet vs Mamba-ND?"),
    ("tl;dr of the TimesNet paper", "the TimesNet paper"),
    ("TimesNet, tl;dr", "TimesNet"),
    ("Which paper should I read first to understand vision transformers?", "vision transformers?"),
    ("Where should I start to understand contrastive learning?", "contrastive learning?"),
    ("Walk me through how SPDER works.", "SPDER works."),
    ("Help me understand how DINO denoises anchor boxes.", "DINO denoises anchor boxes."),
    ("Give me a quick rundown of the grokking papers.", "the grokking papers."),
    ("Which paper studies random walks through graphs?", "Which paper studies random walks through graphs?"),
    # how the answer should look: "line", "sentence", "bullet" are no topic
    ("List the papers that study grokking, with one line each.", "List the papers that study grokking."),
    ("Summarize PIXEL in two sentences.", "Summarize PIXEL."),
    ("Give me the papers on pruning as bullet points", "Give me the papers on pruning"),
    ("Summarize the pruning papers, with citations.", "Summarize the pruning papers."),
    ("Describe DINO and keep it short.", "Describe DINO."),
    # topic words that look like frames stay
    ("Which papers use a line search?", "Which papers use a line search?"),
    ("Which paper encodes molecules as a table?", "Which paper encodes molecules as a table?"),
    ("Which paper writes one sentence per image?", "Which paper writes one sentence per image?"),
    ("Which papers propose explainable recommender systems?", "Which papers propose explainable recommender systems?"),
    ("Explain how many GPUs PIXEL used", "how many GPUs PIXEL used"),
    ("How do recommendation models explain their outputs?", "How do recommendation models explain their outputs?"),
    ("explain", "explain"),  # nothing left: the question as asked
])
def test_subject_takes_off_whole_frames_only(question, expected):
    assert subject(question) == expected


@pytest.mark.parametrize("question, expected", [
    ("I work for a regional power company. Was TIDER tested on electricity data?", "Was TIDER tested on electricity data?"),
    ("As a dermatologist, is there a model classifying skin lesions?", "is there a model classifying skin lesions?"),
    ("I'm a data scientist at a bank, and I want to find fraud in transaction graphs.", "I want to find fraud in transaction graphs."),
    ("Hi! I'm a game designer — which paper generates levels?", "which paper generates levels?"),
    ("I'm a speech therapist interested in systems that read lips from video.", "systems that read lips from video."),
    ("I teach statistics at a community college. I run a small blog; which paper rethinks p-values?",
     "which paper rethinks p-values?"),  # two introductions
    ("I am an ML engineer. Explain rectified flow in simple terms.", "rectified flow."),  # then the request frame
    # what the asker works on is the topic, and a sentence that is not an introduction stays
    ("I work on protein folding. Which paper predicts contacts?", "I work on protein folding. Which paper predicts contacts?"),
    ("I teach a course on graph networks and want the headline numbers", "I teach a course on graph networks and want the headline numbers"),
    ("I'm a bit confused about diffusion. Which paper explains score matching?",
     "I'm a bit confused about diffusion. Which paper explains score matching?"),
    ("I'm looking for a paper arguing that scaling hurts.", "I'm looking for a paper arguing that scaling hurts."),
    ("As a result, which method wins?", "As a result, which method wins?"),
    ("Our small clinic has few labelled scans; which paper learns from few labels?",
     "Our small clinic has few labelled scans; which paper learns from few labels?"),
    ("I'm a radiologist.", "I'm a radiologist."),  # nothing left: as asked
])
def test_the_askers_self_introduction_is_taken_off(question, expected):
    assert subject(question) == expected
    assert without_intro(question) == expected or "rectified" in question


def test_a_format_instruction_is_no_part_of_what_is_retrieved(assistant):
    """"List the papers that study grokking, with one line each." put the "Touch-Line Transformer" first."""
    plain = assistant.ask("List the papers that study grokking.")
    asked = assistant.ask("List the papers that study grokking, with one line each.")
    assert asked.query == plain.query and not asked.abstained
    assert [c.title for c in asked.citations] == [c.title for c in plain.citations]
    assert "grokking" in asked.citations[0].title.lower()


def test_an_introduced_question_is_retrieved_and_judged_without_the_introduction(assistant):
    """"hydrologist" and "agency" are in no abstract: read as topics, they made the collection look as
    if it lacked the asked method (the outsider held-out style: 15 of 16 wrong refusals opened so)."""
    plain = assistant.ask("Which paper turns time series into 2D tensors to model their variations?")
    for intro in ("I work for a regional power company. ", "I'm a hydrologist at a water agency, and "):
        asked = assistant.ask(intro + "which paper turns time series into 2D tensors to model their variations?")
        assert asked.query.lower() == plain.query.lower()
        assert not asked.abstained and asked.citations[0].title.startswith("TimesNet")
        assert abs(asked.confidence - plain.confidence) < 0.01


@pytest.fixture(scope="module")
def listings() -> Listings:
    return Listings(load_corpus([SEEDS]).papers)


@pytest.mark.parametrize("question, field_of", [
    ("Who are the authors of the paper on rectified flow?", True),
    ("authors of the PIXEL paper", True),
    ("What do the authors of TimesNet claim about their model?", False),  # the abstract answers what they claim
    ("What limitations do the authors of the lottery ticket paper mention?", False),
    ("How do the authors of MLP-Mixer mix information across patches?", False),  # was "lists no authors", refused
    ("Why did the authors of TimesNet move to 2D tensors?", False),
])
def test_the_authors_of_a_paper_as_subject_is_a_content_question(listings, question, field_of):
    r = route(question, listings)
    assert r.name == "retrieval" and r.field_of is field_of


@pytest.mark.parametrize("question, title", [
    ("Summarize what the collection says about neural collapse.", "On the Role of Neural Collapse in Transfer Learning"),
    ("Describe the method proposed in the PIXEL paper.", "Language Modelling with Pixels"),
    ("Recommend a paper to read on model compression.",
     "LilNetX: Lightweight Networks with EXtreme Model Compression and Structured Sparsification"),
    ("What do the authors of TimesNet claim about their model?",
     "TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis"),
    ("How do the authors of MLP-Mixer mix information across patches?", "MLP-Mixer: An all-MLP Architecture for Vision"),
])
def test_framed_questions_are_answered_from_the_paper_asked_about(assistant, question, title):
    """Each of these was refused, or answered from a survey that "describes" and "lists", before
    request words stopped counting as topic words."""
    ans = assistant.ask(question)
    assert not ans.abstained, ans.text
    assert ans.citations and ans.citations[0].title == title
    assert ans.generator == "extractive"  # an abstract answers, not the listing


def test_the_framed_question_is_retrieved_and_judged_on_its_subject(assistant):
    ans = assistant.ask("Explain rectified flow in simple terms.")
    assert ans.query == "rectified flow."
    assert ans.citations[0].title.endswith("with Rectified Flow")
    # a question without a frame is retrieved as asked
    assert assistant.ask("What is rectified flow?").query == "What is rectified flow?"


@pytest.mark.parametrize("question, title", [
    ("What problem does the Sequencer paper solve?", "Sequencer: Deep LSTM for Image Classification"),
    ("What is the main idea of RobustFill?", "RobustFill: Neural Program Learning under Noisy I/O"),
    ("Summarize TimesNet.", "TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis"),
    ("tl;dr of the TimesNet paper", "TimesNet: Temporal 2D-Variation Modeling for General Time Series Analysis"),  # was refused
])
def test_a_paper_asked_about_as_a_whole_is_answered_from_its_abstract(assistant, question, title):
    """Named by its own name, and asked nothing but what it is or does: that paper's abstract answers,
    first and alone (before: "the Sequencer paper" retrieved a paper on input sequences, and these were refused)."""
    ans = assistant.ask(question)
    assert not ans.abstained and [c.title for c in ans.citations] == [title]
    assert ans.confidence is None and not assistant.gated(question), "no decision: the abstract is what the paper does"


def test_a_named_paper_ranks_first_and_a_detail_still_goes_to_the_decision(assistant):
    question = "What accuracy does the Sequencer paper report on ImageNet?"
    assert assistant.gated(question)
    ans = assistant.ask(question)
    assert ans.hits[0].title.startswith("Sequencer:") and ans.hits[0].score == max(h.score for h in ans.hits)
    assert [h.rank for h in ans.hits] == list(range(1, len(ans.hits) + 1))
    # a two-word name only as "the <name> paper": "Representation Learning" here is a topic
    assert not assistant.ask("Which papers on Representation Learning use contrastive losses?").hits[0].title.startswith("Representation Learning")


@pytest.mark.parametrize("question, start", [
    ("Explain what the outstanding paper award winners did.", "1 paper with the Outstanding Paper award"),
    ("Recommend papers by Sewoong Oh.", "Sewoong Oh co-authored 1 paper here"),
])
def test_the_router_reads_past_the_frame(assistant, question, start):
    """"Explain" was taken for the topic of a mixed lookup, and nothing was about it."""
    ans = assistant.ask(question)
    assert ans.route == "metadata" and ans.text.startswith(start)
