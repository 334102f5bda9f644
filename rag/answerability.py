"""Answerability: does the collection answer this question? Signals, the shipped model, partial answers.

The decision is made once per question, by the Assistant, after retrieval and before any generator
runs (so it also decides whether a language model is called). It is a small logistic regression
over signals that survive paraphrase (trained by `python -m eval.train_answerability` on the dev
parts of the question sets; README "Answerability"):

- semantic: cosine of the question, and of each of its salient phrases, to the best passages
  (chunk vectors read once from the index; the question vector is the one retrieval computed);
- concept coverage: the question's salient terms (rag.coverage.Scorer.is_salient: rarer than about one
  chunk in eight) weighted by rarity, found in the top paper and in its neighbours;
- co-occurrence: whether those terms appear together in any single abstract of the collection;
- retrieval scores and margins (fused, dense, BM25), as features, never as a lone threshold.

When the answer is no, `partial` says what the closest papers have and what they lack (a partial
answer, `Answer.missing`), unless the question touches the collection too little (a plain
abstention). This module never calls a generator and never trains anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .answer_model import DEFAULT_FOLLOWUP_MODEL, DEFAULT_MODEL, MODEL_FORMAT, REBUILD, Model, PairHead, file_sha256, load_model, model_to_dict
from .chunking import split_sentences
from .coverage import Scorer, asked_details, held_domains, named_domains, prime_terms, text_holds
from .index import _bm25_tokenize
from .question_parts import AMOUNT, ASKS_LIST, asked_phrases, guesses, named_things, question_parts
from .types import Citation, Hit

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

MAX_PHRASES = 3
SENTENCE_WEIGHT = 0.32  # rag.extractive.SENTENCE_WEIGHT: the blend of the former evidence score
MAX_WORDS = 4

FEATURES = (
    "lex_sentence",       # best sentence of the top papers (with its title) on the question's content terms
    "lex_evidence",       # the former lone gate: 0.32 * lex_sentence + 0.68 * lex_top_paper (rag.extractive)
    "lex_passage",        # best retrieved passage's coverage of the question's content terms
    "lex_top_paper",      # top paper's coverage of the content terms
    "lex_topk",           # the top papers' union covers
    "sal_top_paper",      # top paper's coverage of the salient (rare) terms, rarity-weighted
    "sal_best_paper",     # the best single top-k paper on salient terms
    "sal_cooc_any",       # the best single paper of the whole collection: do the salient terms co-occur anywhere?
    "sal_split_gap",      # union of the top papers minus the best single one: concepts split across papers
    "oov_share",          # weight of content terms no chunk holds (a topic the collection lacks)
    "missing_idf",        # rarest salient term the top paper lacks (idf / max idf)
    "bigram_any",         # share of the question's adjacent term pairs found as a pair in some abstract or title
    "bigram_top_paper",   # ... in the top paper
    "bigram_best_paper",  # ... in the best single top-k paper
    "sem_top",            # cosine of the question to its best passage anywhere
    "sem_top_paper",      # ... to the top paper's best passage
    "sem_margin",         # top paper's best cosine minus the second paper's
    "phr_min_top",        # the least-covered salient phrase's best cosine in the top paper
    "phr_min_joint",      # best top-k paper on its least-covered phrase (semantic co-occurrence)
    "phr_min_any",        # the least-covered phrase's best cosine anywhere
    "word_min_top",       # of the salient words the top paper lacks (rarest MAX_WORDS), the lowest best cosine there
    "word_mean_top",      # rarity-weighted mean over all salient words: 1 if the top paper holds it, its cosine, or 0 (past MAX_WORDS)
    "word_min_joint",     # the best top-k paper on its least-covered lacking word (word-level co-occurrence)
    "word_min_any",       # the least-covered lacking word's best cosine anywhere (1 if some abstract has it)
    "fused_top",          # the fused retrieval score of the top paper
    "fused_margin",       # ... minus the second paper's
    "bm25_top_norm",      # top passage BM25 score over the question's total idf
    "rank_agree",         # 1 when dense and BM25 both rank the top paper first
    "sem_pair",           # the model's learned pair score of (question vector * top paper's best passage vector); 0 without one
    "detail_missing",     # 1 when the question asks for an experimental detail (rag.coverage.DETAIL_PHRASES) the top paper never names
    "domain_missing",     # 1 when the question names a data type or setting (rag.coverage.DOMAIN_GROUPS) the top paper never mentions
    "asks_list",          # 1 when the question asks for papers in the plural or for anything on a topic (rag.question_parts.ASKS_LIST)
    "focus_missing",      # share (idf-weighted) of what the wh-phrases ask for (rag.question_parts.asked_phrases) that the top paper never names
    "ask_sal_top",        # sal_top_paper over the asking clauses only (rag.question_parts), context sentences left out
    "ask_lex_top",        # lex_top_paper over the asking clauses only
    "context_share",      # share (idf-weighted) of the salient terms that only the context sentences hold
    "guess_missing",      # 1 - the best-held candidate answer the question offers (rag.question_parts.guesses); 0 when it offers none
    "number_missing",     # 1 when a part asks for an amount (rag.question_parts.QUANTITY) and the top paper's abstract states none (AMOUNT)
    "names_missing",      # 1 when a part asks for named things (rag.question_parts.NAMES) and the top paper's abstract names none the question and title do not
)
# Read by the follow-up model only (the main model's file lists FEATURES, and its trainer fits those):
# a follow-up is judged against the earlier answer's papers, and "Could it train spiking neural
# networks?", "Did they use ViT backbones?" bring in a concept those papers lack but other papers are
# about. Dev follow-ups (eight writers, about 715 resolved): leave-one-set-out pooled F1 0.778 ->
# 0.798, worst set 0.632 -> 0.690, wrong refusals 4.1% both; with follow-ups judged written out still
# +0.009 (docs/answerability.md, "Fourteenth round").
FOLLOWUP_ONLY = (
    "lack_titled",        # rarest salient term (idf / max idf) that no retrieved paper holds and another paper's title does
)
FOLLOWUP_FEATURES = FEATURES + FOLLOWUP_ONLY
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-\.]*[A-Za-z0-9]|[A-Za-z0-9]")


@dataclass(frozen=True)
class Phrase:
    """A run of question words between stopwords, with its salient terms."""

    text: str
    terms: tuple[str, ...]  # salient stems, in order


@dataclass
class Signals:
    """What one question's features were computed from; `missing`/`covered` feed a partial answer."""

    features: dict[str, float]
    salient: dict[str, float]  # stem -> idf
    words: list[tuple[str, tuple[str, ...]]]  # the question's words and their stems, in order
    paper_terms: list[frozenset[str]]  # per hit
    phrases: list[Phrase] = field(default_factory=list)
    phrase_sims: list[list[float]] = field(default_factory=list)  # per hit, per phrase: best cosine
    pair: np.ndarray | None = None  # question vector * the top paper's best passage vector (the pair head's input)
    asked: list[list[tuple[str, tuple[str, ...]]]] = field(default_factory=list)  # each wh-phrase's words and stems
    follow_up: bool = False  # a follow-up about the earlier answer's papers, judged by the follow-up model (set by the Assistant)


