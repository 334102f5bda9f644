"""Idf-weighted term coverage: the one lexical measure the extractive generator, the citation checker
and the answerability signals share.

Terms are BM25's (rag.index.bm25_query_tokens: lowercase, English stopwords removed, Snowball
stems), and a term's weight is its BM25 idf over the index's chunks, so "coverage" agrees with
what retrieval counted. It is lexical on purpose: cheap (no model), exact for quotes (1.0) and
explainable; paraphrase is the embedder's job (rag.answerability).

    >>> s = Scorer.from_counts({"graph": 10, "tabular": 1}, n=100)
    >>> round(s.coverage({"graph": s.idf("graph"), "tabular": s.idf("tabular")}, {"graph"}), 3)
    0.35
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .conversation import SPOKEN_FILLERS
from .index import bm25_query_tokens

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

# A term is salient (a concept word, not a common one) when its idf is at least this share of the
# largest idf: 0.25 is idf 2.0 on the shipped index, about one chunk in eight; relative, so a small
# collection has salient terms too.
SALIENT_SHARE = 0.25
# Words that shape a question but carry no topic (including conversational ones: "has anybody tried ...");
# ignored when measuring evidence or concepts.
QUESTION_WORDS = frozenset("""
what which who whom whose how why when where whether does do did done is are was were be been being has have had
paper papers work works study studies here there collection listing listings listed list find any anything this
that these those one ones about introduce introduced introduces original propose proposed proposes method methods
approach use used uses using show shows report reports reported get gets got achieve achieves achieved also can
could would should much many kind kinds look looking looks need want tell me i im we our you your it its they their
them than then such like entry entries poster posters author authors co wrote write written
anyone anybody someone somebody wonder wondering wondered curious remember try tried trying apply applied applies
applying thing things stuff know seen heard saw mention mentioned mentions please
discuss discusses discussed discussing actually specifically specific particular particularly really exactly basically
kinda sorta talk talks talked talking cover covers covered covering address addresses addressed deal deals tackle tackles
exist exists existing related relevant regarding concerning research researchers literature publication publications
article articles topic topics idea ideas
summarize summarise summarizes summarized summarizing summary summaries overview overviews describe describes
described describing give gives say says said saying brief briefly versus vs between difference differences
compare compares compared comparing comparison comparisons main overall according help helps suggest suggests
claim claims claimed argue argues argued better worse problem problems solve solves solved solving everything
don doesn didn isn aren wasn weren haven hasn cannot ml beginner newbie new am
takeaway takeaways gist tldr contain contains containing include includes including
tbh btw imo imho afaik lol pls plz thx thanks rn ngl hey guys folks whats
yep tho though thank thankyou ty cheers obrigado obrigada gracias merci danke pues vale yaar accha haan lah
""".split()) | SPOKEN_FILLERS
# (The request words that also name topics, "explain" and "recommend", are not here: rag.framing
# takes them off as whole frames, "Explain ... in simple terms", "Recommend a paper on ...".)

_QUESTION_STEMS: frozenset[str] = frozenset()


def question_stems() -> frozenset[str]:
    """QUESTION_WORDS as BM25 terms."""
    global _QUESTION_STEMS
    if not _QUESTION_STEMS:
        _QUESTION_STEMS = frozenset(bm25_query_tokens(" ".join(QUESTION_WORDS)))
    return _QUESTION_STEMS


def content_stems(text: str) -> set[str]:
    """A text's BM25 terms less the question words: what it asks about."""
    return set(bm25_query_tokens(text)) - question_stems()


