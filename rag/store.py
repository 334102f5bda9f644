"""Where the vectors live: a local Chroma store inside each index version, or a Chroma server.

Both go through chromadb's own client API; only how the client is made and what the collection is
called differ:

- local (default): `PersistentClient(<version>/chroma)`, one collection named "chunks".
- server (`RAG_CHROMA_HOST` set): `HttpClient(host, port)`, one collection per index version, named
  `<index key>.<version>`, so an update fills a new collection while readers keep the old one, and
  the switch is the same atomic CURRENT rename as in local mode.

A server that is down, refuses the token, or lacks a collection raises `StoreUnavailableError` with
the host and port and what to do. Does not: start servers, or keep the records and the BM25 index
(those stay files in the index dir, see rag/index.py).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import StoreUnavailableError
from .settings import Settings

LOCAL_COLLECTION = "chunks"
# HNSW: ef_search well above `candidates` keeps the returned top hits exact up to ~100k vectors.
EF_CONSTRUCTION = 200


def _server_hint(settings: Settings) -> str:
    return (f"start it (`chroma run --path DIR --host {settings.chroma_host} --port {settings.chroma_port}`) "
            "or fix RAG_CHROMA_HOST / RAG_CHROMA_PORT (unset RAG_CHROMA_HOST for a local store)")


class Store:
    """Makes Chroma clients and names collections for one Settings."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.kind = "server" if settings.server_mode else "local"

    @property
    def where(self) -> str:
        s = self.settings
        return f"the Chroma server at {s.chroma_host}:{s.chroma_port}" if self.kind == "server" else "a local Chroma store"

    def collection_name(self, version: Path) -> str:
        if self.kind == "local":
            return LOCAL_COLLECTION
        # Chroma names: 3-512 of [a-zA-Z0-9._-], starting and ending alphanumeric.
        return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{version.parent.name}.{version.name}").strip("-._")[:500]

    def connect(self, version: Path) -> Any:
        """A client for `version` (local) or for the server; server errors become StoreUnavailableError."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.kind == "local":
            return chromadb.PersistentClient(path=str(version / "chroma"), settings=chroma_settings)
        s = self.settings
        headers = self._headers()
        self._preflight(headers)
        with self.guard("connecting"):
            return chromadb.HttpClient(host=s.chroma_host, port=s.chroma_port, headers=headers, settings=chroma_settings,
                                       tenant=s.chroma_tenant, database=s.chroma_database)

    def _headers(self) -> dict[str, str]:
        token = self.settings.chroma_token
        # The header Chroma's own token auth reads by default, and what an auth proxy in front expects.
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    def _preflight(self, headers: dict[str, str]) -> None:
        """One heartbeat first, so a down server or a refused token gets its own plain message."""
        import httpx

        s = self.settings
        try:
            resp = httpx.get(f"http://{s.chroma_host}:{s.chroma_port}/api/v2/heartbeat", headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"cannot reach the Chroma server at {s.chroma_host}:{s.chroma_port} ({type(exc).__name__}): "
                                        f"{_server_hint(s)}") from None
        if resp.status_code in (401, 403):
            raise StoreUnavailableError(f"the Chroma server at {s.chroma_host}:{s.chroma_port} refused the token (HTTP {resp.status_code}): "
                                        "set RAG_CHROMA_TOKEN (or --chroma-token) to a token it accepts")
        if resp.status_code != 200:
            raise StoreUnavailableError(f"{s.chroma_host}:{s.chroma_port} answered HTTP {resp.status_code} to a Chroma heartbeat: "
                                        "is a Chroma server (1.x, API v2) listening there? Check RAG_CHROMA_HOST / RAG_CHROMA_PORT")

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn a server failure during `doing` into one actionable error (local errors pass through)."""
        if self.kind == "local":
            yield
            return
        import httpx

        s = self.settings
        try:
            yield
        except StoreUnavailableError:
            raise
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"lost the Chroma server at {s.chroma_host}:{s.chroma_port} while {doing} ({type(exc).__name__}): "
                                        f"{_server_hint(s)}; the previous index version stays live") from None
        except Exception as exc:
            text = str(exc)
            if any(w in text.lower() for w in ("unauthorized", "forbidden", "permission denied", "401", "403")):
                raise StoreUnavailableError(f"the Chroma server at {s.chroma_host}:{s.chroma_port} refused the token while {doing}: "
                                            "set RAG_CHROMA_TOKEN to a token it accepts") from None
            if "tenant" in text.lower() or "database" in text.lower():
                raise StoreUnavailableError(f"the Chroma server at {s.chroma_host}:{s.chroma_port} has no tenant {s.chroma_tenant!r} / "
                                            f"database {s.chroma_database!r} ({text[:200]}): create them or fix RAG_CHROMA_TENANT / RAG_CHROMA_DATABASE") from None
            raise

    def create_collection(self, client: Any, version: Path, ef_search: int) -> Any:
        with self.guard("creating a collection"):
            return client.get_or_create_collection(
                self.collection_name(version), embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": EF_CONSTRUCTION}})

    def open_collection(self, client: Any, version: Path, manifest: dict[str, Any]) -> Any:
        """The version's collection; on a server a missing one is a StoreUnavailableError saying why."""
        name = manifest.get("collection") or self.collection_name(version)
        if self.kind == "local":
            return client.get_collection(name, embedding_function=None)
        s = self.settings
        with self.guard("opening the collection"):
            try:
                return client.get_collection(name, embedding_function=None)
            except Exception as exc:
                if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                    raise
        built = manifest.get("server") or "another server"
        raise StoreUnavailableError(f"collection {name!r} of index {version} is not on the Chroma server at {s.chroma_host}:{s.chroma_port} "
                                    f"(it was built on {built}): point RAG_CHROMA_HOST / RAG_CHROMA_PORT at that server, "
                                    "or run `rag index --rebuild` to fill this one")

    def drop(self, version: Path, manifest: dict[str, Any] | None = None) -> None:
        """Best effort: delete a server collection of a version that is gone (local ones go with the folder)."""
        if self.kind == "local":
            return
        name = (manifest or {}).get("collection") or self.collection_name(version)
        try:
            client = self.connect(version)
            client.delete_collection(name)
        except Exception:  # already gone, or the server is down: the name is unique, nothing else uses it
            pass

    def drop_orphans(self, home: Path, keep: set[str]) -> None:
        """Delete this index's server collections whose version is neither live nor previous."""
        prefix = self.collection_name(home / "v")[:-1]
        wanted = {self.collection_name(home / name) for name in keep if name}
        try:
            client = self.connect(home)
            for col in client.list_collections():
                name = col if isinstance(col, str) else col.name
                if name.startswith(prefix) and name not in wanted:
                    client.delete_collection(name)
        except Exception:  # best effort, as in drop()
            pass

    def describe(self) -> str:
        s = self.settings
        return f"{s.chroma_host}:{s.chroma_port}" if self.kind == "server" else "local"