@dataclass(frozen=True)
class Verdict:
    """The decision for one question."""

    answerable: bool
    confidence: float | None  # calibrated probability that the collection answers (None: no model)
    features: dict[str, float]
    missing: tuple[str, ...] = ()
    text: str | None = None  # the partial answer, when there is one
    citations: tuple[Citation, ...] = ()


class Collection:
    """Per-index data the signals need, built once on first use: term sets and chunk vectors."""

    def __init__(self, index: "Index", scorer: Scorer | None = None):
        self.index = index
        self.scorer = scorer or Scorer(index)
        pids = list(index.papers)
        texts = [" ".join([p.title, p.abstract, *p.authors, p.award or "", p.presentation or "", p.session or ""])
                 for p in index.papers.values()]
        tokens = _bm25_tokenize(texts)
        self.paper_terms = {pid: frozenset(t) for pid, t in zip(pids, tokens)}
        self.paper_bigrams = {pid: frozenset(zip(t, t[1:])) for pid, t in zip(pids, tokens)}
        self.bigrams = frozenset().union(*self.paper_bigrams.values()) if self.paper_bigrams else frozenset()
        self.title_terms = {pid: frozenset(t) for pid, t in zip(pids, _bm25_tokenize([p.title for p in index.papers.values()]))}
        self.title_postings = _postings(self.title_terms)
        self.chunk_terms = [frozenset(t) for t in _bm25_tokenize([c.text for c in index.chunks])]
        # Every abstract sentence's terms, by paper (the extractive generator quotes sentences).
        # (Primed into rag.coverage's cache: the extractive generator tokenizes the same sentences.)
        spans = [(pid, p.abstract[a:b]) for pid, p in index.papers.items() for a, b in split_sentences(p.abstract)]
        self.sentence_terms: dict[str, list[frozenset[str]]] = {}
        for (pid, _), t in zip(spans, prime_terms([text for _, text in spans] + [p.title for p in index.papers.values()])):
            self.sentence_terms.setdefault(pid, []).append(t | self.title_terms[pid])
        self.states_amount = {pid: bool(AMOUNT.search(p.abstract)) for pid, p in index.papers.items()}
        # The names (lowercased) each abstract's sentences hold beyond its title's words (`names_missing`).
        names: dict[str, set[str]] = {}
        for pid, text in spans:
            names.setdefault(pid, set()).update(n.lower() for n in named_things(text))
        self.new_names = {pid: frozenset(names.get(pid, set()) - {w.lower() for w in _WORD.findall(p.title)})
                          for pid, p in index.papers.items()}
        self.postings = _postings(self.paper_terms)
        got = index.collection.get(include=["embeddings"])
        matrix = np.zeros((len(index.chunks), len(got["embeddings"][0]) if len(got["ids"]) else 1), dtype=np.float32)
        for cid, vec in zip(got["ids"], got["embeddings"]):
            if cid in index.chunk_pos:
                matrix[index.chunk_pos[cid]] = vec
        self.chunk_vectors = matrix
        self.paper_chunks: dict[str, list[int]] = {}
        for i, c in enumerate(index.chunks):
            self.paper_chunks.setdefault(c.paper_id, []).append(i)