# Experimental details an abstract seldom states (kind (c) of the answerability sets: compute,
# hyperparameters, sizes, licence, code). A question asking for one that its best paper never
# mentions is likely one the collection cannot answer (rag.answerability's `detail_missing`).
# Words that stem onto common ones are left out ("annotators" -> "annot", "optimizer" -> "optim").
DETAIL_PHRASES = """
gpu | gpus | tpu | tpus | hours | days | minutes | wall clock | compute budget | flops | hardware | cpu | memory |
energy | joules | watts | hyperparameters | hyperparameter | learning rate | batch size | epochs | weight decay |
warmup | random seeds | dropout rate | parameters | parameter count | vocabulary size | resolution | gigabytes |
terabytes | disk | license | licence | licensed | commercial use | github | pytorch | tensorflow | jax | source code |
cost | dollars | price
"""
# The data, modality or setting a question names (kind (b) of the answerability sets: "<a method> for
# <a domain no paper applies it to>"). A question naming one that its best paper never mentions in
# any of these forms is likely asking for a combination no abstract makes (`domain_missing`).
DOMAIN_GROUPS = {
    "video": "video | videos", "speech or audio": "audio | speech | spoken | asr | sound | acoustic",
    "graphs": "graph | graphs | gnn | gnns", "text": "text | language | nlp | llm | llms",
    "medicine": "medical | clinical | patient | patients", "molecules": "molecule | molecules | molecular | protein | proteins | drug",
    "time series": "time series", "point clouds": "point cloud | point clouds | lidar",
    "reinforcement learning": "reinforcement | agent | agents", "robots": "robot | robots | robotic | robotics",
    # "code" as data: "any code?", "code released?", "is the source code available?" ask for an implementation
    "tables": "tabular", "code": "code generation | code completion | code search | code model | code models | code lm | "
    "code lms | code llm | code llms | programming | program | programs", "3D": "3d",
    "images": "image | images | vision | visual | pixel", "federated learning": "federated",
    "recommendation": "recommendation | recommender", "languages": "multilingual", "physics": "physics | pde | pdes",
}
_PHRASE_TERMS: dict[str, list[tuple[str, ...]]] = {}  # "a | b c" -> [("a",), ("b", "c")], computed once


def phrase_terms(forms: str) -> list[tuple[str, ...]]:
    """The "|"-separated phrases of `forms` as BM25 term sequences."""
    got = _PHRASE_TERMS.get(forms)
    if got is None:
        got = _PHRASE_TERMS[forms] = list(dict.fromkeys(tuple(bm25_query_tokens(f)) for f in forms.split("|") if f.strip()))
    return got


def in_sequence(stems: Sequence[str], phrase: tuple[str, ...]) -> bool:
    """Whether the phrase's terms occur contiguously in a term sequence (a question's)."""
    seq = tuple(stems)
    return any(seq[i:i + len(phrase)] == phrase for i in range(len(seq) - len(phrase) + 1))


def text_holds(phrase: tuple[str, ...], terms: frozenset[str], bigrams: frozenset[tuple[str, str]]) -> bool:
    """Whether a text (its term set and adjacent term pairs) holds the phrase: its one term, or each adjacent pair."""
    return phrase[0] in terms if len(phrase) == 1 else all(p in bigrams for p in zip(phrase, phrase[1:]))


def asked_details(stems: Sequence[str]) -> list[tuple[str, ...]]:
    """The detail phrases (DETAIL_PHRASES) a question's term sequence holds.

    >>> asked_details(["gpus", "pretrain", "pixel"]), asked_details(["learn", "rate", "batch", "size"])
    ([('gpus',)], [('learn', 'rate'), ('batch', 'size')])
    """
    return [d for d in phrase_terms(DETAIL_PHRASES) if in_sequence(stems, d)]


def named_domains(stems: Sequence[str]) -> set[str]:
    """The DOMAIN_GROUPS a question's term sequence names.

    >>> sorted(named_domains(["textual", "invers", "video", "generat"]))
    ['video']
    """
    return {g for g, forms in DOMAIN_GROUPS.items() if any(in_sequence(stems, f) for f in phrase_terms(forms))}


