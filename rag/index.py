"""Build, update and open the index: Chroma vectors + a bm25s index + the records.

Layout, one folder per (corpus, embedding model and backend), so vectors of two models never mix:

    <index_dir>/<corpus>__<model>__<backend>/
        CURRENT              name of the live version folder (replaced atomically)
        v-<time>-<rand>/     manifest.json, papers.jsonl, chunks.jsonl, bm25/, and chroma/ (local store)

The vectors live in a local Chroma store inside the version folder, or, in server mode, in a
collection of that version's own on a Chroma server (rag/store.py). Either way the records and the
BM25 index are files of the version, so every client of a shared index dir ranks with the same BM25
index, and the version, its collection and its BM25 files switch together at the CURRENT rename.

An update writes a new version and only then points CURRENT at it, so an interrupted run leaves the
previous index usable. Chunk ids are content hashes: re-indexing embeds only new or changed chunks.
The build streams: papers are chunked, embedded and written in blocks of ~BLOCK chunks, and the BM25
index is built once at the end from compact token ids, so memory holds the records and the indexes,
not every chunk's text, tokens and vector at once.
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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .chunking import chunk_corpus
from .corpus import Corpus
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError, StoreUnavailableError
from .lexical import TokenIds, _bm25_tokenize, bm25_query_tokens  # noqa: F401  (bm25_query_tokens: public here too)
from .settings import Settings
from .store import Store
from .types import Chunk, Paper

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
COLLECTION = "chunks"
REBUILD_HINT = "run `rag index --rebuild`"
BLOCK = 4096  # chunks embedded and written per step: long enough to sort by length, small in memory

Progress = Callable[[str, int, int], None]


def index_key(settings: Settings) -> str:
    """Folder name for this corpus and embedder, e.g. 'iclr2023__all-minilm-l6-v2__onnx-int8'."""
    model = re.sub(r"[^a-z0-9.]+", "-", Path(settings.embed_model).name.lower()).strip("-")
    return f"{settings.resolved_corpus_name}__{model}__{settings.resolved_embed_backend}"


def index_home(settings: Settings) -> Path:
    return settings.resolved_index_dir / index_key(settings)


def embedder_identity(settings: Settings) -> str:
    """What made the vectors. The int8 export's version is part of it: vectors of an older export
    differ slightly from a new one's queries, so an index built with it is rebuilt once."""
    backend = settings.resolved_embed_backend
    if backend == "onnx-int8":
        from .embedding import EXPORT_VERSION

        return f"{settings.embed_model}|{backend}|export-v{EXPORT_VERSION}"
    return f"{settings.embed_model}|{backend}"


def _only_export_differs(manifest: dict[str, Any], settings: Settings) -> bool:
    """Same model, backend and format, another version of our int8 export (or none recorded)."""
    old, new = str(manifest.get("embedder", "")), embedder_identity(settings)
    return (old != new and manifest.get("format") == FORMAT_VERSION
            and old.split("|export-")[0] == new.split("|export-")[0])


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
    store: Store | None = None

    def __post_init__(self) -> None:
        self.chunk_pos = {c.chunk_id: i for i, c in enumerate(self.chunks)}

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> tuple[list[str], list[float]]:
        """(chunk ids, cosine distances) of the `n` nearest chunks, local or on the server."""
        guard = self.store.guard("searching") if self.store else nullcontext()
        with guard:
            res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return res["ids"][0], res["distances"][0]

    def close(self) -> None:
        """Release the Chroma client (its files stay on disk)."""
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # closing is best effort; the process may be exiting
                pass
            self.client = None


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


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
    store = Store(settings)
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
    if manifest.get("store", "local") != store.kind:
        raise IndexMismatchError(f"index at {version} keeps its vectors in a {manifest.get('store', 'local')} store, settings name {store.where}: "
                                 "run `rag index` with these settings (it embeds into the new store)")
    client = None
    try:
        import bm25s

        client = store.connect(version)  # a server that is down or refuses the token says so itself

        papers = {d["paper_id"]: _paper_from_dict(d) for d in _read_jsonl(version / "papers.jsonl")}
        chunks = [_chunk_from_dict(d) for d in _read_jsonl(version / "chunks.jsonl")]
        bm25 = bm25s.BM25.load(str(version / "bm25"), load_corpus=False)
        collection = store.open_collection(client, version, manifest)
        with store.guard("counting vectors"):
            count = collection.count()
    except StoreUnavailableError:
        _close(client)
        raise
    except Exception as exc:  # any unreadable part means the same thing to the user
        _close(client)
        raise IndexCorruptError(f"index at {version} is damaged ({type(exc).__name__}: {exc}): {REBUILD_HINT}") from None
    if count != len(chunks) or manifest.get("chunks") != len(chunks) or int(bm25.scores["num_docs"]) != len(chunks):
        _close(client)
        raise IndexCorruptError(f"index at {version} is damaged ({count} vectors, {len(chunks)} chunks, manifest says {manifest.get('chunks')}): {REBUILD_HINT}")
    return Index(path=version, manifest=manifest, papers=papers, chunks=chunks, collection=collection, bm25=bm25,
                 client=client, store=store)


