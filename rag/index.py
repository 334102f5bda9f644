"""Build, update and open the on-disk index: Chroma vectors + a bm25s index + the records.

Layout, one folder per (corpus, embedding model and backend), so vectors of two models never mix:

    <index_dir>/<corpus>__<model>__<backend>/
        CURRENT              name of the live version folder (replaced atomically)
        v-<time>-<rand>/     manifest.json, papers.jsonl, chunks.jsonl, chroma/, bm25/

An update writes a new version folder (a copy of the live one, changed there) and only then points
CURRENT at it, so an interrupted run leaves the previous index usable. Chunk ids are content
hashes: re-indexing embeds only new or changed chunks and deletes removed ones. The manifest
records what shaped the index (embedder, dimension, chunking, corpus fingerprint).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .chunking import chunk_corpus
from .corpus import Corpus
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from .settings import Settings
from .types import Chunk, Paper

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
COLLECTION = "chunks"
REBUILD_HINT = "run `rag index --rebuild`"


def index_key(settings: Settings) -> str:
    """Folder name for this corpus and embedder, e.g. 'iclr2023__all-minilm-l6-v2__onnx-int8'."""
    model = re.sub(r"[^a-z0-9.]+", "-", Path(settings.embed_model).name.lower()).strip("-")
    return f"{settings.resolved_corpus_name}__{model}__{settings.resolved_embed_backend}"


def index_home(settings: Settings) -> Path:
    return settings.resolved_index_dir / index_key(settings)


def embedder_identity(settings: Settings) -> str:
    return f"{settings.embed_model}|{settings.resolved_embed_backend}"


# --------------------------------------------------------------------------------------------
# the opened index

@dataclass
class Index:
    """A loaded index version: records, Chroma collection and BM25, ready to query."""

    path: Path
    manifest: dict[str, Any]
    papers: dict[str, Paper]
    chunks: list[Chunk]
    collection: Any
    bm25: Any
    client: Any = None
    chunk_pos: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chunk_pos = {c.chunk_id: i for i, c in enumerate(self.chunks)}

    def close(self) -> None:
        """Release the Chroma client (its files stay on disk)."""
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # closing is best effort; the process may be exiting
                pass
            self.client = None


def _chroma_client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def _live_version(home: Path) -> Path | None:
    current = home / "CURRENT"
    if not current.exists():
        return None
    name = current.read_text().strip()
    return home / name if name else None


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _paper_from_dict(d: dict) -> Paper:
    return Paper(**{**d, "authors": tuple(d.get("authors") or ()), "pages": tuple(d.get("pages") or ())})


def _chunk_from_dict(d: dict) -> Chunk:
    return Chunk(**{**d, "span": tuple(d["span"]) if d.get("span") else None})


def open_index(settings: Settings) -> Index:
    """Open the live index for these settings, or raise an error that says what to run."""
    home = index_home(settings)
    version = _live_version(home)
    if version is None:
        raise IndexMissingError(f"no index for corpus {settings.resolved_corpus_name!r} with {settings.embed_model} ({settings.resolved_embed_backend}) under {settings.resolved_index_dir}: run `rag index`")
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index at {version} is damaged (manifest: {exc}): {REBUILD_HINT}") from None
    if manifest.get("embedder") != embedder_identity(settings) or manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"index at {version} was built with {manifest.get('embedder')!r} (format {manifest.get('format')}), "
                                 f"settings ask for {embedder_identity(settings)!r}: {REBUILD_HINT}")
    try:
        import bm25s

        papers = {d["paper_id"]: _paper_from_dict(d) for d in _read_jsonl(version / "papers.jsonl")}
        chunks = [_chunk_from_dict(d) for d in _read_jsonl(version / "chunks.jsonl")]
        bm25 = bm25s.BM25.load(str(version / "bm25"), load_corpus=False)
        client = _chroma_client(version / "chroma")
        collection = client.get_collection(COLLECTION, embedding_function=None)
        count = collection.count()
    except Exception as exc:  # any unreadable part means the same thing to the user
        raise IndexCorruptError(f"index at {version} is damaged ({type(exc).__name__}: {exc}): {REBUILD_HINT}") from None
    if count != len(chunks) or manifest.get("chunks") != len(chunks) or int(bm25.scores["num_docs"]) != len(chunks):
        client.close()
        raise IndexCorruptError(f"index at {version} is damaged ({count} vectors, {len(chunks)} chunks, manifest says {manifest.get('chunks')}): {REBUILD_HINT}")
    return Index(path=version, manifest=manifest, papers=papers, chunks=chunks, collection=collection, bm25=bm25, client=client)


# --------------------------------------------------------------------------------------------
# building

@dataclass
class BuildReport:
    """What an index run did."""

    path: Path
    papers: int
    chunks: int
    added: int
    removed: int
    unchanged: bool
    rebuilt: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.unchanged:
            return f"index up to date: {self.papers} papers, {self.chunks} chunks ({self.path})"
        verb = "built" if self.rebuilt else "updated"
        return (f"index {verb} in {self.seconds:.1f} s: {self.papers} papers, {self.chunks} chunks "
                f"({self.added} embedded, {self.removed} removed) at {self.path}")


def shape_of(settings: Settings, corpus: Corpus) -> dict[str, Any]:
    """Everything that decides the index content; equal shapes mean nothing to do."""
    return {"format": FORMAT_VERSION, "embedder": embedder_identity(settings), "corpus": corpus.fingerprint,
            "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap}


def is_current(settings: Settings, corpus: Corpus) -> bool:
    """True when the live index was built from this corpus with these settings."""
    version = _live_version(index_home(settings))
    if version is None:
        return False
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return all(manifest.get(k) == v for k, v in shape_of(settings, corpus).items())


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One index run at a time per index folder (a second waits)."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _bm25_tokenize(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False) if texts else []


_STEMMER = None


def _stemmer():
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def bm25_query_tokens(text: str) -> list[str]:
    """The query's BM25 terms, tokenized exactly like the indexed chunks."""
    return _bm25_tokenize([text])[0]


