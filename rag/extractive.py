"""The extractive generator: answers by quoting the retrieved sentences that best cover the question.

No model is involved, so it is fast (a few ms), always available, and every word of the answer is
a sentence of an abstract (or a line of listing metadata) with its exact span. It is the default
generator and the fallback when a language model cannot be loaded.

A sentence's score is its idf-weighted coverage of the question's terms (rag.coverage: stemmed like
BM25, with the paper's title counting as context), plus a prior for the paper's retrieval rank. Which
qualifying sentences are quoted is decided by `select`: each part of a several-part question
(rag.question_parts) gets the sentence that covers it, a list question gets each agreeing paper's
contribution sentence ("we propose X"), and cue and number priors only order sentences that already
qualify on their score (issue 10, docs/answerability.md "Key facts"). The evidence
score that decides abstention blends the best coverage with the top passage's dense similarity;
its weights and threshold were chosen on the dev questions (README, "Abstention").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator, Sequence

from .chunking import metadata_text, split_sentences
from .citations import assess, sources_from_citations
from .coverage import QUESTION_WORDS, Scorer  # noqa: F401  (QUESTION_WORDS, Scorer: re-exported for older imports)
from .index import Index, bm25_query_tokens
from .prompts import ABSTAIN_TEXT
from .question_parts import QUANTITY, Part, asked_count, has_number, names_things, question_parts
from .types import Citation, Hit

if TYPE_CHECKING:  # pragma: no cover
    from .settings import Settings

# Sentences come from the retrieved chunks of every paper, and from the whole abstract and listing line
# of the first WHOLE_PAPERS papers.
WHOLE_PAPERS = 1
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
_MULTI = re.compile(r"\b(which|what|list|name|any|all)\s+(other\s+)?(papers|works|methods|approaches|studies)\b|\bcompare|\bboth\b|\bpapers\b"
                    r"|\beverything\b|\bwhich ones\b|\bwhat(?:'s| is| do you have| does the collection have)\s+(?:\w+\s+){0,3}?(?:on|about)\b", re.I)
MULTI_PAPER_RATIO = 0.7
# ... and a question that says how many papers it wants ("Give me 3 papers on X") lowers it further:
# the asker wants that many, the dense-rank agreement below still has to hold.
COUNT_PAPER_RATIO = 0.5
# Another paper is quoted only when the dense retriever also ranks it among its first papers: fusion
# can lift a paper on shared words alone (seen on the first 250 dev items: 4 of the 5 non-gold papers
# that list questions quoted had no dense rank or one past 10; 17 of the 18 gold ones were within it).
OTHER_DENSE_RANK = 10
# Open each cited source's first quoted sentence with the paper's title.
TITLE_LEAD = True
# A sentence of a chosen paper joins when it adds this share of the question's content weight (a part
# of a several-part question the chosen sentences miss). Chosen on the dev parts for key-fact recall.
PART_GAIN = 0.15
# A part of the question (rag.question_parts) gets its own sentence when that sentence covers at least
# PART_MIN of the part's content weight and PART_MARGIN more than the chosen sentences do; a part
# asking for a quantity counts a sentence with a number NUMBER_BONUS higher.
PART_MIN = 0.5
CONTEXT_SHARE = 0.8  # a lone asking clause shorter than this share of the question follows context
PART_MARGIN = 0.2
NUMBER_BONUS = 0.25
NAME_BONUS = 0.25  # ... and a part asking for named things ("which datasets") a sentence that names some
# Sentences that state what the paper does ("we propose X", "called X", "(ACRONYM)") answer "which
# paper / what method" better than the background sentences that share the question's words: a
# cue-phrase prior, as in classic extractive summarization (Edmundson, 1969).
CUE_BONUS = 0.1
# Ordering only: a sentence's coverage of the question without its paper's title, at this weight.
OWN_WEIGHT = 0.05
_CUE = re.compile(r"\b(?:we|this\s+(?:paper|work|study)|our\s+(?:method|approach|model|framework|work))\s+(?:\w+\s+){0,2}?"
                  r"(?:propose|present|introduce|develop|design|call|term|dub|name|devise|formulate)"
                  r"|\b(?:called|dubbed|named|termed|coined)\b|\b(?:the|our)\s+proposed\b|\((?=[^)]*[A-Z][^)]*[A-Z])[A-Z][\w\-]*\)", re.I)


@dataclass
class Candidate:
    """A sentence that could be quoted."""

    hit: Hit
    text: str
    span: tuple[int, int] | None  # in the abstract; None for metadata lines
    coverage: float
    score: float
    terms: frozenset[str] = frozenset()  # the sentence's terms plus its paper's title terms
    pref: float = 0.0  # score plus the cue and number priors: orders sentences, never admits one (see select)


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


# The listing fields' words (rag.listings: authors, session, presentation, poster number, room, award).
_FIELD_TERMS = frozenset(bm25_query_tokens("author authors session poster presentation oral spotlight room award tier"))


@lru_cache(maxsize=200_000)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans of a passage, memoized: the same abstracts are split for question after question."""
    return tuple(split_sentences(text))


