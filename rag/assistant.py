"""Assistant: holds the index, the embedder and the generators; answers and searches.

The index is opened (or built, when `auto_index` is on and it is missing or stale) on first use,
so creating an Assistant is free and `rag --help` never loads a model.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Sequence

from .answer_model import DEFAULT_FOLLOWUP_MODEL
from .answerability import Answerability, Collection, Signals, Verdict, cosines, load_model, question_words, salient_terms, signals
from .comparison import merged, refused, write
from .conversation import Fit, retrieval_query, shape, stays_on
from .corpus import Corpus, load_corpus
from .errors import IndexMissingError, QuestionError, SettingsError
from .extractive import Draft, ExtractiveGenerator
from .listed import FieldAndContent, Plan
from .listed import plan as plan_question
from .prompts import ABSTAIN_TEXT
from .index import BuildReport, Index, build_index, is_current, open_index
from .listings import Listings
from .retrieve import Filters, Retriever
from .settings import Settings, load_settings
from .types import Answer, Hit, Paper

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

# Settings that change what the index holds: they cannot be switched per question (the eval gives
# runs that change them an index of their own).
INDEX_SHAPING = frozenset({"data_dir", "corpus", "corpus_name", "index_dir", "embed_model", "embed_backend", "device",
                           "chunk_tokens", "chunk_overlap", "embed_batch_size", "embed_dtype", "model_cache_dir",
                           "id_field", "abstract_field", "chroma_host", "chroma_port", "chroma_token",
                           "chroma_tenant", "chroma_database"})



def _query(question: str, routed: Plan, history: Any) -> str:
    """What to retrieve with: the router's query, else the question (a follow-up with its earlier turns, rag.conversation)."""
    return routed.query or (retrieval_query(question, history) if history else question)


