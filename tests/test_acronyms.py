"""Acronyms written out where the collection writes only the long form (rag.acronyms), on hand-made
texts and on the real index."""
from __future__ import annotations

import pytest

from rag.acronyms import ML_ACRONYMS, Acronyms

TEXTS = ["We report the equal error rate on VoxCeleb.", "Monte Carlo tree search (MCTS) guides the planner.",
         "Vision transformers and reinforcement learning.", "Generative adversarial networks (GANs) for audio."]


@pytest.mark.parametrize("text, written", [
    ("best EER they report?", "best equal error rate they report?"),     # no paper writes EER, one writes its long form
    ("EERs on VoxCeleb?", "equal error rates on VoxCeleb?"),             # a plural
    ("MCTS or beam search?", "MCTS or beam search?"),                    # a paper writes MCTS: it matches as asked
    ("GANs for speech?", "GANs for speech?"),                            # "GANs" is written (plural folded)
    ("did they use RLHF?", "did they use RLHF?"),                        # no paper writes its long form: an unknown stays unknown
    ("ViT results?", "vision transformer results?"),
    ("EER-Net and xEER", "EER-Net and xEER"),                            # parts of names stay
    ("what ASR do they reach?", "what ASR do they reach?"),              # ambiguous: not in the list
])
def test_an_acronym_is_written_out_only_where_the_collection_writes_its_long_form_alone(text, written):
    assert Acronyms(TEXTS).expand(text) == written


def test_every_listed_acronym_has_a_long_form_and_two_capitals_or_more():
    assert all(forms and len(a) >= 3 and sum(c.isupper() for c in a) >= 2 for a, forms in ML_ACRONYMS.items())


def test_the_real_collection_writes_out_eer_and_mcts_and_keeps_its_own_acronyms(assistant):
    listings = assistant.listings()
    assert listings.written("best EER they report?") == "best equal error rate they report?"
    assert listings.written("MCTS or something else?") == "Monte Carlo tree search or something else?"
    assert listings.written("NTK poisons and GNN pruning") == "NTK poisons and GNN pruning"  # written by its papers


def test_a_follow_up_in_an_acronym_the_abstract_writes_out_is_answered_from_it(assistant):
    first = assistant.ask("Which toolkit gives a full speaker embedding pipeline with reproducible recipes and self-supervised front-ends?")
    assert first.citations[0].title.startswith("ESPnet-SPK")
    answer = assistant.ask("best EER they report?", history=[first])
    assert answer.query.startswith("best equal error rate they report?")
    assert not answer.abstained and answer.citations[0].title.startswith("ESPnet-SPK") and "equal error rate" in answer.text