@lru_cache(maxsize=200_000)
def _cue(text: str) -> bool:
    return bool(_CUE.search(text))


@lru_cache(maxsize=200_000)
def _number(text: str) -> bool:
    return has_number(text)


@lru_cache(maxsize=200_000)
def _named(text: str) -> bool:
    return names_things(text)


def candidates(question: str, hits: Sequence[Hit], scorer: Scorer) -> list[Candidate]:
    """Every sentence of the retrieved passages, scored."""
    q_terms = scorer.question_terms(question)
    # What a listing line can answer: the question's content terms, and the listing fields it names
    # ("What poster number ...?", "which tier ...?"), though "poster" and "authors" are question words.
    content = {t for t in q_terms if not scorer.is_question_word(t) or t in _FIELD_TERMS}
    quantity = bool(QUANTITY.search(question))
    top = hits[0].score if hits else 1.0
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for rank, hit in enumerate(hits):
        title_terms = scorer.terms(hit.title)
        prior = RANK_PRIOR * (hit.score / top if top else 0.0)
        passages: list[tuple[str, tuple[int, int] | None]] = [(p.text, p.span) for p in hit.passages]
        if rank < WHOLE_PAPERS:
            # The top papers' whole abstract and listing line, not only the retrieved chunks: a part
            # of the question may be answered in a chunk that retrieval did not rank.
            passages += [(hit.paper.abstract, (0, len(hit.paper.abstract))), (metadata_text(hit.paper), None)]
        for ptext, pspan in passages:
            base = pspan[0] if pspan else 0
            for a, b in _sentences(ptext):
                text = ptext[a:b]
                if (hit.paper_id, text) in seen:
                    continue
                seen.add((hit.paper_id, text))
                own = scorer.terms(text)
                terms = frozenset(own | title_terms)
                cov = scorer.coverage(q_terms, terms)
                span = (base + a, base + b) if pspan else None
                pref = score = cov + prior
                if not pspan and not (own & content):
                    # A listing line ("Session: Poster Session 3") covers the question only through its
                    # paper's title: it answers nothing asked, so it ranks below every sentence. Its other
                    # question words do not count: "top 25% paper" does not answer "Which papers ...?".
                    pref = score = prior
                elif cov > 0:
                    # Ties among sentences whose title covers the question go to what the sentence says itself.
                    pref += OWN_WEIGHT * scorer.coverage(q_terms, own)
                    pref += CUE_BONUS * _cue(text) + (NUMBER_BONUS * _number(text) if quantity else 0.0)
                out.append(Candidate(hit, text, span, cov, score, terms, pref))
    return sorted(out, key=lambda c: -c.pref)


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


