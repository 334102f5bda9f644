"""Metrics over plain ids and strings: retrieval, answers, citations, abstention.

Every function is pure and documented with a worked example; the tests check each on hand-made
cases. Paper-level: `ranked` is a list of paper ids best first, `gold` a set of paper ids.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Sequence


def hit_at_k(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """1.0 if any gold paper is in the top k.  hit_at_k(["a", "b"], {"b"}, 1) -> 0.0"""
    return float(any(r in gold for r in ranked[:k]))


def recall_at_k(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of gold papers in the top k.  recall_at_k(["a", "b", "c"], {"a", "d"}, 3) -> 0.5"""
    return len(gold & set(ranked[:k])) / len(gold) if gold else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: set[str]) -> float:
    """1 / rank of the first gold paper, 0 if none.  reciprocal_rank(["a", "b"], {"b"}) -> 0.5"""
    return next((1.0 / i for i, r in enumerate(ranked, 1) if r in gold), 0.0)


def ndcg_at_k(ranked: Sequence[str], gold: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k.  ndcg_at_k(["x", "a"], {"a"}, 10) -> 1/log2(3) = 0.6309..."""
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(ranked[:k], 1) if r in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.+-]+", " ", text.lower()).split())


def key_fact_recall(answer: str, facts: Iterable[str]) -> float:
    """Share of key facts found in the answer (case and punctuation insensitive).

    key_fact_recall("Attack success of 90%, with 10x fewer.", ["90%", "20x"]) -> 0.5
    """
    facts = list(facts)
    if not facts:
        return 0.0
    text = f" {_norm(answer)} "
    return sum(f" {_norm(f)} " in text or _norm(f) in text for f in facts) / len(facts)


def citation_precision(cited: Sequence[str], gold: set[str]) -> float | None:
    """Share of cited papers that are gold; None when nothing is cited.  (["a", "b"], {"a"}) -> 0.5"""
    cited_set = set(cited)
    return len(cited_set & gold) / len(cited_set) if cited_set else None


def citation_recall(cited: Sequence[str], gold: set[str]) -> float:
    """Share of gold papers cited.  citation_recall(["a"], {"a", "b"}) -> 0.5"""
    return len(set(cited) & gold) / len(gold) if gold else 0.0


def abstention(predicted: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1 of abstaining on unanswerable questions, and the false-abstain rate.

    abstention([True, True, False], [True, False, False]) ->
        precision 0.5, recall 1.0, f1 0.667, false_abstain_rate 0.5 (1 of 2 answerable)
    """
    tp = sum(p and u for p, u in zip(predicted, unanswerable))
    fp = sum(p and not u for p, u in zip(predicted, unanswerable))
    fn = sum(u and not p for p, u in zip(predicted, unanswerable))
    answerable = sum(not u for u in unanswerable)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_abstain_rate": fp / answerable if answerable else 0.0}


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1.  token_f1("the cat sat", "a cat sat down") -> 2*(2/3*2/4)/(2/3+2/4) = 0.571..."""
    p, r = _tokens(prediction), _tokens(reference)
    common = sum((Counter(p) & Counter(r)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 from the longest common token subsequence.  rouge_l("a b c d", "a c d e") -> 0.75"""
    p, r = _tokens(prediction), _tokens(reference)
    if not p or not r:
        return 0.0
    prev = [0] * (len(r) + 1)
    for x in p:
        cur = [0]
        for j, y in enumerate(r, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)
