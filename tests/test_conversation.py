"""Follow-up questions: which questions lean on earlier turns, the retrieval query built for them, and
real retrieval on the full corpus finding a follow-up's paper only with the history."""
from __future__ import annotations

import json

import pytest

from rag import Answer, QuestionError
from rag.conversation import needs_context, retrieval_query, turns

NTK_Q = "What attack success rate do the NTK-designed poisons reach?"
NTK = "Few-shot Backdoor Attacks via Neural Tangent Kernels"
PIXEL_Q = "What does PIXEL reconstruct during pretraining instead of predicting tokens?"
PIXEL = "Language Modelling with Pixels"
AWARD_Q = "Which poster won an Outstanding Paper award?"
AWARD = "Rethinking the Expressive Power of GNNs via Graph Biconnectivity"


@pytest.mark.parametrize("question", [
    "What dataset did they use?", "Who wrote it?", "Does it beat BERT?", "Which paper proposes that method?",
    "What does this paper propose?", "What about its robustness to orthographic attacks?", "And the code?",
    "Tell me more", "Which datasets?", "Who are the authors?", "Which poster session was it in?",
    "How does it compare with GPT-3 on SuperGLUE and what compute does it need for pretraining?",
])
def test_questions_that_lean_on_earlier_turns(question):
    assert needs_context(question)


@pytest.mark.parametrize("question", [
    NTK_Q, PIXEL_Q, AWARD_Q, "What is GraphMAE?", "What is contrastive learning?", "Which papers are about diffusion?",
    "Is it possible to detect backdoors without clean data?", "Which paper shows that transformers generalize?",
    "Who is the first author of the Othello world-representation paper, and what was its poster number?",
    "Which papers have simplicity bias as their main topic?", "",
])
def test_self_contained_questions_are_left_alone(question):
    assert not needs_context(question)
    assert retrieval_query(question, [(PIXEL_Q, {"titles": [PIXEL]})]) == question


def test_eval_questions_are_almost_all_self_contained():
    """The 183 held-out questions were written to stand alone: at most a few may look like follow-ups."""
    from pathlib import Path

    questions = [json.loads(line)["question"] for path in sorted((Path(__file__).resolve().parent.parent / "eval" / "questions").glob("*.jsonl"))
                 for line in path.read_text().splitlines() if line.strip()]
    assert len(questions) > 150
    assert sum(needs_context(q) for q in questions) <= 0.03 * len(questions)


def test_query_adds_the_previous_question_and_the_cited_titles():
    history = [("What is GraphMAE?", {"titles": ["GraphMAE"]}), (PIXEL_Q, {"citations": [{"title": PIXEL}, {"title": PIXEL}]})]
    assert retrieval_query("Who wrote it?", history) == f"Who wrote it? | {PIXEL_Q} | {PIXEL}"
    assert retrieval_query("Who wrote it?", []) == "Who wrote it?"
    assert retrieval_query("Who wrote it?", None) == "Who wrote it?"


def test_an_abstained_turn_adds_its_question_and_the_titles_cited_before_it():
    history = [(PIXEL_Q, {"titles": [PIXEL]}), ("How many GPUs were used?", {"abstained": True, "citations": []})]
    assert retrieval_query("Who wrote it?", history) == f"Who wrote it? | How many GPUs were used? | {PIXEL}"


def test_history_items_in_every_documented_form(assistant):
    first = assistant.ask(PIXEL_Q)
    as_json = json.loads(json.dumps(first.to_dict()))
    forms = [[first], [(PIXEL_Q, first)], [as_json], [{"question": PIXEL_Q, "titles": [PIXEL]}], [(PIXEL_Q, as_json)]]
    assert {turns(f)[0].titles for f in forms} == {(PIXEL,)}
    assert {retrieval_query("Who wrote it?", f) for f in forms} == {f"Who wrote it? | {PIXEL_Q} | {PIXEL}"}
    with pytest.raises(QuestionError, match="history item"):
        turns([42])