def _part_choice(part: Part, ranked: list[Candidate], chosen: list[Candidate], papers: set[str],
                 taken: set[int], scorer: Scorer) -> Candidate | None:
    """The sentence of `papers` that covers `part` best, when the chosen sentences cover it clearly less."""
    terms = scorer.question_terms(part.text, content_only=True)
    if not terms:
        return None

    def fit(c: Candidate) -> float:
        cov = scorer.coverage(terms, c.terms)
        return cov + (NUMBER_BONUS if part.quantity and cov > 0 and _number(c.text) else 0.0) \
            + (NAME_BONUS if part.names and cov > 0 and _named(c.text) else 0.0)

    have = max(fit(c) for c in chosen)
    pool = [c for c in ranked if c.hit.paper_id in papers and id(c) not in taken and c.coverage > 0]
    top = max(pool, key=lambda c: (fit(c), c.pref), default=None)
    if top is None or fit(top) < PART_MIN or fit(top) < have + PART_MARGIN:
        return None
    return top


def select(question: str, ranked: list[Candidate], max_sentences: int, scorer: Scorer | None = None,
           decompose: bool = True, count: int | None = None) -> list[Candidate]:
    """The best sentence, then what the question's parts and papers need, then close runners-up.

    In order, up to `max_sentences`: (1) the best sentence; (2) with `scorer`, for each part of a
    several-part question ("by how much, and on which benchmark?", rag.question_parts), the
    sentence of the chosen paper that covers that part best, when the chosen ones cover it clearly
    less (a part asking for a quantity prefers a sentence with a number); (3) for a question asking
    for several papers, each paper whose best sentence scores close to the best (and that the dense
    retriever also ranks) is represented, before any runner-up, by its contribution sentence ("we
    propose X") among its sentences close to its own best, else by its best; (4) runners-up: same
    paper first, other papers only when close; (5) sentences of the chosen papers that add a share
    PART_GAIN of the question's content weight that the chosen ones lack. `decompose=False` skips (2).
    (2) also runs for a lone asking clause after context sentences, and a part asking for named things
    ("which datasets") prefers a sentence that names some (NAME_BONUS).
    `count`: the question asks for that many papers ("Give me 3 papers on X"): a list question whose
    bar is COUNT_PAPER_RATIO, and no more papers than that.
    """
    best = ranked[0]
    # The bars below compare plain scores (coverage and rank) with the best plain score: the cue and
    # number priors choose among sentences that qualify, they never make a weak sentence qualify.
    bar = max(c.score for c in ranked)
    multi = bool(count) or bool(_MULTI.search(question))
    other_ratio = COUNT_PAPER_RATIO if count else MULTI_PAPER_RATIO if multi else OTHER_PAPER_RATIO
    chosen = [best]
    taken = {id(best)}  # identity: comparing Candidates field by field would compare whole hits

    def room() -> bool:
        return len(chosen) < max_sentences

    def agreed(c: Candidate) -> bool:
        return c.hit.paper_id == best.hit.paper_id or (c.hit.dense_rank is not None and c.hit.dense_rank <= OTHER_DENSE_RANK)

    def take(c: Candidate) -> None:
        chosen.append(c)
        taken.add(id(c))

    parts = question_parts(question) if scorer is not None and decompose else []
    # One asking clause after context ("The gated perceptron competes with the state of the art. On
    # what datasets?"): the best sentence matches the context; the clause gets its own sentence too.
    after_context = len(parts) == 1 and len(parts[0].text) < CONTEXT_SHARE * len(question)
    if len(parts) > 1 or after_context:
        papers = {best.hit.paper_id}
        for part in parts:
            got = _part_choice(part, ranked, chosen, papers, taken, scorer) if room() else None
            if got is not None:
                take(got)
    if multi:
        # Each listed paper is represented by what it does: among its sentences that score close to
        # its best (abstract sentences only), one with a contribution cue ("we propose X") first.
        by_paper: dict[str, list[Candidate]] = {}
        for c in ranked:
            if c.span is not None and c.coverage > 0:
                by_paper.setdefault(c.hit.paper_id, []).append(c)  # each list in `pref` order
        for pid, cands in by_paper.items():
            if not room():
                break
            top = max(c.score for c in cands)
            if pid != best.hit.paper_id and not (top >= other_ratio * bar and agreed(cands[0])):
                continue  # the paper does not qualify
            pool = [c for c in cands if c.score >= SAME_PAPER_RATIO * top]  # its sentences close to its best
            mine = [c for c in chosen if c.hit.paper_id == pid]
            if any(_cue(c.text) for c in mine):
                continue
            rep = next((c for c in pool if _cue(c.text)), None if mine else pool[0])
            if rep is not None and id(rep) not in taken:
                take(rep)
    for cand in ranked[1:]:
        if not room():
            break
        if id(cand) in taken:
            continue
        same = cand.hit.paper_id == best.hit.paper_id
        ratio = SAME_PAPER_RATIO if same else other_ratio
        if cand.coverage > 0 and cand.score >= ratio * bar and agreed(cand):
            take(cand)
    if count:
        keep = list(dict.fromkeys(c.hit.paper_id for c in chosen))[:count]
        chosen = [c for c in chosen if c.hit.paper_id in keep]
    if scorer is None:
        return chosen
    content = scorer.question_terms(question, content_only=True)
    total = sum(content.values())
    papers = {c.hit.paper_id for c in chosen}
    have = set().union(*(c.terms for c in chosen))
    while total and room():
        def gain(c: Candidate) -> float:
            return sum(w for t, w in content.items() if t in c.terms and t not in have) / total
        pool = [c for c in ranked if c.hit.paper_id in papers and id(c) not in taken]
        top = max(pool, key=lambda c: (gain(c), c.pref), default=None)
        if top is None or gain(top) < PART_GAIN:
            break
        take(top)
        have |= top.terms
    return chosen


