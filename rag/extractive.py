"""The extractive generator: answers by quoting the retrieved sentences that best cover the question.

No model is involved, so it is fast (a few ms), always available, and every word of the answer is
a sentence of an abstract (or a line of listing metadata) with its exact span. It is the default
generator and the fallback when a language model cannot be loaded.

A sentence's score is its idf-weighted coverage of the question's terms (stemmed like BM25, with
the paper's title counting as context), plus a prior for the paper's retrieval rank. The evidence
score that decides abstention blends the best coverage with the top passage's dense similarity;
its weights and threshold were chosen on the dev questions (README, "Abstention").
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .chunking import split_sentences
from .index import Index, bm25_query_tokens
from .prompts import ABSTAIN_TEXT
from .types import Citation, Hit

# How much the paper's retrieval rank counts next to coverage, and the blend for evidence.
RANK_PRIOR = 0.15
COVERAGE_WEIGHT = 0.6
# A sentence of another paper joins the answer only if it covers nearly as much as the best one.
OTHER_PAPER_RATIO = 0.9
SAME_PAPER_RATIO = 0.6
# Questions that ask for several papers ("which papers ...", "compare ...") lower that bar.
_MULTI = re.compile(r"\b(which|what|list|name|any|all)\s+(other\s+)?(papers|works|methods|approaches|studies)\b|\bcompare|\bboth\b|\bpapers\b", re.I)
MULTI_PAPER_RATIO = 0.7


@dataclass
class Candidate:
    """A sentence that could be quoted."""

    hit: Hit
    text: str
    span: tuple[int, int] | None  # in the abstract; None for metadata lines
    coverage: float
    score: float


@dataclass
class Draft:
    """What a generator hands back before citations are finalized."""

    text: str
    citations: list[Citation]
    abstained: bool
    evidence: float
    warnings: list[str] = field(default_factory=list)


class Scorer:
    """Idf-weighted term coverage, with document frequencies read from the BM25 index."""

    def __init__(self, index: Index):
        bm25 = index.bm25
        indptr = bm25.scores["indptr"]
        n = int(bm25.scores["num_docs"])
        self._vocab = bm25.vocab_dict
        self._df = indptr[1:] - indptr[:-1]
        self._n = n
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        tid = self._vocab.get(term)
        df = int(self._df[tid]) if tid is not None and tid < len(self._df) else 0
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5)) if df else self._max_idf

    def terms(self, text: str) -> set[str]:
        return set(bm25_query_tokens(text))

    def coverage(self, question_terms: dict[str, float], text_terms: set[str]) -> float:
        total = sum(question_terms.values())
        return sum(w for t, w in question_terms.items() if t in text_terms) / total if total else 0.0


def candidates(question: str, hits: Sequence[Hit], scorer: Scorer) -> list[Candidate]:
    """Every sentence of the retrieved passages, scored."""
    q_terms = {t: scorer.idf(t) for t in scorer.terms(question)}
    top = hits[0].score if hits else 1.0
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for hit in hits:
        title_terms = scorer.terms(hit.title)
        prior = RANK_PRIOR * (hit.score / top if top else 0.0)
        for passage in hit.passages:
            base = passage.span[0] if passage.span else 0
            for a, b in split_sentences(passage.text):
                text = passage.text[a:b]
                if (hit.paper_id, text) in seen:
                    continue
                seen.add((hit.paper_id, text))
                cov = scorer.coverage(q_terms, scorer.terms(text) | title_terms)
                span = (base + a, base + b) if passage.span else None
                out.append(Candidate(hit, text, span, cov, cov + prior))
    return sorted(out, key=lambda c: -c.score)


def evidence(best: Candidate | None, hits: Sequence[Hit]) -> float:
    """How well the collection answers: coverage of the best sentence blended with dense similarity."""
    if best is None or not hits:
        return 0.0
    dense = max((p.dense_score for p in hits[0].passages if p.dense_score is not None), default=0.0)
    return COVERAGE_WEIGHT * best.coverage + (1 - COVERAGE_WEIGHT) * max(dense, 0.0)


def select(question: str, ranked: list[Candidate], max_sentences: int) -> list[Candidate]:
    """The best sentence, then close runners-up: same paper first, other papers only when close."""
    best = ranked[0]
    other_ratio = MULTI_PAPER_RATIO if _MULTI.search(question) else OTHER_PAPER_RATIO
    chosen = [best]
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences:
            break
        same = cand.hit.paper_id == best.hit.paper_id
        ratio = SAME_PAPER_RATIO if same else other_ratio
        if cand.coverage > 0 and cand.score >= ratio * best.score:
            chosen.append(cand)
    return chosen


class ExtractiveGenerator:
    """Quotes the best-covering sentences with [n] markers; abstains when evidence is weak."""

    name = "extractive"

    def __init__(self, index: Index, max_sentences: int = 3, threshold: float = 0.0):
        self.scorer = Scorer(index)
        self.max_sentences = max_sentences
        self.threshold = threshold

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yields the answer sentence by sentence, then the finished Draft."""
        ranked = candidates(question, hits, self.scorer)
        ev = evidence(ranked[0] if ranked else None, hits)
        if not ranked or ev < self.threshold:
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev)
            return
        chosen = select(question, ranked, self.max_sentences)
        # Keep each paper's sentences together and in abstract order; papers in order of best score.
        order = list(dict.fromkeys(c.hit.paper_id for c in chosen))
        numbers = {pid: i for i, pid in enumerate(order, 1)}
        parts: list[str] = []
        citations: list[Citation] = []
        for pid in order:
            group = sorted((c for c in chosen if c.hit.paper_id == pid), key=lambda c: c.span or (10**9, 0))
            hit = group[0].hit
            n = numbers[pid]
            for c in group:
                quote = c.text if c.span else f"{hit.title}: {c.text}"
                parts.append(f"{quote} [{n}]")
            spans = [c.span for c in group if c.span]
            if spans:
                start, end = min(s[0] for s in spans), max(s[1] for s in spans)
                span = (start, end)  # first to last quoted sentence: always an exact slice of the abstract
                passage = hit.paper.abstract[start:end]
            else:
                passage, span = " ".join(c.text for c in group), None
            citations.append(Citation(number=n, paper_id=pid, title=hit.title, passage=passage, span=span))
        for i, part in enumerate(parts):
            yield part if i == 0 else " " + part
        yield Draft(" ".join(parts), citations, False, ev)