def _postings(terms_by_paper: dict[str, frozenset[str]]) -> dict[str, set[str]]:
    """term -> the papers whose term set holds it."""
    out: dict[str, set[str]] = {}
    for pid, terms in terms_by_paper.items():
        for t in terms:
            out.setdefault(t, set()).add(pid)
    return out


def question_words(question: str) -> list[tuple[str, tuple[str, ...]]]:
    """The question's words with their BM25 stems (a stopword has none).

    >>> question_words("Diffusion models for tabular data?")
    [('Diffusion', ('diffus',)), ('models', ('model',)), ('for', ()), ('tabular', ('tabular',)), ('data', ('data',))]
    """
    words = _WORD.findall(question)
    return [(w, tuple(t)) for w, t in zip(words, _bm25_tokenize(words) if words else [])]


def salient_terms(words: list[tuple[str, tuple[str, ...]]], scorer: Scorer) -> dict[str, float]:
    """The salient stems (rag.coverage.Scorer.is_salient: rare, not question words), with their idf."""
    return {t: scorer.idf(t) for _, ts in words for t in ts if scorer.is_salient(t)}


def phrases(words: list[tuple[str, tuple[str, ...]]], salient: dict[str, float], scorer: Scorer) -> list[Phrase]:
    """Runs of words between stopwords and question words that hold a salient term, rarest first.

    >>> s = Scorer.from_counts({"diffus": 3, "model": 900, "tabular": 1, "data": 500}, n=1000)
    >>> w = question_words("Which paper uses diffusion models for tabular data?")
    >>> [p.text for p in phrases(w, salient_terms(w, s), s)]
    ['tabular data', 'diffusion models']
    """
    runs: list[list[tuple[str, tuple[str, ...]]]] = [[]]
    for w, ts in words:
        if not ts or all(scorer.is_question_word(t) for t in ts):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((w, ts))
    out = []
    for run in runs:
        terms = tuple(dict.fromkeys(t for _, ts in run for t in ts if t in salient))
        if terms:
            out.append(Phrase(" ".join(w for w, _ in run), terms))
    out.sort(key=lambda p: -max(salient[t] for t in p.terms))
    return out[:MAX_PHRASES]