def last_draft(pieces: Iterator[str | Draft]) -> Draft:
    """The Draft a writer's stream ends with (its text pieces consumed)."""
    draft = None
    for piece in pieces:
        draft = piece
    assert isinstance(draft, Draft)
    return draft


class ExtractiveGenerator:
    """Quotes the best-covering sentences with [n] markers; abstains when evidence is weak."""

    name = "extractive"

    def __init__(self, index: Index, max_sentences: int = 3, threshold: float = 0.0):
        self.scorer = Scorer(index)
        self.max_sentences = max_sentences
        self.threshold = threshold

    def stream(self, question: str, hits: Sequence[Hit], settings: "Settings | None" = None) -> Iterator[str | Draft]:
        """Yields the answer sentence by sentence, then the finished Draft.

        `settings` (this question's) is part of every writer's signature; quoting needs none of them."""
        ranked = candidates(question, hits, self.scorer)
        ev = evidence(question, ranked, hits, self.scorer)
        if not ranked or ev < self.threshold:
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev)
            return
        # "Give me 3 papers on X": as many papers as asked for, if that many clear the bar, and no more.
        count = asked_count(question)
        chosen = select(question, ranked, max(self.max_sentences, count or 0), self.scorer, count=count)
        # One citation per cited passage: a paper's abstract sentences (one exact span) and its
        # listing metadata (no span) are numbered separately. Sources in order of best score.
        def source(c: Candidate) -> tuple[str, bool]:
            return (c.hit.paper_id, c.span is None)

        order = list(dict.fromkeys(source(c) for c in chosen))
        # Quotes keep their abstract's reading order, except that a question asking for an amount
        # ("What attack success rate do ... reach?") opens with the best sentence when it states one:
        # the number is the answer, not the fourth sentence of the quote.
        lead_first = chosen[0] if QUANTITY.search(question) and _number(chosen[0].text) else None
        parts: list[str] = []
        citations: list[Citation] = []
        for n, key in enumerate(order, 1):
            group = sorted((c for c in chosen if source(c) == key), key=lambda c: (c is not lead_first, c.span or (0, 0)))
            hit = group[0].hit
            for i, c in enumerate(group):
                # Each source opens with its title: for "which paper ...?" the title is the answer, and a
                # quote out of context ("We propose X.") needs it.
                lead = f"{hit.title}: " if (i == 0 and TITLE_LEAD) or not c.span else ""
                parts.append(f"{lead}{c.text} [{n}]")
            if key[1]:  # metadata lines
                passage, span = " ".join(c.text for c in group), None
            else:  # first to last quoted sentence: always an exact slice of the abstract
                span = (min(c.span[0] for c in group), max(c.span[1] for c in group))
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

