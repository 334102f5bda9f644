"""Typo correction against the collection's own words (rag.spelling) and the typo eval's misspeller."""
from __future__ import annotations

import random

import pytest

from eval.typos import misspell
from rag.spelling import Speller, _one_edit, english_words

TEXTS = ["Diffusion models for image generation.", "Contrastive learning efficiency on CIFAR-10.",
         "Hyperbolic embeddings for reinforcement learning; the vice of overfitting."]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(TEXTS)


@pytest.mark.parametrize("typo, fixed", [
    ("difusion models", "diffusion models"),          # a letter left out
    ("contrastvie learning", "contrastive learning"),  # two neighbours swapped
    ("effficiency", "efficiency"),                     # a letter doubled
    ("hyperbolic embedddings", "hyperbolic embeddings"),
])
def test_a_typo_becomes_the_collection_word_one_edit_away(speller, typo, fixed):
    assert speller.correct(typo) == fixed


@pytest.mark.parametrize("text", [
    "voice assistants",  # an English word the collection lacks is not a typo of "vice"
    "Difusion and TransE",  # capitalized: a name
    "gpt-4 and difusion-based",  # hyphenated or with digits: a name
    "quantum chromodynamics",  # nothing one edit away: stays (an absent topic stays absent)
    "embed",  # shorter than five letters
    "the model doesn't generalize",
])
def test_names_english_words_and_far_words_are_left_alone(speller, text):
    assert speller.correct(text) == text


def test_english_words_come_from_the_bundled_vocabulary():
    words = english_words()
    assert len(words) > 15_000 and {"voice", "chess", "poker", "auction"} <= words and "difusion" not in words


def test_one_edit():
    assert _one_edit("difusion", "diffusion") and _one_edit("contrastvie", "contrastive") and _one_edit("modle", "model")
    assert not _one_edit("difusion", "diffusions") and not _one_edit("abc", "abc") and not _one_edit("vision", "visoin_")


def test_misspell_makes_one_edit_a_chosen_word_deterministically():
    q = "Which paper proposes hyperspherical embeddings for out-of-distribution detection?"
    a, b = misspell(q, random.Random(0)), misspell(q, random.Random(0))
    assert a == b != q
    changed = [(x, y) for x, y in zip(q.split(), a.split()) if x != y]
    assert len(changed) == 1 and changed[0][0] == "hyperspherical" and _one_edit(*changed[0])
    long_q = "I am looking for the paper that proposes hyperspherical embeddings with dispersion and compactness losses for detection"
    assert sum(x != y for x, y in zip(long_q.split(), misspell(long_q, random.Random(1)).split())) == 2


def test_a_misspelt_question_is_answered_and_the_setting_turns_it_off(assistant):
    ans = assistant.ask("contrastiv learning effciency")
    assert ans.query == "contrastive learning efficiency" and not ans.abstained
    assert "ontrastive" in ans.citations[0].title
    off = assistant.ask("contrastiv learning effciency", correct_typos=False)
    assert off.query == "contrastiv learning effciency"


def test_search_corrects_typos_too(assistant):
    fixed = [h.paper_id for h in assistant.search("difusion models for tabluar data", k=5)]
    assert fixed == [h.paper_id for h in assistant.search("diffusion models for tabular data", k=5)]
    assert [h.paper_id for h in assistant.search("difusion models for tabluar data", k=5, correct_typos=False)] != fixed



# ---- names written with their hyphens elsewhere ("DINOv2" / "DINO-v2") ------------------------------------------
@pytest.mark.parametrize("text, written", [
    ("dinov2 features", "DINO-v2 features"),            # the collection's form, case and hyphen
    ("ResNet50 on CIFAR10", "ResNet-50 on CIFAR-10"),   # a hyphen the asker left out
    ("StyleGAN-2 faces", "StyleGAN2 faces"),            # a hyphen the collection leaves out
    ("GPT-4 and PaLM2", "GPT-4 and PaLM2"),             # names the collection never writes in any form stay
    ("ResNet-50 and resnet-50", "ResNet-50 and resnet-50"),  # a form the collection writes stays as asked
])
def test_a_name_is_written_as_the_collection_writes_it(text, written):
    s = Speller(["We fine-tune DINO-v2 and ResNet-50 on CIFAR-10 and CIFAR-10 again.", "StyleGAN2 and StyleGAN2 faces."])
    assert s.correct(text) == written