def _close(client: Any) -> None:
    if client is None:
        return
    try:
        client.close()
    except Exception:
        pass


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
    merges: list[str] = field(default_factory=list)
    store: str = "local"
    # Seconds per build stage ("chunk", "embed", "vectors", "records", "bm25", "fsync"): where a build's
    # time goes, for `rag index -v` and the benchmarks (the stages interleave block by block, so these are sums).
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        merged = f"; {len(self.merges)} record(s) merged into papers listed earlier (see warnings)" if self.merges else ""
        if self.unchanged:
            return f"index up to date: {self.papers} papers, {self.chunks} chunks ({self.path}){merged}"
        verb = "built" if self.rebuilt else "updated"
        where = "" if self.store == "local" else f", vectors on the Chroma server at {self.store}"
        return (f"index {verb} in {self.seconds:.1f} s: {self.papers} papers, {self.chunks} chunks "
                f"({self.added} embedded, {self.removed} removed) at {self.path}{where}{merged}")


def shape_of(settings: Settings, corpus: Corpus) -> dict[str, Any]:
    """Everything that decides the index content; equal shapes mean nothing to do."""
    return {"format": FORMAT_VERSION, "embedder": embedder_identity(settings), "corpus": corpus.fingerprint,
            "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap,
            "store": Store(settings).kind}


def _same_shape(manifest: dict[str, Any], shape: dict[str, Any]) -> bool:
    return all(manifest.get(k, "local" if k == "store" else None) == v for k, v in shape.items())