def build_index(settings: Settings, corpus: Corpus, embedder_factory: Callable[[], Any], rebuild: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> BuildReport:
    """Create or update the index for `corpus`; embeds only new or changed chunks.

    `embedder_factory` is called only when something must be embedded, so an unchanged corpus
    never loads the model. `progress(stage, done, total)` reports embedding progress.
    """
    started = time.perf_counter()
    home = index_home(settings)
    with _locked(home):
        live = None if rebuild else _live_version(home)
        old_manifest: dict[str, Any] = {}
        if live is not None:
            try:
                old_manifest = json.loads((live / "manifest.json").read_text())
            except (OSError, ValueError):
                raise IndexCorruptError(f"index at {live} is damaged (unreadable manifest): {REBUILD_HINT}") from None
            if old_manifest.get("embedder") != embedder_identity(settings) or old_manifest.get("format") != FORMAT_VERSION:
                raise IndexMismatchError(f"index at {live} was built with {old_manifest.get('embedder')!r}, settings ask for {embedder_identity(settings)!r}: {REBUILD_HINT}")
            if all(old_manifest.get(k) == v for k, v in shape_of(settings, corpus).items()):
                return BuildReport(live, len(corpus), int(old_manifest.get("chunks", 0)), 0, 0, True, False,
                                   time.perf_counter() - started, list(corpus.warnings))

        embedder = embedder_factory()
        max_tokens = min(settings.chunk_tokens, embedder.max_tokens - 2)  # [CLS] and [SEP]
        chunks = chunk_corpus(corpus.papers, embedder.count_tokens, max_tokens, settings.chunk_overlap)
        new_ids = {c.chunk_id for c in chunks}
        if len(new_ids) != len(chunks):  # identical text twice in one paper: keep the first
            seen: set[str] = set()
            chunks = [c for c in chunks if not (c.chunk_id in seen or seen.add(c.chunk_id))]

        version = home / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        old_ids: set[str] = set()
        if live is not None:
            try:
                old_ids = {d["chunk_id"] for d in _read_jsonl(live / "chunks.jsonl")}
                shutil.copytree(live / "chroma", version / "chroma")
            except (OSError, ValueError, KeyError) as exc:
                shutil.rmtree(version, ignore_errors=True)
                raise IndexCorruptError(f"index at {live} is damaged ({exc}): {REBUILD_HINT}") from None
        version.mkdir(parents=True, exist_ok=True)
        try:
            added, removed = _sync_vectors(version, chunks, old_ids, embedder, settings, progress)
            _write_records(version, corpus, chunks)
            manifest = {**shape_of(settings, corpus), "dim": embedder.dim, "max_tokens": max_tokens,
                        "papers": len(corpus), "chunks": len(chunks), "corpus_name": settings.resolved_corpus_name,
                        "embed_model": settings.embed_model, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        "pages": [p.__dict__ for p in corpus.pages]}
            (version / "manifest.json").write_text(json.dumps(manifest, indent=1))
            _fsync_tree(version)
            tmp = home / "CURRENT.tmp"
            tmp.write_text(version.name)
            os.replace(tmp, home / "CURRENT")  # the switch: atomic on POSIX
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        _remove_old_versions(home, keep={version.name, live.name if live else ""})
    return BuildReport(version, len(corpus), len(chunks), added, removed, False, live is None,
                       time.perf_counter() - started, list(corpus.warnings))


def _sync_vectors(version: Path, chunks: list[Chunk], old_ids: set[str], embedder: Any, settings: Settings,
                  progress: Callable[[str, int, int], None] | None) -> tuple[int, int]:
    """Bring the Chroma copy in `version` to exactly `chunks`; returns (added, removed)."""
    client = _chroma_client(version / "chroma")
    try:
        collection = client.get_or_create_collection(
            COLLECTION, embedding_function=None,
            # ef_search well above `candidates`: with ~1-10k vectors HNSW then returns the exact top hits.
            configuration={"hnsw": {"space": "cosine", "ef_search": max(200, settings.candidates * 2), "ef_construction": 200}})
        new_ids = {c.chunk_id for c in chunks}
        stale = sorted(old_ids - new_ids)
        batch = client.get_max_batch_size()
        for i in range(0, len(stale), batch):
            collection.delete(ids=stale[i:i + batch])
        todo = [c for c in chunks if c.chunk_id not in old_ids]
        done = 0
        if progress:
            progress("embedding", 0, len(todo))

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embedding", done, len(todo))

        vectors = embedder.embed([c.embed_text for c in todo], progress=tick) if todo else np.zeros((0, 1))
        for i in range(0, len(todo), batch):
            part = todo[i:i + batch]
            collection.add(ids=[c.chunk_id for c in part], embeddings=vectors[i:i + batch],
                           documents=[c.embed_text for c in part],
                           metadatas=[{"paper_id": c.paper_id, "kind": c.kind} for c in part])
        if collection.count() != len(chunks):
            raise IndexCorruptError(f"vector store holds {collection.count()} vectors for {len(chunks)} chunks after the update: {REBUILD_HINT}")
        return len(todo), len(stale)
    finally:
        client.close()


def _write_records(version: Path, corpus: Corpus, chunks: list[Chunk]) -> None:
    """papers.jsonl, chunks.jsonl and the BM25 index (rebuilt whole: well under a second)."""
    import bm25s

    _write_jsonl(version / "papers.jsonl", [p.to_dict() for p in corpus.papers])
    _write_jsonl(version / "chunks.jsonl", [c.__dict__ for c in chunks])
    retriever = bm25s.BM25()
    retriever.index(_bm25_tokenize([c.embed_text for c in chunks]), show_progress=False)
    retriever.save(str(version / "bm25"))


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _remove_old_versions(home: Path, keep: set[str]) -> None:
    """Delete versions other than the live and the previous one (a reader may still hold it)."""
    for child in home.iterdir():
        if child.is_dir() and child.name.startswith("v-") and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