def _share(weights: dict[str, float], terms: frozenset[str] | set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def signals(question: str, hits: Sequence[Hit], col: Collection, qvec: np.ndarray | None,
            embed: Callable[[list[str]], np.ndarray] | None) -> Signals:
    """Every feature of FOLLOWUP_FEATURES (FEATURES and the follow-up model's own) for one question and
    its retrieved papers (pure but for `embed`)."""
    sc = col.scorer
    words = question_words(question)
    content = {t: sc.idf(t) for _, ts in words for t in ts if not sc.is_question_word(t)}
    salient = salient_terms(words, sc)
    f = dict.fromkeys(FOLLOWUP_FEATURES, 0.0)
    paper_terms = [col.paper_terms.get(h.paper_id, frozenset()) for h in hits]
    phr = phrases(words, salient, sc)
    out = Signals(f, salient, words, paper_terms, phr)
    # A list question is answered by one paper that holds the topic; the coverage signals above read
    # its many-sided asks ("papers that build models out of spiking neurons") as lacking.
    f["asks_list"] = float(bool(ASKS_LIST.search(question)))
    stems = [t for _, ts in words for t in ts]
    pairs = {(a, b): sc.idf(a) + sc.idf(b) for a, b in zip(stems, stems[1:])
             if a != b and not (sc.is_question_word(a) or sc.is_question_word(b)) and (a in salient or b in salient)}
    f["bigram_any"] = _share(pairs, col.bigrams) if pairs else 1.0
    f["oov_share"] = sum(w for t, w in content.items() if sc.df(t) == 0) / sum(content.values()) if content else 0.0
    if not hits:
        return out
    # -- lexical: content terms, then the salient ones
    f["lex_top_paper"] = _share(content, paper_terms[0])
    f["lex_sentence"] = max((_share(content, t) for h in hits for t in col.sentence_terms.get(h.paper_id, [])), default=0.0)
    f["lex_evidence"] = SENTENCE_WEIGHT * f["lex_sentence"] + (1 - SENTENCE_WEIGHT) * f["lex_top_paper"]
    if pairs:
        per = [_share(pairs, col.paper_bigrams.get(h.paper_id, frozenset())) for h in hits]
        f["bigram_top_paper"], f["bigram_best_paper"] = per[0], max(per)
    else:
        f["bigram_top_paper"] = f["bigram_best_paper"] = 1.0
    f["lex_topk"] = _share(content, frozenset().union(*paper_terms))
    passage_terms = [col.chunk_terms[col.index.chunk_pos[p.chunk_id]] | col.title_terms.get(h.paper_id, frozenset())
                     for h in hits for p in h.passages if p.chunk_id in col.index.chunk_pos]
    f["lex_passage"] = max([_share(content, t) for t in passage_terms] + [0.0])
    if salient:
        per_paper = [_share(salient, t) for t in paper_terms]
        f["sal_top_paper"], f["sal_best_paper"] = per_paper[0], max(per_paper)
        candidates = set().union(*(col.postings.get(t, set()) for t in salient))
        f["sal_cooc_any"] = max((_share(salient, col.paper_terms[pid]) for pid in candidates), default=0.0)
        f["sal_split_gap"] = _share(salient, frozenset().union(*paper_terms)) - max(per_paper)
        lacking = [w for t, w in salient.items() if t not in paper_terms[0]]
        f["missing_idf"] = max(lacking, default=0.0) / sc.max_idf
        held, retrieved = frozenset().union(*paper_terms), {h.paper_id for h in hits}
        f["lack_titled"] = max((w for t, w in salient.items() if t not in held and col.title_postings.get(t, set()) - retrieved),
                               default=0.0) / sc.max_idf
    else:  # nothing rare asked: the content terms stand in
        f["sal_top_paper"] = f["sal_best_paper"] = f["sal_cooc_any"] = f["lex_top_paper"]
    # Asked-for details (GPUs, learning rate, licence ...) that the top paper never names: what an
    # abstract seldom states, so a strong sign of a question the collection cannot answer. And a data
    # type or setting named (video, speech, graphs ...) that it never mentions in any form: "<a method>
    # for <a domain no paper applies it to>".
    # Both read the asking clauses only (rag.question_parts): a context sentence ("Our clinic keeps few
    # patient images.", "Compute is tight for us.") names the asker's setting, which the asked method
    # need not mention (dev, 11 styles: leave-one-style-out mean F1 0.820 -> 0.849).
    top_bigrams = col.paper_bigrams.get(hits[0].paper_id, frozenset())
    parts = question_parts(question)
    asking = [t for p in parts for _, ts in question_words(p.text) for t in ts]
    # An amount asked ("how many", "what accuracy") of a paper whose abstract states no amount at all:
    # its abstract cannot give it (dev, fifteen styles: leave-one-style-out mean 0.857 -> 0.866, worst
    # 0.786 -> 0.815; "states no number near the asked words" was too strict: answerable questions
    # word the asked thing otherwise).
    f["number_missing"] = float(any(p.quantity for p in parts) and not col.states_amount.get(hits[0].paper_id, True))
    # Named things asked ("which datasets", "what baselines") of a paper whose abstract names nothing
    # but what the question and its title already name: it does not list them (dev, seventeen styles:
    # leave-one-style-out mean 0.851 -> 0.857, worst 0.786 -> 0.794; "no sentence holding the asked
    # noun names anything" fired on 16 answerable questions to this one's 2).
    if any(p.names for p in parts):
        asked = {w.lower() for w in _WORD.findall(question)}
        f["names_missing"] = float(not (col.new_names.get(hits[0].paper_id, frozenset()) - asked))
    f["detail_missing"] = float(any(not text_holds(d, paper_terms[0], top_bigrams) for d in asked_details(asking)))
    f["domain_missing"] = float(bool(named_domains(asking) - held_domains(paper_terms[0], top_bigrams)))
    # The top paper's coverage of the asking clauses, and the rare weight only the context holds: a long
    # situation sentence's words may be missing from the answer paper for any reason.
    asked_terms = set(asking)
    ask_content = {t: w for t, w in content.items() if t in asked_terms}
    ask_salient = {t: w for t, w in salient.items() if t in asked_terms}
    f["ask_sal_top"] = _share(ask_salient, paper_terms[0]) if ask_salient else f["sal_top_paper"]
    f["ask_lex_top"] = _share(ask_content, paper_terms[0]) if ask_content else f["lex_top_paper"]
    f["context_share"] = 1.0 - sum(ask_salient.values()) / sum(salient.values()) if salient else 0.0
    # What the question asks for ("what frame rate", "which datasets", "how many annotators"), named
    # nowhere in the paper it is about: an asked detail the abstract does not give, wherever the
    # question puts it; the other words of a long paraphrase may be missing for any reason.
    asked = asked_phrases(question)
    focus = {t: sc.idf(t) for t in sc.terms(" ".join(asked)) if not sc.is_question_word(t)}
    f["focus_missing"] = 1.0 - _share(focus, paper_terms[0]) if focus else 0.0
    out.asked = [question_words(p) for p in asked]
    # The asker's own candidates ("which simulator, MuJoCo or Meta-World?", "datasets like Cora"): when
    # the paper the question is about names none of them, the asked value is seldom in its abstract.
    held = [_share(g, paper_terms[0]) for g in ({t: sc.idf(t) for t in sc.terms(c) if not sc.is_question_word(t)}
                                                for c in guesses(question)) if g]
    f["guess_missing"] = 1.0 - max(held) if held else 0.0
    # -- retrieval scores and margins
    f["fused_top"] = hits[0].score
    f["fused_margin"] = hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)
    total_idf = sum(sc.idf(t) for t in sc.terms(question)) or 1.0
    f["bm25_top_norm"] = max((p.bm25_score or 0.0 for p in hits[0].passages), default=0.0) / total_idf
    f["rank_agree"] = float(hits[0].dense_rank == 1 and hits[0].bm25_rank == 1)
    # -- semantic: the question vector against every chunk, then the salient phrases
    if qvec is not None:
        sims = cosines(col.chunk_vectors, qvec)
        best = [max((float(sims[i]) for i in col.paper_chunks.get(h.paper_id, [])), default=0.0) for h in hits]
        f["sem_top"] = float(sims.max()) if len(sims) else 0.0
        f["sem_top_paper"] = best[0]
        f["sem_margin"] = best[0] - (max(best[1:]) if len(best) > 1 else 0.0)
        rows = col.paper_chunks.get(hits[0].paper_id, [])
        if rows:  # which dimensions agree, not only how much: a learned head (rag.answer_model) scores it
            best_row = rows[int(np.argmax(sims[rows]))]
            out.pair = np.asarray(qvec, dtype=np.float32) * col.chunk_vectors[best_row]
    # Salient words one by one: a paraphrase ("GNNs") is near its passage ("graph neural networks").
    units = lacking_words(words, salient, paper_terms[0] if hits else frozenset())
    if (phr or units) and embed is not None:
        vecs = embed([p.text for p in phr] + units)
        pv, wv = vecs[:len(phr)], vecs[len(phr):]
        if phr:
            psims = np.stack([cosines(col.chunk_vectors, v) for v in pv], axis=1)  # chunks x phrases
            per_hit = [[float(psims[col.paper_chunks.get(h.paper_id, [0]), j].max()) for j in range(len(phr))] for h in hits]
            out.phrase_sims = per_hit
            f["phr_min_top"] = min(per_hit[0])
            f["phr_min_joint"] = max(min(row) for row in per_hit)
            f["phr_min_any"] = float(psims.max(axis=0).min())
        if units:
            stems = {w: [t for t in ts if t in salient] for w, ts in words}
            wsims = np.stack([cosines(col.chunk_vectors, v) for v in wv], axis=1)  # chunks x words

            def support(pid: str, terms: frozenset[str]) -> list[float]:
                rows = col.paper_chunks.get(pid, [0])
                return [1.0 if all(t in terms for t in stems[u]) else float(wsims[rows, j].max()) for j, u in enumerate(units)]

            per = [support(h.paper_id, t) for h, t in zip(hits, paper_terms)]
            f["word_min_top"] = min(per[0])
            f["word_mean_top"] = word_mean(words, salient, paper_terms[0], dict(zip(units, per[0])))
            f["word_min_joint"] = max(min(row) for row in per)
            anywhere = [1.0 if all(col.postings.get(t) for t in stems[u]) else float(wsims[:, j].max()) for j, u in enumerate(units)]
            f["word_min_any"] = min(anywhere)
    if not phr and qvec is not None:
        f["phr_min_top"] = f["phr_min_joint"] = f["sem_top_paper"]
        f["phr_min_any"] = f["sem_top"]
    if not units:  # no salient word, or the top paper holds them all (then every word feature is 1)
        held = bool(salient) and bool(hits)
        f["word_min_top"] = f["word_mean_top"] = f["word_min_joint"] = f["word_min_any"] = 1.0 if held else f["lex_top_paper"]
    return out


