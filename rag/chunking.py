"""Paper -> chunks: runs of whole sentences sized for the embedder, each with its character span.

Why not llama-index's SentenceSplitter: it measures chunks with tiktoken rather than the embedder's
own word pieces, and recovers character offsets by searching for the chunk text, which drifts when
whitespace is normalized. A citation here must point at the exact passage of the abstract, so the
splitter below keeps offsets from the start and counts with the embedder's tokenizer.

Every chunk is embedded with its paper's title in front; consecutive chunks share `overlap`
sentences so a fact spanning a chunk border is whole in at least one chunk.
"""
from __future__ import annotations

import hashlib
import re
from typing import Callable, Iterable

from .corpus import iter_fields
from .types import Chunk, Paper

TokenCounter = Callable[[list[str]], list[int]]

# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "e.g", "i.e", "al", "etc", "vs", "fig", "figs", "eq", "eqs", "cf", "approx", "resp", "sec", "no", "dr",
    "prof", "mr", "ms", "st", "a.k.a", "w.r.t", "incl", "tab", "ref", "refs", "viz", "est", "ca",
}
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$\\])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, whitespace between them excluded.

    >>> t = "We use e.g. BERT. It works! See Fig. 2 for more."
    >>> [t[a:b] for a, b in split_sentences(t)]
    ['We use e.g. BERT.', 'It works!', 'See Fig. 2 for more.']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        words = text[start:match.start() + 1].split()
        word = words[-1].lstrip("\"'([") if words else ""
        token = word.rstrip(".").lower()
        # A period after an abbreviation ("e.g.", "et al.") or an initial ("J. Smith") ends nothing.
        if text[match.start()] == "." and (token in _ABBREVIATIONS or (len(token) == 1 and word[0].isupper())):
            continue
        end = match.start() + len(match.group(0).rstrip())
        spans.append((start, end))
        start = match.end()
    tail = text[start:].rstrip()
    if tail.strip():
        lead = len(text[start:]) - len(text[start:].lstrip())
        spans.append((start + lead, start + len(tail)))
    return [(a, b) for a, b in spans if b > a]


def embed_text(title: str, passage: str) -> str:
    """What the embedder and BM25 read for a chunk: the title, then the passage."""
    sep = " " if title.rstrip()[-1:] in ".?!" else ". "
    return f"{title.rstrip()}{sep}{passage}"


def _windows(counts: list[int], budget: int, overlap: int) -> Iterable[tuple[int, int]]:
    """Greedy [i, j) sentence windows whose token counts fit `budget`, sharing `overlap` sentences.

    >>> list(_windows([5, 5, 5, 5], budget=10, overlap=1))
    [(0, 2), (1, 3), (2, 4)]
    """
    i, n = 0, len(counts)
    while i < n:
        j, used = i, 0
        while j < n and (j == i or used + counts[j] <= budget):
            used += counts[j]
            j += 1
        yield i, j
        if j >= n:
            return
        i = max(j - overlap, i + 1)


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut a sentence longer than the budget at word boundaries (rare: run-on sentences, formulas)."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    sizes = count([text[a:b] for a, b in words])
    pieces, piece_start, used = [], words[0][0], 0
    for (a, b), size in zip(words, sizes):
        if used and used + size > budget:
            pieces.append((piece_start, prev_end))
            piece_start, used = a, 0
        used += size
        prev_end = b
    pieces.append((piece_start, prev_end))
    return pieces


def chunk_paper(paper: Paper, count: TokenCounter, max_tokens: int, overlap: int) -> list[Chunk]:
    """Chunks of one paper: sentence windows of its abstract, then one metadata chunk if it has any."""
    title_tokens = count([embed_text(paper.title, "")])[0]
    budget = max(16, max_tokens - title_tokens)
    spans = split_sentences(paper.abstract)
    counts = count([paper.abstract[a:b] for a, b in spans]) if spans else []
    units: list[tuple[int, int]] = []
    unit_counts: list[int] = []
    for (a, b), n in zip(spans, counts):
        if n > budget:
            pieces = _split_long(paper.abstract, a, b, budget, count)
            units.extend(pieces)
            unit_counts.extend(count([paper.abstract[x:y] for x, y in pieces]))
        else:
            units.append((a, b))
            unit_counts.append(n)
    chunks = []
    for i, j in _windows(unit_counts, budget, overlap):
        start, end = units[i][0], units[j - 1][1]
        text = paper.abstract[start:end]
        chunks.append(_make_chunk(paper, len(chunks), text, (start, end), "abstract"))
    meta = metadata_text(paper)
    if meta:
        chunks.append(_make_chunk(paper, len(chunks), meta, None, "metadata"))
    return chunks


def metadata_text(paper: Paper) -> str:
    """The listing metadata as one passage, e.g. "Authors: A, B. Award: Outstanding Paper."."""
    return " ".join(f"{label}: {value}." for label, value in iter_fields(paper))


def _make_chunk(paper: Paper, ordinal: int, text: str, span: tuple[int, int] | None, kind: str) -> Chunk:
    full = embed_text(paper.title, text)
    # Content-addressed ids: an unchanged chunk keeps its id, so re-indexing skips it.
    digest = hashlib.sha1(f"{kind}\n{full}".encode()).hexdigest()[:16]
    return Chunk(chunk_id=f"{paper.paper_id}:{digest}", paper_id=paper.paper_id, ordinal=ordinal,
                 text=text, span=span, embed_text=full, kind=kind)


def chunk_corpus(papers: Iterable[Paper], count: TokenCounter, max_tokens: int, overlap: int) -> list[Chunk]:
    """Chunks of every paper, in corpus order."""
    return [c for p in papers for c in chunk_paper(p, count, max_tokens, overlap)]