def is_current(settings: Settings, corpus: Corpus) -> bool:
    """True when the live index was built from this corpus with these settings."""
    version = _live_version(index_home(settings))
    if version is None:
        return False
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return _same_shape(manifest, shape_of(settings, corpus))


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


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _blocks(papers: list[Paper], chunker: Callable[[list[Paper]], list[Chunk]], size: int) -> Iterator[tuple[int, list[Chunk]]]:
    """(papers in the block, their chunks) for consecutive blocks of about `size` chunks."""
    step = max(1, size // 3)  # ~2.5 chunks per abstract: read a few papers more than needed, not the corpus
    pending: list[Chunk] = []
    pending_papers = 0
    for i in range(0, len(papers), step):
        part = papers[i:i + step]
        pending.extend(chunker(part))
        pending_papers += len(part)
        if len(pending) >= size:
            yield pending_papers, pending
            pending, pending_papers = [], 0
    if pending_papers:
        yield pending_papers, pending


def build_index(settings: Settings, corpus: Corpus, embedder_factory: Callable[[], Any], rebuild: bool = False,
                progress: Progress | None = None) -> BuildReport:
    """Create or update the index for `corpus`; embeds only new or changed chunks.

    `embedder_factory` is called only when something must be embedded, so an unchanged corpus
    never loads the model. `progress(stage, done, total)` is called with stage "chunks" (chunks
    written; total estimated from the papers so far) and then "papers" (papers done, of all).
    """
    started = time.perf_counter()
    home = index_home(settings)
    store = Store(settings)
    with _locked(home):
        live = None if rebuild else _live_version(home)
        old_manifest: dict[str, Any] = {}
        if live is not None:
            try:
                old_manifest = json.loads((live / "manifest.json").read_text())
            except (OSError, ValueError):
                raise IndexCorruptError(f"index at {live} is damaged (unreadable manifest): {REBUILD_HINT}") from None
            if _only_export_differs(old_manifest, settings):  # our int8 export changed: re-embed everything once
                log.warning("the int8 embedder changed since %s was built: re-embedding the collection", live.name)
                live, old_manifest = None, {}
            elif old_manifest.get("embedder") != embedder_identity(settings) or old_manifest.get("format") != FORMAT_VERSION:
                raise IndexMismatchError(f"index at {live} was built with {old_manifest.get('embedder')!r}, settings ask for {embedder_identity(settings)!r}: {REBUILD_HINT}")
            if live is not None and _same_shape(old_manifest, shape_of(settings, corpus)):
                return BuildReport(live, len(corpus), int(old_manifest.get("chunks", 0)), 0, 0, True, False,
                                   time.perf_counter() - started, list(corpus.warnings), list(corpus.merges), store.describe())
        reuse = live if live is not None and old_manifest.get("store", "local") == store.kind else None

        embedder = embedder_factory()
        version = home / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        old_ids: set[str] = set()
        if reuse is not None:
            try:
                with (reuse / "chunks.jsonl").open(encoding="utf-8") as f:
                    old_ids = {json.loads(line)["chunk_id"] for line in f if line.strip()}
                if store.kind == "local":
                    shutil.copytree(reuse / "chroma", version / "chroma")
            except (OSError, ValueError, KeyError) as exc:
                shutil.rmtree(version, ignore_errors=True)
                raise IndexCorruptError(f"index at {reuse} is damaged ({exc}): {REBUILD_HINT}") from None
        version.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {}
        timings: dict[str, float] = {}
        try:
            added, removed, n_chunks, max_tokens = _write_version(version, corpus, embedder, settings, store, reuse,
                                                                  old_manifest, old_ids, progress, timings)
            manifest = {**shape_of(settings, corpus), "dim": embedder.dim, "max_tokens": max_tokens,
                        "papers": len(corpus), "chunks": n_chunks, "corpus_name": settings.resolved_corpus_name,
                        "embed_model": settings.embed_model, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        "collection": store.collection_name(version),
                        "server": store.describe() if store.kind == "server" else None,
                        "pages": [p.__dict__ for p in corpus.pages]}
            (version / "manifest.json").write_text(json.dumps(manifest, indent=1))
            with _timed(timings, "fsync"):
                _fsync_tree(version)
            tmp = home / "CURRENT.tmp"
            tmp.write_text(version.name)
            os.replace(tmp, home / "CURRENT")  # the switch: atomic on POSIX
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            store.drop(version)  # a half-filled server collection goes too; the live one is untouched
            raise
        _remove_old_versions(home, store, keep={version.name, live.name if live else ""})
    return BuildReport(version, len(corpus), n_chunks, added, removed, False, live is None,
                       time.perf_counter() - started, list(corpus.warnings), list(corpus.merges), store.describe(),
                       {k: round(v, 3) for k, v in timings.items()})


def _write_version(version: Path, corpus: Corpus, embedder: Any, settings: Settings, store: Store, reuse: Path | None,
                   old_manifest: dict[str, Any], old_ids: set[str], progress: Progress | None,
                   timings: dict[str, float]) -> tuple[int, int, int, int]:
    """Stream the corpus into `version`: chunk, embed what is new, write vectors, records and BM25.

    Returns (chunks embedded, chunks removed, chunks in the index, the chunk token budget); adds the
    seconds of each stage to `timings`.
    """
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens - 2)  # [CLS] and [SEP]
    client = store.connect(version)
    old_client = store.connect(reuse) if (reuse is not None and store.kind == "server") else None
    try:
        with store.guard("writing vectors"):
            collection = store.create_collection(client, version, max(200, settings.candidates * 2))
            old_collection = store.open_collection(old_client, reuse, old_manifest) if old_client is not None else None
            batch = client.get_max_batch_size()
        tokens = TokenIds()
        new_ids: set[str] = set()
        added = written = papers_done = 0
        total_papers = len(corpus.papers)

        def chunker(papers: list[Paper]) -> list[Chunk]:
            with _timed(timings, "chunk"):
                return chunk_corpus(papers, embedder.count_tokens, max_tokens, settings.chunk_overlap)

        with (version / "chunks.jsonl").open("w", encoding="utf-8") as rows:
            for block_papers, chunks in _blocks(corpus.papers, chunker, BLOCK):
                chunks = [c for c in chunks if not (c.chunk_id in new_ids or new_ids.add(c.chunk_id))]  # identical text twice in a paper: keep the first
                todo = [c for c in chunks if c.chunk_id not in old_ids]
                base_written, base_papers = written, papers_done

                def report(papers_now: float) -> None:
                    if progress:  # chunks: total estimated from the chunks per paper so far, reached only at the end
                        est = int(written / papers_now * total_papers) if papers_now else written
                        progress("chunks", written, written if papers_now >= total_papers else max(written + 1, est))
                        progress("papers", int(papers_now), total_papers)

                def tick(n: int) -> None:
                    nonlocal written
                    written += n
                    report(base_papers + block_papers * (written - base_written) / max(1, len(chunks)))

                tick(len(chunks) - len(todo))  # kept chunks count as done at once
                with _timed(timings, "embed"):
                    vectors = embedder.embed([c.embed_text for c in todo], progress=tick) if todo else None
                with store.guard("writing vectors"), _timed(timings, "vectors"):
                    for i in range(0, len(todo), batch):
                        part = todo[i:i + batch]
                        collection.add(ids=[c.chunk_id for c in part], embeddings=vectors[i:i + batch],
                                       metadatas=[{"paper_id": c.paper_id, "kind": c.kind} for c in part])
                    if old_collection is not None:  # server: unchanged vectors move from the live collection
                        kept = [c.chunk_id for c in chunks if c.chunk_id in old_ids]
                        for i in range(0, len(kept), batch):
                            got = old_collection.get(ids=kept[i:i + batch], include=["embeddings", "metadatas"])
                            collection.add(ids=got["ids"], embeddings=got["embeddings"], metadatas=got["metadatas"])
                with _timed(timings, "records"):
                    for c in chunks:
                        rows.write(json.dumps(c.__dict__, ensure_ascii=False) + "\n")
                with _timed(timings, "bm25"):
                    tokens.add([c.embed_text for c in chunks])
                added += len(todo)
                papers_done += block_papers
                report(papers_done)
        stale = sorted(old_ids - new_ids) if store.kind == "local" else []
        with store.guard("writing vectors"):
            for i in range(0, len(stale), batch):
                collection.delete(ids=stale[i:i + batch])
            count = collection.count()
        if count != len(new_ids):
            raise IndexCorruptError(f"vector store holds {count} vectors for {len(new_ids)} chunks after the update: {REBUILD_HINT}")
        with _timed(timings, "records"):
            _write_jsonl(version / "papers.jsonl", (p.to_dict() for p in corpus.papers))
        with _timed(timings, "bm25"):
            tokens.build().save(str(version / "bm25"))  # once, at the end: bm25s has no incremental add
        return added, len(old_ids - new_ids), len(new_ids), max_tokens
    finally:
        _close(client)
        if old_client is not None:
            _close(old_client)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _remove_old_versions(home: Path, store: Store, keep: set[str]) -> None:
    """Delete versions other than the live and the previous one (a reader may still hold it)."""
    for child in home.iterdir():
        if child.is_dir() and child.name.startswith("v-") and child.name not in keep:
            manifest: dict[str, Any] = {}
            try:
                manifest = json.loads((child / "manifest.json").read_text())
            except (OSError, ValueError):
                pass
            if manifest.get("store", "local") == "server":
                store.drop(child, manifest)
            shutil.rmtree(child, ignore_errors=True)
    if store.kind == "server":  # collections of runs that died with the server down (their folders are gone)
        store.drop_orphans(home, keep)
