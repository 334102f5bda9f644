"""Dense (Chroma), lexical (BM25) and hybrid retrieval, grouped into papers.

Each retriever ranks chunks; a paper takes the rank of its best chunk. Hybrid mode fuses the two
paper rankings with weighted reciprocal-rank fusion (RRF): score(p) = sum_r w_r / (k + rank_r(p)).
Metadata filters (page, presentation, award, author) are evaluated on the paper records and passed
down as an id filter to Chroma and a weight mask to bm25s, so filtered search is exact, not a
post-filter of a truncated list.

Why not llama-index's QueryFusionRetriever: it fuses at node level and cannot group by paper or
pass one filter to both stores; the fusion itself is the few lines of `rrf` below.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Sequence

import numpy as np

from .coverage import question_stems
from .errors import SettingsError
from .index import Index, bm25_query_tokens
from .settings import Settings
from .types import Hit, Paper, Passage

MAX_PASSAGES = 3


@dataclass(frozen=True)
class Filters:
    """Paper filters; every given field must match (case-insensitive substring, page exact or substring)."""

    page: str | None = None
    presentation: str | None = None
    award: str | None = None
    author: str | None = None
    paper_ids: tuple[str, ...] | None = None  # only these papers (a metadata lookup's result; empty: none)

    @classmethod
    def coerce(cls, value: "Filters | dict[str, Any] | None") -> "Filters | None":
        if value is None or isinstance(value, Filters):
            return value
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown filter(s): {', '.join(sorted(unknown))}; use page, presentation, award or author")
        ids = value.get("paper_ids")
        return cls(**{k: (str(v) if v not in (None, "") else None) for k, v in value.items() if k != "paper_ids"},
                   paper_ids=None if ids is None else tuple(ids))

    @classmethod
    def narrowed(cls, filters: "Filters | None", paper_ids: Sequence[str]) -> "Filters":
        """`filters` (or no filters) limited to these papers."""
        return replace(filters, paper_ids=tuple(paper_ids)) if filters else cls(paper_ids=tuple(paper_ids))

    def __bool__(self) -> bool:
        return self.paper_ids is not None or any(getattr(self, f.name) for f in fields(self) if f.name != "paper_ids")

    def matches(self, paper: Paper) -> bool:
        def has(value: str | None, needle: str | None) -> bool:
            return needle is None or (value is not None and needle.lower() in value.lower())

        return (
            (self.page is None or any(self.page.lower() in page.lower() for page in paper.pages))
            and has(paper.presentation, self.presentation)
            and has(paper.award, self.award)
            and (self.author is None or any(self.author.lower() in a.lower() for a in paper.authors))
            and (self.paper_ids is None or paper.paper_id in self.paper_ids)
        )


def rrf(rankings: Iterable[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of ranked id lists (rank 1 first).

    >>> rrf([(["a", "b"], 1.0), (["b", "c"], 1.0)], k=60)  # doctest: +ELLIPSIS
    {'a': 0.01639..., 'b': 0.03252..., 'c': 0.01612...}
    """
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def relative(rankings: Iterable[tuple[list[tuple[str, float]], float]]) -> dict[str, float]:
    """Weighted sum of min-max normalized scores; an item missing from a list gets 0 there.

    >>> relative([([("a", 10.0), ("b", 5.0), ("c", 0.0)], 1.0), ([("b", 0.9), ("c", 0.5)], 1.0)])
    {'a': 1.0, 'b': 1.5, 'c': 0.0}
    """
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        if not ranking:
            continue
        values = [s for _, s in ranking]
        lo, hi = min(values), max(values)
        for item, s in ranking:
            norm = (s - lo) / (hi - lo) if hi > lo else 1.0
            scores[item] = scores.get(item, 0.0) + weight * norm
    return scores


