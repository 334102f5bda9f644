"""Each metric on small hand-made cases with known values; scoring and aggregation of rows."""
from __future__ import annotations

import math

import pytest

from eval import metrics as M
from eval.harness import Question, aggregate, score_question
from rag import Answer, Citation


def test_retrieval_metrics():
    ranked = ["a", "b", "c", "d"]
    assert M.hit_at_k(ranked, {"c"}, 1) == 0.0 and M.hit_at_k(ranked, {"c"}, 3) == 1.0
    assert M.recall_at_k(ranked, {"a", "d", "z"}, 2) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, {"c", "d"}) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, {"z"}) == 0.0
    assert M.ndcg_at_k(ranked, {"b"}, 10) == pytest.approx(1 / math.log2(3))
    assert M.ndcg_at_k(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    # two gold, found at ranks 1 and 3: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert M.ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))


def test_answer_metrics():
    assert M.key_fact_recall("An attack success rate of 90%, with ten times fewer poisons.", ["90%", "ten times", "CIFAR-10"]) == pytest.approx(2 / 3)
    assert M.key_fact_recall("x", []) == 0.0
    assert M.token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert M.token_f1("dog", "cat") == 0.0
    assert M.rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    assert M.rouge_l("", "a") == 0.0


def test_paper_level_citation_metrics():
    assert M.citation_precision(["a", "b", "a"], {"a"}) == 0.5
    assert M.citation_precision([], {"a"}) is None
    assert M.citation_recall(["a"], {"a", "b"}) == 0.5


def test_semantic_similarity_with_the_embedder(assistant):
    same, other, para = assistant.embed(["Transformers read images as patches.", "Bees pollinate flowers in spring.",
                                         "Vision transformers split an image into patches."])
    assert M.cosine(same, same) == pytest.approx(1.0, abs=1e-4)
    assert M.cosine(same, other) < 0.2
    assert M.cosine(same, para) > M.cosine(same, other) + 0.3
    assert M.cosine([1, 0], [0, 1]) == 0.0 and M.cosine([0, 0], [1, 0]) == 0.0


def test_passage_support_is_weighted_term_coverage():
    assert M.support("PIXEL renders text as images", ["PIXEL renders text as images."]) == 1.0
    assert M.support("PIXEL renders text as images [1]", ["We study graphs."]) == 0.0
    # content terms {pixel, renders, text, images}; the passage has two of them
    assert M.support("PIXEL renders text as images", ["text and images"]) == pytest.approx(0.5)
    # weights: a rare term counts more
    weight = {"pixel": 3.0}.get
    assert M.support("PIXEL renders text", ["pixel"], weight=lambda t: weight(t) or 1.0) == pytest.approx(3 / 5)
    assert M.support("It is so.", []) == 1.0  # no content word: nothing to support


def test_alce_sentence_recall_and_passage_precision():
    got = M.citation_support([("Cats purr", ["Cats purr loudly"]), ("Dogs bark", ["Fish swim"])])
    assert got == {"sentence_recall": 0.5, "passage_precision": 0.5}
    # the union supports and each passage is needed: both precise ("cats purr" + "dogs bark" split over two)
    got = M.citation_support([("cats purr dogs bark", ["cats purr", "dogs bark"])])
    assert got == {"sentence_recall": 1.0, "passage_precision": 1.0}
    # a redundant irrelevant passage next to a full one is not precise
    got = M.citation_support([("cats purr", ["cats purr", "fish swim"])])
    assert got == {"sentence_recall": 1.0, "passage_precision": 0.5}
    # a sentence that cites nothing is unsupported; no citation at all: precision None
    assert M.citation_support([("cats purr", [])]) == {"sentence_recall": 0.0, "passage_precision": None}
    assert M.citation_support([]) == {"sentence_recall": None, "passage_precision": None}


def test_abstention_metrics():
    got = M.abstention([True, True, False, False], [True, False, False, True])
    assert got == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "false_abstain_rate": 0.5})
    assert M.abstention([False, False], [False, False]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "false_abstain_rate": 0.0}


def test_bootstrap_ci_and_percentiles():
    assert M.bootstrap_ci([1.0] * 10) == (1.0, 1.0)
    assert M.bootstrap_ci([]) is None
    low, high = M.bootstrap_ci([0.0, 1.0] * 50, resamples=2000, seed=1)
    # mean 0.5, standard error 0.05: the 95% interval is about 0.5 +- 0.098
    assert low == pytest.approx(0.402, abs=0.03) and high == pytest.approx(0.598, abs=0.03)
    assert M.bootstrap_ci([0.0, 1.0] * 50, seed=1) == M.bootstrap_ci([0.0, 1.0] * 50, seed=1)  # seeded
    lo, hi = M.bootstrap_ci([1, 2, 3, 4], statistic=lambda xs: float(max(xs)), resamples=500)
    assert 1 <= lo <= hi == 4
    assert M.percentile([10, 20, 30, 40], 50) == 20 and M.percentile([10, 20, 30, 40], 95) == 40
    assert M.percentile([], 50) is None


def _answer(text, citations, abstained=False):
    return Answer(question="q", text=text, citations=tuple(citations), abstained=abstained, generator="extractive",
                  timings={"total_ms": 12.0, "retrieve_ms": 5.0, "generate_ms": 7.0})


def test_score_question_and_aggregate_on_hand_made_rows():
    q = Question("1", "factoid", "What does PIXEL render?", ["p1"], answer="PIXEL renders text as images.", key_facts=["images"])
    cits = [Citation(1, "p1", "Language Modelling with Pixels", "PIXEL renders text as images.", (0, 29)),
            Citation(2, "p2", "Other", "We study graphs.", (0, 16))]
    row = score_question(q, ["p2", "p1"], _answer("PIXEL renders text as images [1]. It predicts molecule toxicity [2].", cits), similarity=0.9)
    assert row["hit@1"] == 0.0 and row["mrr"] == 0.5 and row["key_fact_recall"] == 1.0
    assert row["citation_precision"] == 0.5 and row["citation_recall"] == 1.0
    assert row["sentence_recall"] == 0.5 and row["passage_precision"] == 0.5  # sentence 2: nothing of it in passage 2
    assert row["semantic_similarity"] == 0.9 and row["failures"] == ["unsupported citations"]

    unans = Question("2", "unanswerable", "How many GPUs?", [])
    missed = score_question(unans, ["p1"], _answer("Eight [1].", cits[:1]))
    assert missed["failures"] == ["missed abstention"] and "hit@1" not in missed
    wrong = score_question(q, ["p1"], _answer("The indexed abstracts do not answer this question.", [], abstained=True))
    assert wrong["failures"] == ["wrong abstention"] and "key_fact_recall" not in wrong

    agg = aggregate([row, missed, wrong], resamples=200)
    assert agg["hit@1"] == 0.5 and agg["key_fact_recall"] == 1.0 and agg["key_fact_recall_all"] == 0.5
    assert agg["abstain_precision"] == 0.0 and agg["abstain_false_abstain_rate"] == 0.5
    assert agg["latency_p50_ms"] == 12.0 and agg["ci"]["hit@1"] == (0.0, 1.0)
