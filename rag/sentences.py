"""Sentence and title vectors of the abstracts, kept beside an index version (`sentences.npz`).

Two answerability signals read them: the question's best cosine to one sentence of the top paper,
and to its title (rag.answerability: `sent_top_paper`, `title_top_paper`). A chunk vector blends a
paper's topic across several sentences; whether one sentence says what was asked is sharper.

They are embedded at index time (the shipped corpus: 4,250 sentences and 525 titles, about 9 s on
two cores), reused on an update for every unchanged text (keyed by a hash of the text, as chunks
are), and written by `rag index` into a version an older release built without them. A numpy file,
not a Chroma collection: they are only ever read whole into memory, never searched by nearest
neighbour. An index without a readable, current file still answers: its vectors are computed in
memory, with a warning that says to run `rag index`.
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
FILE = "sentences.npz"
FORMAT = 1

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class SentenceVectors:
    """Unit vectors of every abstract sentence and title, with the rows of each paper."""

    vectors: np.ndarray  # float32, one row per sentence, papers in index order
    titles: np.ndarray  # float32, one row per paper
    paper_rows: dict[str, np.ndarray]  # paper id -> its sentence rows
    paper_pos: dict[str, int]  # paper id -> its title row


def units(papers: Iterable[Paper]) -> tuple[list[str], list[str], list[str]]:
    """(each sentence's paper id, the sentence texts, the titles), in the order the file stores them."""
    pids, texts, titles = [], [], []
    for p in papers:
        titles.append(p.title)
        for a, b in split_sentences(p.abstract):
            pids.append(p.paper_id)
            texts.append(p.abstract[a:b])
    return pids, texts, titles


def _keys(texts: Sequence[str]) -> np.ndarray:
    return np.array([hashlib.sha1(t.encode("utf-8")).digest()[:12] for t in texts], dtype="S12")


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ("format", "keys", "vectors", "title_keys", "title_vectors")}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file reads as missing: it is recomputed, never trusted
        log.warning("unreadable %s (%s): it is recomputed", path, exc)
        return None
    if int(data["format"]) != FORMAT or len(data["keys"]) != len(data["vectors"]) or len(data["title_keys"]) != len(data["title_vectors"]):
        return None
    return data


def _assemble(papers: Sequence[Paper], vectors: np.ndarray, titles: np.ndarray) -> SentenceVectors:
    pids, _, _ = units(papers)
    rows: dict[str, list[int]] = {}
    for i, pid in enumerate(pids):
        rows.setdefault(pid, []).append(i)
    return SentenceVectors(np.asarray(vectors, dtype=np.float32), np.asarray(titles, dtype=np.float32),
                           {pid: np.array(r) for pid, r in rows.items()}, {p.paper_id: i for i, p in enumerate(papers)})


def load(version: Path, papers: Sequence[Paper]) -> SentenceVectors | None:
    """The stored vectors of `version`, or None when the file is missing, unreadable or not for these papers."""
    data = _read(Path(version) / FILE)
    if data is None:
        return None
    _, texts, titles = units(papers)
    if not (np.array_equal(data["keys"], _keys(texts)) and np.array_equal(data["title_keys"], _keys(titles))):
        return None  # another sentence splitter or other abstracts: stale
    return _assemble(papers, data["vectors"], data["title_vectors"])


def write(version: Path, papers: Sequence[Paper], embed: Embed, reuse: Path | None = None) -> int:
    """Embed and store the vectors of `papers` in `version`; texts the `reuse` version holds are not
    embedded again. Returns how many texts were embedded. The file is replaced atomically."""
    _, texts, titles = units(papers)
    keys, title_keys = _keys(texts), _keys(titles)
    known: dict[bytes, np.ndarray] = {}
    old = _read(Path(reuse) / FILE) if reuse is not None else None
    if old is not None:
        known.update(zip(old["keys"].tolist(), old["vectors"]))
        known.update(zip(old["title_keys"].tolist(), old["title_vectors"]))
    wanted = list(keys.tolist()) + list(title_keys.tolist())
    all_texts = texts + titles
    todo = sorted({k: i for i, k in enumerate(wanted) if k not in known}.values())
    if todo:
        fresh = np.asarray(embed([all_texts[i] for i in todo]), dtype=np.float32)
        known.update((wanted[i], v) for i, v in zip(todo, fresh))
    dim = next(iter(known.values())).shape[0] if known else 1
    stack = lambda ks: np.stack([known[k] for k in ks]).astype(np.float16) if len(ks) else np.zeros((0, dim), np.float16)  # noqa: E731
    # float16: half the memory and disk; a cosine moves by ~1e-3, far below what the signals resolve
    tmp = Path(version) / (FILE + ".tmp.npz")
    np.savez(tmp, format=np.array(FORMAT), keys=keys, vectors=stack(keys.tolist()), title_keys=title_keys,
             title_vectors=stack(title_keys.tolist()))
    os.replace(tmp, Path(version) / FILE)
    return len(todo)


def vectors_for(version: Path, papers: Sequence[Paper], embed: Embed | None) -> SentenceVectors | None:
    """The stored vectors, else (an index an older release built, or a damaged file) computed now in memory."""
    found = load(version, papers)
    if found is not None or embed is None:
        return found
    _, texts, titles = units(papers)
    log.warning("the index at %s has no current sentence vectors (%s): computing %d now; run `rag index` to store them",
                version, FILE, len(texts) + len(titles))
    vecs = np.asarray(embed(texts + titles), dtype=np.float32).astype(np.float16)  # as stored: the same features either way
    return _assemble(papers, vecs[:len(texts)], vecs[len(texts):])


__all__ = ["FILE", "SentenceVectors", "load", "units", "vectors_for", "write"]