class Assistant:
    """The loaded assistant: `ask`, `ask_stream`, `search`, `index`."""

    def __init__(self, settings: Settings | None = None, progress: Callable[[str, int, int], None] | None = None,
                 llm: Any = None):
        """`llm`: a llama-index LLM object (Ollama, LlamaCPP, Vllm, OpenAILike, HuggingFaceLLM ...) that writes the
        answers (generator=llm; a question can still ask for generator="extractive")."""
        settings = settings or load_settings()
        if llm is not None and settings.generator != "llm":
            settings = settings.with_options(generator="llm")
        self.settings = settings
        self.llm = llm
        self._progress = progress
        self._lock = threading.RLock()
        self._index: Index | None = None
        self._embedder: Any = None
        self._retriever: Retriever | None = None
        self._generators: dict[str, Any] = {}
        self._collection: Collection | None = None  # per-index data of the answerability signals
        self._answerability: dict[str, Answerability] = {}  # by model file
        self._listings: tuple[Index, Listings] | None = None
        self.last_build: BuildReport | None = None

    # ---- loading ------------------------------------------------------------------------------
    def _get_embedder(self) -> Any:
        with self._lock:
            if self._embedder is None:
                from .embedding import load_embedder

                self._embedder = load_embedder(self.settings)
            return self._embedder

    def corpus(self) -> Corpus:
        """The corpus the settings name, parsed now."""
        return load_corpus(self.settings.corpus_paths, self.settings.id_field, self.settings.abstract_field)

    def index(self, rebuild: bool = False, progress: Callable[[str, int, int], None] | None = None) -> BuildReport:
        """Build or update the index on disk, then (re)open it."""
        with self._lock:
            corpus = self.corpus()
            for warning in corpus.warnings:
                log.warning(warning)
            if self._index is not None:  # release files before they are replaced
                self._index.close()
                self._index = self._retriever = self._collection = None
                self._generators.clear()
                self._answerability.clear()
            report = build_index(self.settings, corpus, self._get_embedder, rebuild=rebuild, progress=progress or self._progress)
            self.last_build = report
            return report

    @property
    def loaded_index(self) -> Index:
        """The open index; built or updated first when `auto_index` allows and it is missing or stale."""
        with self._lock:
            if self._index is None:
                if self.settings.auto_index:
                    corpus = self.corpus()
                    if not is_current(self.settings, corpus):
                        log.warning("index missing or out of date for %s: indexing now", self.settings.resolved_corpus_name)
                        self.last_build = build_index(self.settings, corpus, self._get_embedder, progress=self._progress)
                        log.warning(self.last_build.summary())
                self._index = open_index(self.settings)
            return self._index

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                index = self.loaded_index
                self._retriever = Retriever(index, self._get_embedder(), self.settings)
            return self._retriever

    def _generator(self, settings: Settings) -> tuple[Any, list[str]]:
        """The generator the settings ask for, or the extractive one with a warning saying why."""
        warnings: list[str] = []
        if settings.generator == "llm":
            from .generate import generator_key, load_llm_generator  # the LLM generators (separate modules)

            key = "llm:object" if self.llm is not None else generator_key(settings)
            with self._lock:
                if key not in self._generators:
                    self._generators[key] = load_llm_generator(settings, self.loaded_index, llm=self.llm)
            gen = self._generators[key]
            if not isinstance(gen, str):
                return gen, warnings
            warnings.append(gen)  # load failed earlier: the reason, kept so we do not retry each question
        return ExtractiveGenerator(self.loaded_index, settings.answer_sentences, settings.abstain_threshold), warnings

    def _get_answerability(self, settings: Settings) -> Answerability:
        """The answerability model of the settings (loaded once per file) over this index's signals."""
        key = f"{settings.answerability_model or ''}|{settings.followup_model or ''}"
        with self._lock:
            if key not in self._answerability:
                model = load_model(settings.answerability_model)  # a bad file fails here, with the rebuild command
                follow_up = load_model(settings.followup_model, DEFAULT_FOLLOWUP_MODEL)
                self._answerability[key] = Answerability(model, self._get_collection(), follow_up)
            return self._answerability[key]

    def _get_collection(self) -> Collection:
        with self._lock:
            if self._collection is None:
                self._collection = Collection(self.loaded_index)
            return self._collection

    def _query_vector(self, question: str) -> "np.ndarray":
        return self.retriever.embed_query(question)  # cached: hybrid and dense retrieval computed it already

    # ---- questions ----------------------------------------------------------------------------
    def _check_question(self, question: str, settings: Settings) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty: type a question about the indexed papers")
        question = " ".join(question.split())
        if len(question) > settings.max_question_chars:
            raise QuestionError(f"the question is {len(question)} characters long; the limit is {settings.max_question_chars} "
                                "(RAG_MAX_QUESTION_CHARS): shorten it")
        return question

    def _per_call(self, options: dict[str, Any]) -> tuple[Settings, Filters | None]:
        filters = Filters.coerce(options.pop("filters", None))
        shaping = sorted(set(options) & INDEX_SHAPING)
        if shaping:
            raise SettingsError(f"{', '.join(shaping)} change(s) the index and cannot be set per question; "
                                "create Assistant(Settings(...)) with them instead")
        return (self.settings.with_options(**options) if options else self.settings), filters

    def listings(self) -> Listings:
        """The indexed papers' listing metadata, for exact lookups (rag.listings); built once per opened index."""
        with self._lock:
            index = self.loaded_index
            if self._listings is None or self._listings[0] is not index:
                self._listings = (index, Listings(index.papers.values()))
            return self._listings[1]

    def search(self, query: str, k: int = 10, **options: Any) -> list[Hit]:
        """Papers best first, each with `.paper_id`, `.title`, `.score` and its matching passages.

        A listed author's name in the query ("Sewoong Oh", "S. Oh backdoor") limits the search to
        their papers, so searching a name finds that author's papers, not passages that mention it.
        Misspelt words are corrected to the collection's own (`correct_typos`, rag.spelling).
        """
        from .routing import route

        settings, filters = self._per_call(dict(options))
        query = self._check_question(query, settings)
        listings = self.listings()
        names = route(query, listings).lookup.authors
        if not names and len(query.split()) <= 4 and listings.authors_named(query):
            names = (query,)  # the query is a name and nothing else ("Goldblum", "J. Hayase")
        if names:
            from .listings import Lookup

            ids = tuple(p.paper_id for p in listings.find(Lookup(authors=names)))
            filters = Filters.narrowed(filters, ids)
        query = self._written(query, settings)  # "difusion models" searches for diffusion models, "imgs" for images
        return self.retriever.search(query, k=k, mode=settings.retriever, filters=filters, settings=settings)

    def ask_stream(self, question: str, **options: Any) -> Iterator[str | Answer]:
        """Yields the answer text as it is written, then the finished `Answer`.

        `history` (earlier turns, oldest first: Answers, (question, answer) pairs or dicts; see
        rag.conversation) shapes the retrieval query of a follow-up question; the generator still
        answers the question as asked. `Answer.query` records what was retrieved with.
        """
        started = time.perf_counter()
        # Listing questions (authors, awards, tiers, sessions, pages, posters) are answered from the
        # metadata, complete; mixed ones narrow the retrieval below to the lookup's papers (rag.listed).
        question, settings, filters, history, routed = self._plan(question, options)
        if routed.answer is not None:
            yield routed.answer.text
            yield routed.answer
            return
        settings, filters = routed.settings or settings, routed.filters
        sides = self._sides(question, routed, settings, filters)
        if sides is not None:
            yield from self._compare(question, sides, settings, started)
            return
        query = _query(question, routed, history)
        hits = self._retrieve(routed, query, settings, filters)
        retrieved = time.perf_counter()
        # One answerability decision, before any generator (so it also decides whether a model is called).
        # A list or count answer over the listings (routed.writer) is the router's to decide.
        # The generator is loaded first (cached after the first question), so a load failure is reported
        # and a warm-up loads the model even when the question is not answered.
        generator, warnings = (routed.writer, []) if routed.writer else self._generator(settings)
        if routed.also:  # "Who wrote X and what does it do?": the field, then the rest quoted from X's abstract
            generator = FieldAndContent(generator, ExtractiveGenerator(self.loaded_index, settings.answer_sentences), routed.also)
        loaded = time.perf_counter()
        judged = routed.judged(question, query, bool(history))
        verdict = None if judged is None else self._get_answerability(settings).judge(
            judged, hits, self._query_vector(judged), self.embed, settings.min_confidence, follow_up=bool(routed.about))
        decided = time.perf_counter()
        if verdict is not None and not verdict.answerable:
            text = _not_in(routed.about, verdict.missing) if routed.about else verdict.text or ABSTAIN_TEXT
            yield text
            timings = _timings(started, retrieved, loaded, decided, None, time.perf_counter(), generated=False)
            yield Answer(question=question, text=text, citations=verdict.citations, abstained=True,
                         generator=getattr(generator, "name", "extractive"), timings=timings, hits=tuple(hits),
                         warnings=tuple(warnings), confidence=verdict.confidence, missing=verdict.missing, query=query,
                         route=routed.route.name)
            return
        # Every writer takes this question's settings (LLM generators read max_new_tokens, temperature, abstain_threshold),
        # and the question as asked, its typos corrected and its shorthand written out: the extractive writer
        # matches sentences on its words ("params" is in no abstract; "parameters" picks PIXEL's "86M parameter").
        draft, first_token = yield from _drafted(generator.stream(self._written(question, settings), hits, settings))
        yield _from_draft(draft, generator, warnings, question=question, hits=tuple(hits), query=query, route=routed.route.name,
                          confidence=verdict.confidence if verdict is not None else None,
                          timings=_timings(started, retrieved, loaded, decided, first_token, time.perf_counter()))

    def _written(self, question: str, settings: Settings) -> str:
        """`question` as `correct_typos` has it (Listings.written), or as asked when that is off."""
        return self.listings().written(question) if settings.correct_typos else question

    def _search(self, query: str, settings: Settings, filters: Filters | None, k: int | None = None) -> list[Hit]:
        return self.retriever.search(query, k=k or settings.top_k, mode=settings.retriever, filters=filters, settings=settings)

    def _retrieve(self, routed: Any, query: str, settings: Settings, filters: Filters | None) -> list[Hit]:
        """The papers `ask` answers from: the retrieval, with the paper the question names by its own
        name (Plan.named) first, at the top score."""
        hits = self._search(query, settings, filters)
        if not routed.named or (hits and hits[0].paper_id == routed.named):
            return hits
        rest = [h for h in hits if h.paper_id != routed.named]
        named = next((h for h in hits if h.paper_id == routed.named), None)
        if named is None:
            got = self._search(query, settings, Filters.narrowed(filters, (routed.named,)), k=1)
            if not got:
                return hits
            named, rest = got[0], rest[:settings.top_k - 1]
        top = max(named.score, hits[0].score if hits else named.score)
        return [replace(named, score=top, rank=1)] + [replace(h, rank=i) for i, h in enumerate(rest, 2)]

    def _sides(self, question: str, routed: Any, settings: Settings, filters: Filters | None) -> list[tuple[str, list[Hit]]] | None:
        """A comparison's sides with their papers, when different papers answer them best (rag.comparison);
        None when the question compares nothing, or one paper is the best for both (it is asked as one)."""
        if not routed.sides:
            return None
        whole = self._search(routed.query or question, settings, filters)
        if whole and routed.sides.held_by(whole[0].paper):
            return None
        sides = [(q, self._search(q, settings, filters)) for q in routed.sides.queries]
        return sides if all(h for _, h in sides) and sides[0][1][0].paper_id != sides[1][1][0].paper_id else None

    def _compare(self, question: str, sides: list[tuple[str, list[Hit]]], settings: Settings, started: float) -> Iterator[str | Answer]:
        """A comparison side by side: each side judged on its own papers; answered when both are, the
        extractive writer quoting each side's paper, a language model given both sides' papers."""
        retrieved = time.perf_counter()
        generator, warnings = self._generator(settings)
        loaded = time.perf_counter()
        judge = self._get_answerability(settings).judge
        verdicts = [judge(q, hits, self._query_vector(q), self.embed, settings.min_confidence) for q, hits in sides]
        decided = time.perf_counter()
        hits = tuple(merged(sides[0][1], sides[1][1], settings.top_k))
        known = [v.confidence for v in verdicts if v.confidence is not None]
        common: dict[str, Any] = dict(question=question, hits=hits, confidence=min(known) if known else None,
                                      query=" | ".join(q for q, _ in sides))
        refusal = refused(sides, verdicts)
        if refusal is not None:
            text, citations, missing = refusal
            yield text
            yield Answer(text=text, citations=citations, abstained=True, missing=missing, warnings=tuple(warnings),
                         generator=getattr(generator, "name", "extractive"),
                         timings=_timings(started, retrieved, loaded, decided, None, time.perf_counter(), generated=False), **common)
            return
        draft, first_token = yield from _drafted(write(question, sides, hits, generator, settings))
        yield _from_draft(draft, generator, warnings, timings=_timings(started, retrieved, loaded, decided, first_token, time.perf_counter()),
                          **common)

    def _plan(self, question: str, options: dict[str, Any], fits: list[Fit] | None = None
              ) -> tuple[str, Settings, Filters | None, Any, Plan]:
        """(the checked question, its settings and filters, its `history` option, the router's plan).
        `fits`: collects the Fit of a short follow-up with no reference word, when one is measured."""
        options = dict(options)
        history = options.pop("history", None)
        settings, filters = self._per_call(options)
        question = self._check_question(question, settings)
        stays = (lambda q, ids: self._stays(q, ids, settings, fits)) if history else None
        return question, settings, filters, history, plan_question(question, self.listings(), settings, filters, history, stays)

    def _fit(self, question: str, ids: Sequence[str]) -> Fit:
        """How `question` fits the papers `ids` (rag.conversation.Fit): the salient terms none of them
        holds, the question's cosine to the best passage anywhere and to theirs (the question vector is
        the one the decision embeds anyway)."""
        col = self._get_collection()
        held = frozenset().union(*(col.paper_terms.get(i, frozenset()) for i in ids))
        new = sum(t not in held for t in salient_terms(question_words(question), col.scorer))
        rows = [i for pid in ids for i in col.paper_chunks.get(pid, [])]
        sims = cosines(col.chunk_vectors, self._query_vector(question))
        words, function_word = shape(question)
        return Fit(words, function_word, new, float(sims.max()) if len(sims) else 0.0,
                   float(sims[rows].max()) if rows else -1.0)

    def _stays(self, question: str, ids: Sequence[str], settings: Settings, fits: list[Fit] | None = None) -> bool:
        """Whether a short question with no reference word stays on the earlier papers `ids`: the
        follow-up model's resolution head decides on its Fit (the hand-set rule, rag.conversation.stays_on,
        for a model file without one)."""
        fit = self._fit(self._written(question, settings), ids)  # as it would be judged: "langs" is "languages"
        if fits is not None:
            fits.append(fit)
        if fit.their_cosine < 0:  # none of those papers has a passage in this index
            return False
        head = self._get_answerability(settings).model_for(True).resolution
        return head.stays(fit.features()) if head is not None else stays_on(fit)

    def _retrieve_for(self, question: str, options: dict[str, Any]) -> tuple[str, Settings, list[Hit], bool]:
        """The text the decision judges, its settings and the top_k papers, as `ask` retrieves them: a
        mixed question narrowed to its lookup's papers; a field-of question ("Who wrote the PIXEL
        paper?", FieldWriter.judged) judged on its content words, as `ask` judges it."""
        question, settings, filters, history, routed = self._plan(question, options)  # a follow-up too, as `ask` plans it
        query = question
        if routed.gated:
            settings, filters, query = routed.settings or settings, routed.filters, _query(question, routed, history)
        judged = routed.judged(question, query, bool(history)) or question
        return judged, settings, self._retrieve(routed, query, settings, filters), bool(routed.about)

    def gated(self, question: str, **options: Any) -> bool:
        """True when `ask` puts the question itself through the answerability decision; False when the
        metadata router answers it from the listings (a lookup, a list or a count), when it is a
        comparison judged side by side, or when it asks about a named paper as a whole."""
        question, _, _, _, routed = self._plan(question, options)
        # a comparison answered side by side is judged per side, on other text than the question
        return routed.gated and self._sides(question, routed, routed.settings or settings, routed.filters) is None

    def answerability_signals(self, question: str, **options: Any) -> dict[str, float]:
        """The answerability features of a question, retrieved as `ask` retrieves; `sem_pair` is the
        configured model's pair-head score (the model file is read; see answerability_inputs for training)."""
        question, settings, hits, _ = self._retrieve_for(question, options)
        sig = signals(question, hits, self._get_collection(), self._query_vector(question), self.embed)
        return self._get_answerability(settings).model.complete(sig.features, sig.pair)

    def answerability_inputs(self, question: str, **options: Any) -> Signals:
        """What the features are computed from, with no model file needed (for training): the features
        (`sem_pair` 0), the pair vector the model's pair head scores, and `follow_up`: whether the
        follow-up model judges it (a follow-up about the earlier answer's papers; pass `history`)."""
        question, _, hits, about = self._retrieve_for(question, options)
        sig = signals(question, hits, self._get_collection(), self._query_vector(question), self.embed)
        sig.follow_up = about
        return sig

    def resolution_inputs(self, question: str, **options: Any) -> dict[str, float] | None:
        """The features the resolution head reads for a follow-up (pass `history`), as `ask` plans it; None
        when none is measured: no earlier paper, a reference word, a new search, another paper named,
        or too long (rag.conversation.candidate). For training (eval.train_followup)."""
        fits: list[Fit] = []
        self._plan(question, options, fits)
        return fits[-1].features() if fits and fits[-1].their_cosine >= 0 else None

    def judge(self, question: str, **options: Any) -> Verdict:
        """The answerability decision alone: probability, answerable, missing concepts (no generator runs)."""
        question, settings, hits, about = self._retrieve_for(question, options)
        return self._get_answerability(settings).judge(question, hits, self._query_vector(question), self.embed,
                                                       settings.min_confidence, follow_up=about)

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question from the indexed abstracts, with numbered citations, or abstain."""
        answer = None
        for piece in self.ask_stream(question, **options):
            answer = piece
        assert isinstance(answer, Answer)
        return answer

    def papers(self) -> dict[str, Paper]:
        """Every indexed paper by id (title, abstract, authors, pages, presentation, award ...)."""
        return self.loaded_index.papers

    def paper(self, paper_id: str) -> Paper:
        """One indexed paper; KeyError-free: an unknown id is a `QuestionError` naming it."""
        try:
            return self.loaded_index.papers[paper_id]
        except KeyError:
            raise QuestionError(f"no paper with id {paper_id!r} in the index") from None

    def embed(self, texts: list[str]) -> "np.ndarray":
        """Unit-length vectors of `texts` from the index's embedder (one row per text)."""
        return self._get_embedder().embed(list(texts))

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
            self._index = self._retriever = self._collection = None
            self._generators.clear()
            self._answerability.clear()


