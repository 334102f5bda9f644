"""Metrics over plain ids and strings: retrieval, answers, citations, abstention.

Every function is pure and documented with a worked example; the tests check each on hand-made
cases. Paper-level: `ranked` is a list of paper ids best first, `gold` a set of paper ids.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Callable, Iterable, Sequence


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


# ---- semantic similarity ------------------------------------------------------------------------

def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two vectors (the embedder's are unit length, so this is their dot product).

    cosine([1, 0], [1, 0]) -> 1.0;  cosine([1, 0], [0, 1]) -> 0.0
    """
    dot = sum(x * y for x, y in zip(a, b))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


# ---- citation support (ALCE-style, lexical) -----------------------------------------------------
# ALCE (Gao et al., 2023) judges support with an NLI model; none can be downloaded here, so a
# passage "supports" a sentence when it contains at least SUPPORT_THRESHOLD of the sentence's
# content terms, weighted by idf (the harness passes the index's stemmer and BM25 idf; the defaults
# below are plain lowercase words with weight 1). Exact quotes score 1.0; a sentence about
# something else scores near 0. 0.5 asks that most of the sentence's weight (the rare words:
# names, numbers, method words) be found in the passage. Its blind spot is paraphrase with other
# words, which it under-credits: treat a low LLM figure as "check", not "wrong".
SUPPORT_THRESHOLD = 0.5
_STOP = frozenset("""a an the and or but of to in on at for with by from as is are was were be been being this that these
those it its we our they their which who what how does do did has have had not no can will than then also such into
over under between per via using use used both each more most other some any all there here so if""".split())


def content_terms(text: str) -> set[str]:
    """Lowercase words minus stopwords and citation numbers.  content_terms("The cat [1] sat") -> {"cat", "sat"}"""
    return {t for t in _tokens(re.sub(r"\[\d+\]", " ", text)) if t not in _STOP}


def support(sentence: str, passages: Iterable[str], terms: Callable[[str], set[str]] = content_terms,
            weight: Callable[[str], float] = lambda t: 1.0) -> float:
    """Weighted share of the sentence's content terms found in the passages together.

    support("PIXEL renders text as images", ["PIXEL renders text as images."]) -> 1.0
    support("PIXEL renders text as images", ["We study graphs."]) -> 0.0
    """
    wanted = {t: weight(t) for t in terms(sentence)}
    total = sum(wanted.values())
    if not total:
        return 1.0  # nothing to support ("Yes.")
    found: set[str] = set()
    for p in passages:
        found |= terms(p)
    return sum(w for t, w in wanted.items() if t in found) / total


def citation_support(sentences: Sequence[tuple[str, Sequence[str]]], threshold: float = SUPPORT_THRESHOLD,
                     **kw: Any) -> dict[str, float | None]:
    """ALCE citation recall and precision over an answer's sentences, each (text, [cited passages]).

    sentence_recall: share of sentences fully supported by the union of their citations (a
    sentence citing nothing counts as unsupported). passage_precision: share of citations that are
    relevant: the passage alone supports its sentence, or the union does and removing the passage
    breaks that support (ALCE's rule). None when there is no sentence / no citation.

    citation_support([("Cats purr", ["Cats purr loudly"]), ("Dogs bark", ["Fish swim"])])
        -> sentence_recall 0.5, passage_precision 0.5
    """
    supported, relevant, cited = 0, 0, 0
    for text, passages in sentences:
        passages = list(passages)
        full = bool(passages) and support(text, passages, **kw) >= threshold
        supported += full
        for i, p in enumerate(passages):
            cited += 1
            alone = support(text, [p], **kw) >= threshold
            needed = full and support(text, passages[:i] + passages[i + 1:], **kw) < threshold
            relevant += alone or needed
    return {"sentence_recall": supported / len(sentences) if sentences else None,
            "passage_precision": relevant / cited if cited else None}


# ---- uncertainty and latency ----------------------------------------------------------------------

def bootstrap_ci(sample: Sequence[Any], statistic: Callable[[Sequence[Any]], float | None] | None = None,
                 resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` (default: the mean) over `sample`, seeded.

    Resamples the items (questions) with replacement `resamples` times; the interval is the
    (1-level)/2 and (1+level)/2 percentiles of the statistic. None for an empty sample.
    bootstrap_ci([1.0] * 10) -> (1.0, 1.0)
    """
    import numpy as np

    items = [x for x in sample if statistic is not None or x is not None]
    if not items:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(items), size=(resamples, len(items)))
    if statistic is None:  # the mean, vectorized
        stats = np.asarray(items, dtype=float)[idx].mean(axis=1)
    else:
        values = [statistic([items[i] for i in row]) for row in idx]
        stats = np.asarray([v for v in values if v is not None], dtype=float)
        if not len(stats):
            return None
    low, high = np.percentile(stats, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100).  percentile([10, 20, 30, 40], 50) -> 20"""
    vals = sorted(values)
    if not vals:
        return None
    return vals[max(0, math.ceil(q / 100 * len(vals)) - 1)]