def _word_stems(words: list[tuple[str, tuple[str, ...]]], salient: dict[str, float]) -> dict[str, list[str]]:
    """Each distinct question word with salient stems -> those stems, in question order."""
    out: dict[str, list[str]] = {}
    for w, ts in words:
        mine = [t for t in ts if t in salient]
        if mine:
            out.setdefault(w, mine)
    return out


def lacking_words(words: list[tuple[str, tuple[str, ...]]], salient: dict[str, float], terms: frozenset[str]) -> list[str]:
    """The salient words the paper's `terms` lack (some salient stem missing), rarest first, at most MAX_WORDS.

    Only these are embedded: a word the paper holds is covered (1.0) without a model call, and the
    rarest lacking words are the asked details and absent concepts, wherever the question puts them
    (a long question's first words are often its context).

    >>> s = Scorer.from_counts({"gpu": 2, "pixel": 1, "pretrain": 40}, n=1000)
    >>> w = question_words("How many GPUs did PIXEL pretraining use?")
    >>> lacking_words(w, salient_terms(w, s), frozenset({"pixel", "pretrain"}))
    ['GPUs']
    """
    stems = _word_stems(words, salient)
    lacking = [w for w, ts in stems.items() if not all(t in terms for t in ts)]
    return sorted(lacking, key=lambda w: -max(salient[t] for t in stems[w]))[:MAX_WORDS]