_default: Assistant | None = None
_default_lock = threading.Lock()


def _not_in(titles: Sequence[str], missing: Sequence[str] = ()) -> str:
    """The abstention of a follow-up: which papers were looked in, and what they do not mention."""
    named = ", ".join(f"\u201c{t}\u201d" for t in titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")
    lacks = " and ".join(f"\u201c{m}\u201d" for m in missing)
    if len(titles) == 1:
        return f"The abstract of {named}, which the earlier answer cites, " + (f"does not mention {lacks}." if missing else "does not answer this question.")
    return (f"None of the abstracts of the papers the earlier answer cites ({named}) "
            + (f"mentions {lacks}." if missing else "answers this question."))


def _drafted(pieces: Iterator[str | Draft]) -> Generator[str, None, tuple[Draft, float | None]]:
    """Passes a writer's text pieces on; returns its closing Draft and when the first piece came."""
    draft: Draft | None = None
    first: float | None = None
    for piece in pieces:
        if isinstance(piece, Draft):
            draft = piece
        else:
            first = first or time.perf_counter()
            yield piece
    assert draft is not None, "a generator must end its stream with a Draft"
    return draft, first


def _from_draft(draft: Draft, generator: Any, warnings: list[str], **fields: Any) -> Answer:
    """The Answer of a written draft (`fields`: question, hits, query, confidence, timings ...)."""
    return Answer(text=draft.text, citations=tuple(draft.citations), abstained=draft.abstained, evidence=draft.evidence,
                  generator=draft.generator or getattr(generator, "name", "extractive"), warnings=tuple(warnings + draft.warnings),
                  uncited=tuple(draft.uncited), weak=tuple(draft.weak), model=draft.model, **fields)


def _timings(started: float, retrieved: float, loaded: float, decided: float, first_token: float | None, done: float,
             generated: bool = True) -> dict[str, float]:
    """Answer.timings in ms: retrieval, the answerability decision, generation, first piece of text, total."""
    def ms(a: float, b: float) -> float:
        return (b - a) * 1000

    return {"retrieve_ms": ms(started, retrieved), "decide_ms": ms(loaded, decided),
            "generate_ms": ms(decided, done) if generated else 0.0,
            "first_token_ms": ms(started, first_token or done), "total_ms": ms(started, done)}


def default_assistant() -> Assistant:
    """The process-wide assistant behind `rag.ask` and `rag.search` (settings from the environment)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def ask(question: str, **options: Any) -> Answer:
    """Answer `question` with the default assistant; options: retriever, top_k, generator, filters, ..."""
    return default_assistant().ask(question, **options)


def search(query: str, k: int = 10, **options: Any) -> list[Hit]:
    """Search the default assistant's index: papers best first."""
    return default_assistant().search(query, k=k, **options)


__all__ = ["INDEX_SHAPING", "Assistant", "ask", "search", "default_assistant", "IndexMissingError"]