@pytest.mark.parametrize("text, written", [
    ("resnet fifty on cifar ten", "ResNet-50 on CIFAR-10"),      # a voice transcript's spoken numbers
    ("top one accuracy, f one score", "top-1 accuracy, F1 score"),
    ("three d shapes", "3D shapes"),
    ("phase one and two d maps and gpt two", "phase one and two d maps and gpt two"),  # names the collection lacks stay
])
def test_a_spoken_number_after_a_name_is_written_as_the_collection_writes_the_name(text, written):
    s = Speller(["We fine-tune ResNet-50 on CIFAR-10 and report top-1 accuracy and the F1 of 3D shapes."])
    assert s.correct(text) == written


def test_the_most_frequent_form_wins_and_unknown_names_stay():
    s = Speller(["CIFAR-10 and CIFAR-10 and CIFAR10.", "x-ray images"])
    assert s.name("Cifar10") is None and s.name("cifar_10") is None  # "cifar10" is written (once): left alone
    assert s.name("CiFAR10") is None and s.name("Cifar-10") is None  # a written form in any case is left alone
    assert Speller(["CIFAR-10 and CIFAR-10 and CIFAR10-C."]).name("CIFAR10") == "CIFAR-10"
    assert s.name("xray") is None and s.name("Xray-2") is None  # no digits or hyphen asked, or no such name


def test_search_finds_a_name_written_with_other_hyphens(assistant):
    """The collection writes "DINO-v2"; asked "DINOv2", BM25 would read one token no abstract holds."""
    asked = [h.paper_id for h in assistant.search("one-pixel shift flips CLIP DINOv2 representations", k=3)]
    assert asked == [h.paper_id for h in assistant.search("one-pixel shift flips CLIP DINO-v2 representations", k=3)]
    assert "Lost in Translation" in assistant.paper(asked[0]).title
    off = [h.paper_id for h in assistant.search("one-pixel shift flips CLIP DINOv2 representations", k=3, correct_typos=False)]
    assert off != asked

# ---- chat shorthand (rag.shorthand), applied with the speller -----------------------------------------------------
@pytest.mark.parametrize("text, expanded", [
    ("how many params", "how many parameters"),
    ("sota acc on imgs w/o labels", "state-of-the-art accuracy on images without labels"),
    ("SOTA seg w/ fewer hparams", "state-of-the-art segmentation with fewer hyperparameters"),
    ("what lr did they use", "what learning rate did they use"),
    ("LR images to HR", "LR images to HR"),  # upper-case LR is low-resolution, not a learning rate
    ("PARAMS-Net and lib2 and w/o-aug", "PARAMS-Net and lib2 and w/o-aug"),  # parts of names stay
    ("RL for NLP with a GNN", "RL for NLP with a GNN"),  # acronyms the abstracts use stay
    ("the pixel lm", "the pixel language model"),
])
def test_chat_shorthand_is_written_out(text, expanded):
    from rag.shorthand import expand

    assert expand(text) == expanded


def test_a_shorthand_question_is_retrieved_and_judged_written_out(assistant):
    """"params" and "lm" are in no abstract near PIXEL: read as missing topics they made it refuse; and the
    extractive writer, given "params", quoted another paper's sentence with a number in it."""
    ans = assistant.ask("how many params does the pixel lm have")
    assert ans.query == "how many parameters does the pixel language model have"
    assert not ans.abstained and ans.citations[0].title == "Language Modelling with Pixels" and "86M" in ans.text
    assert assistant.ask("how many params does the pixel lm have", correct_typos=False).query == "how many params does the pixel lm have"
    named = assistant.ask("how many params does PIXEL have")
    assert [c.title for c in named.citations][:1] == ["Language Modelling with Pixels"] and "86M" in named.text
