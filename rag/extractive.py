"""The extractive generator: answers by quoting the retrieved sentences that best cover the question.

No model is involved, so it is fast (a few ms), always available, and every word of the answer is
a sentence of an abstract (or a line of listing metadata) with its exact span. It is the default
generator and the fallback when a language model cannot be loaded.

A sentence's score is its idf-weighted coverage of the question's terms (rag.coverage: stemmed like
BM25, with the paper's title counting as context), plus a prior for the paper's retrieval rank. The evidence
score that decides abstention blends the best coverage with the top passage's dense similarity;
its weights and threshold were chosen on the dev questions (README, "Abstention").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

from .chunking import split_sentences
from .citations import assess, sources_from_citations
from .coverage import QUESTION_WORDS, Scorer  # noqa: F401  (QUESTION_WORDS, Scorer: re-exported for older imports)
from .index import Index
from .prompts import ABSTAIN_TEXT
from .types import Citation, Hit

# How much the paper's retrieval rank counts next to coverage when picking sentences.
RANK_PRIOR = 0.15
# Evidence = SENTENCE_WEIGHT * best sentence coverage + (1 - SENTENCE_WEIGHT) * top paper coverage,
# both over the question's content terms (question words removed). The blend is the ratio of the
# two weights of a logistic regression fit on the dev split (eval/tune.py); dense similarity and
# out-of-vocabulary terms added nothing there.
SENTENCE_WEIGHT = 0.32
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
    terms: frozenset[str] = frozenset()  # the sentence's terms plus its paper's title terms


@dataclass
class Draft:
    """What a generator hands back before citations are finalized."""

    text: str
    citations: list[Citation]
    abstained: bool
    evidence: float
    warnings: list[str] = field(default_factory=list)
    uncited: list[str] = field(default_factory=list)  # sentences citing no source (rag.citations)
    weak: list[str] = field(default_factory=list)  # cited sentences their passages barely cover
    generator: str | None = None  # who actually wrote it, when not the generator asked (a fallback)
    model: str | None = None  # the language model that wrote it (and the server host, for a server model)


def candidates(question: str, hits: Sequence[Hit], scorer: Scorer) -> list[Candidate]:
    """Every sentence of the retrieved passages, scored."""
    q_terms = scorer.question_terms(question)
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
                terms = frozenset(scorer.terms(text) | title_terms)
                cov = scorer.coverage(q_terms, terms)
                span = (base + a, base + b) if passage.span else None
                out.append(Candidate(hit, text, span, cov, cov + prior, terms))
    return sorted(out, key=lambda c: -c.score)


def evidence(question: str, ranked: list[Candidate], hits: Sequence[Hit], scorer: Scorer) -> float:
    """How well the collection answers, in [0, 1]: content-term coverage of the best sentence and of the top paper.

    A near-miss question ("How many GPUs trained PIXEL?") finds the right paper, but its distinctive
    terms ("GPUs") are in no sentence of it, so both coverages stay low.
    """
    if not ranked or not hits:
        return 0.0
    content = scorer.question_terms(question, content_only=True)
    if not content:
        return 0.0
    best = max(scorer.coverage(content, c.terms) for c in ranked)
    top = hits[0].paper
    paper_text = " ".join([top.title, top.abstract, *top.authors, top.award or "", top.presentation or "", top.session or ""])
    paper = scorer.coverage(content, scorer.terms(paper_text))
    return SENTENCE_WEIGHT * best + (1 - SENTENCE_WEIGHT) * paper


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
        ev = evidence(question, ranked, hits, self.scorer)
        if not ranked or ev < self.threshold:
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev)
            return
        chosen = select(question, ranked, self.max_sentences)
        # One citation per cited passage: a paper's abstract sentences (one exact span) and its
        # listing metadata (no span) are numbered separately. Sources in order of best score.
        def source(c: Candidate) -> tuple[str, bool]:
            return (c.hit.paper_id, c.span is None)

        order = list(dict.fromkeys(source(c) for c in chosen))
        parts: list[str] = []
        citations: list[Citation] = []
        for n, key in enumerate(order, 1):
            group = sorted((c for c in chosen if source(c) == key), key=lambda c: c.span or (0, 0))
            hit = group[0].hit
            for c in group:
                parts.append(f"{c.text if c.span else f'{hit.title}: {c.text}'} [{n}]")
            if key[1]:  # metadata lines
                passage, span = " ".join(c.text for c in group), None
            else:  # first to last quoted sentence: always an exact slice of the abstract
                span = (group[0].span[0], max(c.span[1] for c in group))
                passage = hit.paper.abstract[span[0]:span[1]]
            citations.append(Citation(number=n, paper_id=hit.paper_id, title=hit.title, passage=passage, span=span))
        for i, part in enumerate(parts):
            yield part if i == 0 else " " + part
        text = " ".join(parts)
        # Support scores and the sentences to check, by the same checker as the LLM's answers (a few ms).
        checked = assess(text, sources_from_citations(citations), self.scorer)
        support = {c.number: c.support for c in checked.citations}
        citations = [replace(c, support=support.get(c.number)) for c in citations]
        yield Draft(text, citations, False, ev, uncited=checked.uncited, weak=checked.weak)