@pytest.mark.parametrize("first_q, gold, follow_up", [
    (PIXEL_Q, PIXEL, "What about its robustness to orthographic attacks?"),
    (PIXEL_Q, PIXEL, "Which languages did they evaluate it on?"),
    (AWARD_Q, AWARD, "What metric does it introduce?"),
])
def test_follow_up_finds_its_paper_only_with_the_history(assistant, first_q, gold, follow_up):
    first = assistant.ask(first_q)
    assert first.citations[0].title == gold
    alone = assistant.ask(follow_up)
    assert alone.hits[0].title != gold, "without the history the follow-up is about nothing in particular"
    answer = assistant.ask(follow_up, history=[first])
    assert answer.question == follow_up, "the question shown and answered stays the user's words"
    assert answer.query != follow_up and gold in answer.query
    assert answer.to_dict()["query"] == answer.query
    assert [h.title for h in answer.hits] == [gold], "a follow-up that points back is answered from that paper alone"
    assert not answer.abstained and answer.citations[0].title == gold


@pytest.mark.parametrize("follow_up, asked", [
    ("Which poster session was it in?", "Poster Session 3"), ("Who wrote it?", "Jonathan Hayase, Sewoong Oh"),
    ("How many authors does it have?", "exactly 2 listed authors"),
    ("Who are the authors?", "Jonathan Hayase, Sewoong Oh"),  # no reference word, no topic: the earlier paper's
])
def test_a_listing_field_of_the_earlier_paper_is_read_from_its_listing(assistant, follow_up, asked):
    answer = assistant.ask(follow_up, history=[assistant.ask(NTK_Q)])
    assert answer.route == "metadata" and not answer.abstained and asked in answer.text
    assert [c.title for c in answer.citations] == [NTK]


def test_a_follow_up_the_earlier_paper_does_not_answer_is_refused_naming_it(assistant):
    """A new word in a follow-up ("speech recognition") used to pull in another paper, answered confidently."""
    first = assistant.ask(NTK_Q)
    for follow_up in ("Does it also work for speech recognition models?", "Does it also work on graphs?"):
        alone = assistant.ask(follow_up)
        answer = assistant.ask(follow_up, history=[first])
        assert answer.abstained and answer.citations == () and {h.title for h in answer.hits} == {NTK}
        assert f"\u201c{NTK}\u201d, which the earlier answer cites" in answer.text and answer.confidence < 0.5
        assert alone.hits[0].title != NTK, "without the history a different paper ranks first: the restriction does the work"
        lacks = {"Does it also work for speech recognition models?": ("speech recognition",),  # the paper says "models"
                 "Does it also work on graphs?": ("graphs",)}[follow_up]
        assert answer.missing == lacks and answer.text.endswith(f"does not mention \u201c{lacks[0]}\u201d."), answer.text


def test_a_refused_follow_up_names_what_it_asks_and_claims_nothing_of_other_papers(assistant):
    first = assistant.ask(NTK_Q)
    answer = assistant.ask("how many GPUs did they train on?", history=[first])
    assert answer.abstained and answer.missing == ("GPUs",) and "no abstract here" not in answer.text
    assert answer.to_dict()["missing"] == ["GPUs"]


def test_a_follow_up_about_a_list_stays_within_the_listed_papers(assistant):
    listed = assistant.ask("Which papers are about diffusion models?")
    cited = {c.paper_id for c in listed.citations}
    assert len(cited) >= 3
    answer = assistant.ask("Which of them generate images?", history=[listed])
    assert answer.hits and {h.paper_id for h in answer.hits} <= cited
    assert {c.paper_id for c in answer.citations} <= cited
    # the decision on this one sits near the threshold (0.33-0.36 across retrains): answered from those
    # papers, or refused with those papers named
    assert not answer.abstained or answer.text.startswith("None of the abstracts of the papers the earlier answer cites")