def word_mean(words: list[tuple[str, tuple[str, ...]]], salient: dict[str, float], terms: frozenset[str],
              cosines: dict[str, float]) -> float:
    """Rarity-weighted support of the salient words: 1 for a word the paper holds, its best cosine there
    for an embedded lacking word (`cosines`), 0 for a lacking word past the MAX_WORDS embedded ones.

    >>> s = Scorer.from_counts({"graph": 2, "pixel": 2}, n=1000)
    >>> w = question_words("graph for PIXEL")
    >>> round(word_mean(w, salient_terms(w, s), frozenset({"pixel"}), {"graph": 0.5}), 3)
    0.75
    """
    stems = _word_stems(words, salient)
    weights = {w: max(salient[t] for t in ts) for w, ts in stems.items()}
    got = sum(wt * (1.0 if all(t in terms for t in stems[w]) else cosines.get(w, 0.0)) for w, wt in weights.items())
    return got / sum(weights.values()) if weights else 0.0


def cosines(matrix: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """matrix @ vec for unit vectors. einsum, not BLAS: on a few cores a multi-threaded BLAS call fights
    onnxruntime's spinning threads and takes 10-20 ms; this single-threaded loop takes 0.1 ms."""
    return np.einsum("ij,j->i", matrix, np.asarray(vec, dtype=matrix.dtype))


class Answerability:
    """The loaded decision: signals over one index, and the model file; `judge` is all the Assistant calls."""

    def __init__(self, model: Model, collection: Collection, follow_up: Model | None = None):
        self.model = model
        self.collection = collection
        self.follow_up = follow_up  # for follow-ups about the earlier answer's papers; None: `model` judges them too

    def model_for(self, follow_up: bool) -> Model:
        """The model that judges a question: the follow-up one for a follow-up about given papers."""
        return self.follow_up if follow_up and self.follow_up is not None else self.model

    def judge(self, question: str, hits: Sequence[Hit], qvec: np.ndarray | None,
              embed: Callable[[list[str]], np.ndarray] | None, threshold: float | None = None,
              follow_up: bool = False) -> Verdict:
        """Answer or not, with the calibrated probability; a partial answer when not and the papers cover part.
        `follow_up`: the question is a follow-up about the earlier answer's papers, which `hits` hold."""
        from .partial import lacking, partial

        model = self.model_for(follow_up)
        sig = signals(question, hits, self.collection, qvec, embed)
        sig.features = self.model.complete(sig.features, sig.pair)  # sem_pair: the main model's head (a follow-up model has none)
        p = model.probability(sig.features)
        cut = model.threshold if threshold is None else threshold
        if hits and p >= cut:
            return Verdict(True, p, sig.features)
        if follow_up:  # only the earlier answer's papers were looked in: say what they lack, claim nothing of the rest
            return Verdict(False, p, sig.features, lacking(sig, hits, self.collection))
        made = partial(sig, hits, self.collection)
        if made is None:
            return Verdict(False, p, sig.features)
        text, missing, citations = made
        return Verdict(False, p, sig.features, missing, text, citations)


__all__ = ["FEATURES", "FOLLOWUP_FEATURES", "FOLLOWUP_ONLY", "DEFAULT_MODEL", "DEFAULT_FOLLOWUP_MODEL", "MODEL_FORMAT", "REBUILD", "Answerability", "Collection", "Model", "PairHead", "Signals",
           "Verdict", "file_sha256",
           "cosines", "lacking_words", "load_model", "model_to_dict", "phrases", "question_words", "salient_terms", "signals", "word_mean"]
