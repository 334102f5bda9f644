"""Plain records passed between the modules: papers, chunks, hits, citations and answers.

All are frozen dataclasses; `to_dict()` gives the JSON form printed by `--json`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Paper:
    """One distinct paper of the collection, merged over every page that lists it."""

    paper_id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    session: str | None = None
    presentation: str | None = None
    poster_number: str | None = None
    award: str | None = None
    year: int | None = None
    url: str | None = None
    venue: str | None = None
    room: str | None = None  # where the session met, as its page names it ("Auditorium")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A passage of one paper: sentences of its abstract, or its listing metadata.

    `span` is the [start, end) character range of `text` in the paper's abstract; metadata chunks
    (kind "metadata") describe the listing and have span None.
    """

    chunk_id: str
    paper_id: str
    ordinal: int
    text: str
    span: tuple[int, int] | None
    embed_text: str
    kind: str = "abstract"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the scores that ranked it."""

    chunk_id: str
    paper_id: str
    text: str
    span: tuple[int, int] | None
    kind: str
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        return d


@dataclass(frozen=True)
class Hit:
    """A paper returned by search, best first, with the passages that matched."""

    paper_id: str
    title: str
    score: float
    rank: int
    passages: tuple[Passage, ...]
    paper: Paper
    dense_rank: int | None = None
    bm25_rank: int | None = None

    @property
    def authors(self) -> tuple[str, ...]:
        return self.paper.authors

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "paper_id": self.paper_id,
            "title": self.title,
            "score": round(self.score, 6),
            "dense_rank": self.dense_rank,
            "bm25_rank": self.bm25_rank,
            "authors": list(self.paper.authors),
            "pages": list(self.paper.pages),
            "presentation": self.paper.presentation,
            "award": self.paper.award,
            "passages": [p.to_dict() for p in self.passages],
        }


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the paper and the exact passage cited."""

    number: int
    paper_id: str
    title: str
    passage: str
    span: tuple[int, int] | None
    support: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        return d


# How the CLI and the UI name the writer of an answer (Answer.written_by).
EXTRACTIVE_LABEL = "extractive — quoted sentences, no language model"
LISTING_LABEL = "listing metadata — exact lookup, no language model"
TOPIC_LIST_LABEL = "retrieval list — the papers that clear the stated relevance bar"
FIELD_LABEL = "listing field — read from the best-matching paper's listing, no language model"
WRITER_LABELS = {"extractive": EXTRACTIVE_LABEL, "field": FIELD_LABEL}


@dataclass(frozen=True)
class Answer:
    """What `ask()` returns."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    generator: str
    timings: dict[str, float] = field(default_factory=dict)
    hits: tuple[Hit, ...] = ()
    warnings: tuple[str, ...] = ()
    evidence: float | None = None
    uncited: tuple[str, ...] = ()  # sentences of the answer that cite no source
    weak: tuple[str, ...] = ()  # cited sentences that their passages barely cover (rag.citations.WEAK_SUPPORT)
    query: str | None = None  # what retrieval searched with: the question, plus earlier turns for a follow-up (rag.conversation)
    route: str = "retrieval"  # how it was answered: "retrieval" (passages), "metadata" (listing lookups), "mixed"
    confidence: float | None = None  # calibrated probability that the collection answers the question
    missing: tuple[str, ...] = ()  # concepts of the question no retrieved paper covers (a partial answer)
    model: str | None = None  # the model that wrote the answer (and the server host, for a server model)

    @property
    def written_by(self) -> str:
        """Who wrote the answer, in words, as the CLI and the UI label it."""
        return self.writer_label()

    def writer_label(self, model: str | None = None) -> str:
        """`written_by`, naming `model` for a language model's answer that carries none (a question the
        answerability decision refused before the model was called)."""
        if self.generator in WRITER_LABELS:
            return WRITER_LABELS[self.generator]
        if self.generator == "listing":
            return LISTING_LABEL if self.route == "metadata" else TOPIC_LIST_LABEL
        return f"language model {self.model or model or self.generator}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query if self.query is not None else self.question,
            "text": self.text,
            "abstained": self.abstained,
            "generator": self.generator,
            "model": self.model,
            "route": self.route,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "missing": list(self.missing),
            "evidence": None if self.evidence is None else round(self.evidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "warnings": list(self.warnings),
            "uncited": list(self.uncited),
            "weak": list(self.weak),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "retrieved": [{"rank": h.rank, "paper_id": h.paper_id, "title": h.title, "score": round(h.score, 6)} for h in self.hits],
        }