def test_follow_up_answer_quotes_the_fact_asked_for(assistant):
    first = assistant.ask(PIXEL_Q)
    answer = assistant.ask("What about its robustness to orthographic attacks?", history=[first])
    assert "orthographic attacks" in answer.text and "[1]" in answer.text


def test_a_new_topic_after_a_chat_is_retrieved_on_its_own(assistant):
    history = [assistant.ask(NTK_Q)]
    alone = assistant.ask(PIXEL_Q)
    with_history = assistant.ask(PIXEL_Q, history=history)
    assert with_history.query == PIXEL_Q
    assert [h.paper_id for h in with_history.hits] == [h.paper_id for h in alone.hits]
    assert with_history.text == alone.text


def test_history_streams_like_ask(assistant):
    first = assistant.ask(PIXEL_Q)
    pieces = list(assistant.ask_stream("Which languages did they evaluate it on?", history=[first]))
    final = pieces[-1]
    assert isinstance(final, Answer) and "".join(pieces[:-1]) == final.text
    assert final.hits[0].title == PIXEL


def test_answer_query_is_the_question_without_history(assistant):
    answer = assistant.ask(NTK_Q)
    assert answer.query == NTK_Q and answer.to_dict()["query"] == NTK_Q


def test_follow_ups_that_ask_for_the_earlier_paper_as_a_whole_or_compare_it(assistant):
    first = assistant.ask("What is MLP-Mixer?")
    assert first.citations[0].title == "MLP-Mixer: An all-MLP Architecture for Vision"
    # nothing asked but what it is: that paper's abstract answers, without the decision
    summary = assistant.ask("Summarize it in simple terms.", history=[first])
    assert not summary.abstained and summary.confidence is None
    assert [c.title for c in summary.citations] == [first.citations[0].title]
    # the earlier paper is one side of a comparison, named in its place
    compared = assistant.ask("How does it compare with MetaFormer?", history=[first])
    assert compared.query in ("How does MLP-Mixer compare with MetaFormer?", "MLP-Mixer | MetaFormer")
    assert not compared.abstained and any(c.title.startswith("MetaFormer") for c in compared.citations)
    # a comparison that names both its sides is not composed with the earlier turn
    other = assistant.ask("What about TimesNet vs Mamba-ND?", history=[first])
    assert other.query == "TimesNet | Mamba-ND" and [c.title.split(":")[0] for c in other.citations] == ["TimesNet", "Mamba-ND"]
    # a follow-up that asks something the paper does not say is still judged, and refused naming it
    speech = assistant.ask("Does it also work for speech?", history=[first])
    assert speech.abstained and "MLP-Mixer" in speech.text


def test_a_follow_up_about_a_paper_whose_title_holds_a_backslash(assistant):
    # "$O(d/\epsilon)$": the title was once used as a regex replacement template, and "\e" raised re.error
    title = next(p.title for p in assistant.papers().values() if "\\epsilon" in p.title)
    first = assistant.ask("Which paper proves that batch-based k-means stops after a bounded number of iterations?")
    assert first.citations and first.citations[0].title == title
    for follow_up in ("How fast does it converge?", "How does it compare with Lloyd's algorithm?"):
        answer = assistant.ask(follow_up, history=[first])
        assert answer.hits and answer.hits[0].title == title
        assert title.split(":")[0] in answer.query


def test_judge_with_history_is_the_decision_ask_makes(assistant):
    first = assistant.ask(PIXEL_Q)
    for follow_up in ("Which languages did they evaluate it on?", "How many GPUs did they train it on?"):
        asked = assistant.ask(follow_up, history=[first])
        verdict = assistant.judge(follow_up, history=[first])
        assert verdict.confidence == pytest.approx(asked.confidence, abs=1e-9)
        assert verdict.answerable is not asked.abstained
    assert assistant.gated("Which languages did they evaluate it on?", history=[first])
