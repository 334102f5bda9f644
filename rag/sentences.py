"""Sentence and title vectors of the abstracts, kept beside an index version.

Two answerability signals read them: the question's best cosine to one sentence of the top paper,
and to its title (rag.answerability: `sent_top_paper`, `title_top_paper`). A chunk vector blends a
paper's topic across several sentences; whether one sentence says what was asked is sharper.

They are embedded at index time (the shipped corpus: 4,250 sentences and 525 titles, about 10 s on
two cores), in blocks, into two files of the version: `sentence_keys.npy` (a hash of each text:
sentences in paper order, then titles) and `sentence_vectors.npy` (float16, written through a
memory map, so a large collection's vectors never sit in memory whole). Reading maps the vectors
(the signals touch the top paper's few rows per question), so a large collection costs page cache,
not resident memory. An update reuses the vectors of unchanged texts; `rag index` adds the files to
a version an older release built without them. A numpy file, not a Chroma collection: the vectors
are read by row, never searched by nearest neighbour. An index whose files are missing, unreadable or
stale (other papers, another sentence splitter) still answers: the vectors are computed in memory
once, with a warning that says to run `rag index`.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .chunking import split_sentences
from .types import Paper

log = logging.getLogger(__name__)
KEYS = "sentence_keys.npy"
VECTORS = "sentence_vectors.npy"
FILES = (KEYS, VECTORS)
BLOCK = 16384  # texts embedded per step: bounded memory, a progress step (the shipped corpus is one: its vectors are those the model was fitted on)

Embed = Callable[..., np.ndarray]  # (texts) -> unit vectors; an Embedder's embed also takes progress=
Progress = Callable[[str, int, int], None]


@dataclass
class SentenceVectors:
    """Unit vectors (float16) of every abstract sentence and title, with the rows of each paper."""

    vectors: np.ndarray  # one row per sentence (papers in index order), then one per title
    paper_rows: dict[str, np.ndarray]  # paper id -> its sentence rows
    title_rows: dict[str, int]  # paper id -> its title row

    def best_sentence(self, paper_id: str, vec: np.ndarray) -> float | None:
        """The paper's best sentence cosine to `vec`; None when it has no sentence."""
        rows = self.paper_rows.get(paper_id)
        if rows is None or not len(rows):
            return None
        return float((self.vectors[rows].astype(np.float32) @ np.asarray(vec, dtype=np.float32)).max())

    def title(self, paper_id: str, vec: np.ndarray) -> float | None:
        row = self.title_rows.get(paper_id)
        return None if row is None else float(self.vectors[row].astype(np.float32) @ np.asarray(vec, dtype=np.float32))


def units(papers: Iterable[Paper]) -> tuple[list[str], list[str], list[str]]:
    """(each sentence's paper id, every text: the sentences then the titles, each title's paper id), in file order."""
    papers = list(papers)
    pids, texts = [], []
    for p in papers:
        for a, b in split_sentences(p.abstract):
            pids.append(p.paper_id)
            texts.append(p.abstract[a:b])
    return pids, texts + [p.title for p in papers], [p.paper_id for p in papers]


def _keys(texts: Sequence[str]) -> np.ndarray:
    return np.array([hashlib.sha1(t.encode("utf-8")).digest()[:12] for t in texts], dtype="S12")


def _rows(pids: list[str], title_pids: list[str]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    rows: dict[str, list[int]] = {}
    for i, pid in enumerate(pids):
        rows.setdefault(pid, []).append(i)
    return {pid: np.array(r) for pid, r in rows.items()}, {pid: len(pids) + i for i, pid in enumerate(title_pids)}


def _open(version: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(keys, memory-mapped vectors) of `version`, or None when missing or unreadable."""
    try:
        keys = np.load(Path(version) / KEYS, allow_pickle=False)
        vectors = np.load(Path(version) / VECTORS, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file reads as missing: recomputed, never trusted
        log.warning("unreadable sentence vectors in %s (%s): they are recomputed", version, exc)
        return None
    if keys.dtype != np.dtype("S12") or vectors.ndim != 2 or len(keys) != len(vectors):
        log.warning("sentence vectors in %s do not match their keys: they are recomputed", version)
        return None
    return keys, vectors


def load(version: Path, papers: Sequence[Paper]) -> SentenceVectors | None:
    """The stored vectors of `version`, or None when missing, unreadable or not for these papers."""
    found = _open(version)
    if found is None:
        return None
    keys, vectors = found
    pids, texts, title_pids = units(papers)
    if not np.array_equal(keys, _keys(texts)):
        return None  # other abstracts or another sentence splitter: stale
    return SentenceVectors(vectors, *_rows(pids, title_pids))


def write(version: Path, papers: Sequence[Paper], embed: Embed, dim: int, reuse: Path | None = None,
          progress: Progress | None = None) -> int:
    """Embed and store the vectors of `papers` in `version`, BLOCK texts at a time; texts the `reuse`
    version holds are copied, not embedded. Returns how many texts were embedded. Each file is
    replaced atomically (a crash between the two leaves keys and vectors that disagree: stale)."""
    version = Path(version)
    _, texts, _ = units(papers)
    keys = _keys(texts)
    old = _open(reuse) if reuse is not None else None
    old_row = {k: i for i, k in enumerate(old[0].tolist())} if old is not None and old[1].shape[1] == dim else {}
    tmp_vectors = version / (VECTORS + ".tmp")
    out = np.lib.format.open_memmap(tmp_vectors, mode="w+", dtype=np.float16, shape=(len(texts), dim))
    todo = []
    for i, k in enumerate(keys.tolist()):
        r = old_row.get(k)
        if r is None:
            todo.append(i)
        else:
            out[i] = old[1][r]
    done = 0
    if progress and todo:
        progress("sentences", 0, len(todo))

    def tick(n: int) -> None:  # the embedder reports each batch it finishes
        nonlocal done
        done += n
        progress("sentences", min(done, len(todo)), len(todo))

    for start in range(0, len(todo), BLOCK):
        part = todo[start:start + BLOCK]
        batch = [texts[i] for i in part]
        vecs = embed(batch, progress=tick) if progress else embed(batch)
        # float16: half the disk and page cache; a cosine moves by ~1e-3, far below what the signals resolve
        out[part] = np.asarray(vecs, dtype=np.float32).astype(np.float16)
    out.flush()
    del out
    tmp_keys = version / (KEYS + ".tmp")
    with tmp_keys.open("wb") as f:
        np.save(f, keys)
    os.replace(tmp_vectors, version / VECTORS)
    os.replace(tmp_keys, version / KEYS)
    return len(todo)


def vectors_for(version: Path, papers: Sequence[Paper], embed: Embed | None) -> SentenceVectors | None:
    """The stored vectors, else (an index an older release built, or damaged files) computed now in memory."""
    found = load(version, papers)
    if found is not None or embed is None:
        return found
    pids, texts, title_pids = units(papers)
    log.warning("the index at %s has no current sentence vectors: computing %d now; run `rag index` to store them",
                version, len(texts))
    vecs = np.concatenate([np.asarray(embed(texts[i:i + BLOCK]), dtype=np.float32) for i in range(0, len(texts), BLOCK)])
    return SentenceVectors(vecs.astype(np.float16), *_rows(pids, title_pids))  # float16, as stored: the same features


__all__ = ["FILES", "SentenceVectors", "load", "units", "vectors_for", "write"]