class Retriever:
    """Searches one opened index with one embedder."""

    def __init__(self, index: Index, embedder: Any, settings: Settings):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed_query(self, text: str) -> np.ndarray:
        """Query vector, cached (the UI and the eval repeat queries)."""
        vec = self._query_cache.get(text)
        if vec is None:
            vec = self.embedder.embed([text])[0]
            self._query_cache[text] = vec
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vec

    def allowed(self, filters: Filters | None) -> list[str] | None:
        """Paper ids passing the filters, or None when nothing is filtered."""
        if not filters:
            return None
        return [pid for pid, paper in self.index.papers.items() if filters.matches(paper)]

    def dense(self, query: str, n: int, allowed: list[str] | None) -> list[tuple[int, float]]:
        """(chunk position, cosine similarity) best first."""
        if allowed is not None and not allowed:
            return []
        where = {"paper_id": {"$in": allowed}} if allowed is not None else None
        ids, distances = self.index.query(self.embed_query(query), min(n, len(self.index.chunks)), where)  # local or server
        pos = self.index.chunk_pos
        return [(pos[cid], 1.0 - float(dist)) for cid, dist in zip(ids, distances) if cid in pos]

    def lexical(self, query: str, n: int, allowed: list[str] | None) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) best first; only chunks sharing a term with the query."""
        # Question words ("which paper describes ...") are left out: they name the request, and BM25
        # would rank a survey that "describes" and "lists" above the paper asked about.
        tokens = bm25_query_tokens(query)
        stems = question_stems()
        tokens = [t for t in tokens if t not in stems] or tokens
        if not tokens or (allowed is not None and not allowed):
            return []
        mask = None
        if allowed is not None:
            ok = set(allowed)
            mask = np.array([1.0 if c.paper_id in ok else 0.0 for c in self.index.chunks], dtype=np.float32)
        docs, scores = self.index.bm25.retrieve([tokens], k=min(n, len(self.index.chunks)), weight_mask=mask,
                                                show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def search(self, query: str, k: int = 10, mode: str | None = None, filters: Filters | dict | None = None,
               settings: Settings | None = None) -> list[Hit]:
        """Papers best first, each with its best matching passages (`settings` overrides per call)."""
        cfg = settings or self.settings
        mode = mode or cfg.retriever
        if mode not in ("hybrid", "dense", "bm25"):
            raise SettingsError(f"unknown retriever {mode!r}; use hybrid, dense or bm25")
        allowed = self.allowed(Filters.coerce(filters))
        n = cfg.candidates
        dense = self.dense(query, n, allowed) if mode in ("hybrid", "dense") else []
        lexical = self.lexical(query, n, allowed) if mode in ("hybrid", "bm25") else []
        chunks = self.index.chunks

        def paper_ranking(ranked: list[tuple[int, float]]) -> list[str]:
            return list(dict.fromkeys(chunks[i].paper_id for i, _ in ranked))

        dense_papers, bm25_papers = paper_ranking(dense), paper_ranking(lexical)
        if mode == "hybrid" and cfg.fusion == "relative":
            def best_per_paper(ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
                best: dict[str, float] = {}
                for i, s in ranked:
                    best.setdefault(chunks[i].paper_id, s)
                return list(best.items())

            paper_scores = relative([(best_per_paper(dense), cfg.dense_weight), (best_per_paper(lexical), cfg.bm25_weight)])
            chunk_scores = relative([([(chunks[i].chunk_id, s) for i, s in dense], cfg.dense_weight),
                                     ([(chunks[i].chunk_id, s) for i, s in lexical], cfg.bm25_weight)])
        elif mode == "hybrid":
            paper_scores = rrf([(dense_papers, cfg.dense_weight), (bm25_papers, cfg.bm25_weight)], cfg.rrf_k)
            chunk_scores = rrf([([chunks[i].chunk_id for i, _ in dense], cfg.dense_weight),
                                ([chunks[i].chunk_id for i, _ in lexical], cfg.bm25_weight)], cfg.rrf_k)
        else:
            ranked = dense or lexical
            chunk_scores = {chunks[i].chunk_id: s for i, s in ranked}
            paper_scores = {}
            for i, s in ranked:
                paper_scores.setdefault(chunks[i].paper_id, s)

        dense_by_chunk = {i: s for i, s in dense}
        bm25_by_chunk = {i: s for i, s in lexical}
        passages: dict[str, list[Passage]] = {}
        for cid, score in sorted(chunk_scores.items(), key=lambda kv: -kv[1]):
            i = self.index.chunk_pos[cid]
            c = chunks[i]
            bucket = passages.setdefault(c.paper_id, [])
            if len(bucket) < MAX_PASSAGES:
                bucket.append(Passage(c.chunk_id, c.paper_id, c.text, c.span, c.kind, score,
                                      dense_by_chunk.get(i), bm25_by_chunk.get(i)))
        dense_rank = {p: r for r, p in enumerate(dense_papers, 1)}
        bm25_rank = {p: r for r, p in enumerate(bm25_papers, 1)}
        best = sorted(paper_scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Hit(paper_id=pid, title=self.index.papers[pid].title, score=score, rank=rank,
                    passages=tuple(passages.get(pid, ())), paper=self.index.papers[pid],
                    dense_rank=dense_rank.get(pid), bm25_rank=bm25_rank.get(pid))
                for rank, (pid, score) in enumerate(best, 1)]