def held_domains(terms: frozenset[str], bigrams: frozenset[tuple[str, str]]) -> set[str]:
    """The DOMAIN_GROUPS a text holds in any of their forms."""
    return {g for g, forms in DOMAIN_GROUPS.items() if any(text_holds(f, terms, bigrams) for f in phrase_terms(forms))}


_CACHE: dict[str, frozenset[str]] = {}
CACHE_LIMIT = 200_000  # texts; about the sentences and titles of 20,000 abstracts


def _terms(text: str) -> frozenset[str]:
    """BM25 terms of a text, memoized: the same abstract sentences are tokenized for question after
    question, and each bm25s.tokenize call costs about a millisecond of fixed overhead here."""
    got = _CACHE.get(text)
    if got is None:
        got = frozenset(bm25_query_tokens(text))
        if len(_CACHE) < CACHE_LIMIT:
            _CACHE[text] = got
    return got


def prime_terms(texts: list[str]) -> list[frozenset[str]]:
    """Tokenize many texts in one call (the collection's sentences, once) and remember them."""
    from .index import _bm25_tokenize

    out = [frozenset(t) for t in _bm25_tokenize(list(texts))] if texts else []
    for text, terms in zip(texts, out):
        if len(_CACHE) >= CACHE_LIMIT:
            break
        _CACHE[text] = terms
    return out


class Scorer:
    """Idf-weighted term coverage, with document frequencies read from the BM25 index."""

    def __init__(self, index: "Index"):
        bm25 = index.bm25
        indptr = bm25.scores["indptr"]
        # The index's own arrays, not a copy: a Scorer is made per question and must cost nothing.
        self._init(bm25.vocab_dict, indptr[1:] - indptr[:-1], int(bm25.scores["num_docs"]))

    @classmethod
    def from_counts(cls, df: Mapping[str, int], n: int) -> "Scorer":
        """A scorer over given document frequencies (for tests and small hand-made cases)."""
        self = cls.__new__(cls)
        vocab = {t: i for i, t in enumerate(df)}
        self._init(vocab, [df[t] for t in vocab], n)
        return self

    def _init(self, vocab: Mapping[str, int], df: Sequence[int], n: int) -> None:
        self._vocab = vocab
        self._df = df
        self._n = n
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)  # a term no chunk holds: rarer than any indexed term
        self._question_words = question_stems()

    @property
    def n_docs(self) -> int:
        return self._n

    def df(self, term: str) -> int:
        """How many chunks hold `term` (0: none)."""
        tid = self._vocab.get(term)
        return int(self._df[tid]) if tid is not None and tid < len(self._df) else 0

    def idf(self, term: str) -> float:
        df = self.df(term)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5)) if df else self._max_idf

    @property
    def max_idf(self) -> float:
        return self._max_idf

    def is_salient(self, term: str) -> bool:
        """Rare enough to name a concept (SALIENT_SHARE of the largest idf), and not a question word."""
        return term not in self._question_words and self.idf(term) >= SALIENT_SHARE * self._max_idf

    def terms(self, text: str) -> set[str]:
        return set(_terms(text))

    def is_question_word(self, term: str) -> bool:
        return term in self._question_words

    def question_terms(self, question: str, content_only: bool = False) -> dict[str, float]:
        """The question's terms with their idf; `content_only` drops question words ("which", "paper")."""
        return {t: self.idf(t) for t in self.terms(question) if not (content_only and t in self._question_words)}

    def coverage(self, question_terms: Mapping[str, float], text_terms: Iterable[str] | set[str]) -> float:
        """Share of the weight of `question_terms` whose terms are in `text_terms` (0 when there is none)."""
        total = sum(question_terms.values())
        if not total:
            return 0.0
        text_terms = text_terms if isinstance(text_terms, (set, frozenset)) else set(text_terms)
        return sum(w for t, w in question_terms.items() if t in text_terms) / total


__all__ = ["QUESTION_WORDS", "SALIENT_SHARE", "Scorer", "content_stems", "prime_terms", "question_stems"]
