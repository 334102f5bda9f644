"""Chroma server mode against a real `chroma run` on a free loopback port.

The shipped corpus indexed through the server, searched, the server restarted, searched again;
two clients at once (this process and a `rag search` child) ranking with the same vectors and the
same BM25 files; a down server and a refused token; a server killed in the middle of an update.
The token test puts a small token-checking proxy in front of the real server, the way a deployment
adds authentication (chroma 1.5's own server checks no token).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from rag import Assistant, Settings
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.errors import StoreUnavailableError
from rag.index import build_index, index_home, open_index
from rag.cli import main

from .conftest import SMALL, write_jsonl

CHROMA = str(Path(sys.executable).with_name("chroma"))
QUERIES = ["cheaper contrastive learning with a memory queue", "attack success rate of poisons designed with the neural tangent kernel",
           "rendering text as images instead of a vocabulary"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """`chroma run` on 127.0.0.1:<port> with its data in `path`; start, stop, restart."""

    def __init__(self, path: Path):
        self.path, self.port, self.proc = path, free_port(), None

    def start(self) -> "ChromaServer":
        self.proc = subprocess.Popen([CHROMA, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("chroma run did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ChromaServer(tmp_path_factory.mktemp("chroma")).start()
    yield srv
    srv.stop()


def server_settings(server: ChromaServer, index_dir: Path, **kw) -> Settings:
    return Settings(index_dir=index_dir, chroma_host="127.0.0.1", chroma_port=server.port, progress=False, **kw)


@pytest.fixture(scope="module")
def shipped_on_server(server, tmp_path_factory):
    settings = server_settings(server, tmp_path_factory.mktemp("server-index"))
    report = Assistant(settings).index()
    return settings, report


def ranking(hits) -> list[tuple[str, int | None]]:
    return [(h.paper_id, h.bm25_rank) for h in hits]


def test_shipped_corpus_through_the_server_survives_a_restart(server, shipped_on_server, assistant):
    settings, report = shipped_on_server
    assert report.rebuilt and report.papers == 525 and report.store == f"127.0.0.1:{server.port}"
    assert not (report.path / "chroma").exists(), "server mode keeps no local vector store"
    a = Assistant(settings.with_options(auto_index=False))
    before = {q: ranking(a.search(q, k=5)) for q in QUERIES}
    local = {q: ranking(assistant.search(q, k=5)) for q in QUERIES}
    assert before == local, "same vectors and the same BM25 files: the server ranks like the local store"
    assert a.loaded_index.collection.count() == report.chunks
    a.close()
    server.stop()
    server.start()  # same port, same data path
    b = Assistant(settings.with_options(auto_index=False))
    assert {q: ranking(b.search(q, k=5)) for q in QUERIES} == before
    b.close()


def test_two_clients_at_once_rank_alike(server, shipped_on_server, tmp_path):
    settings, _ = shipped_on_server
    env = {**os.environ, "RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(server.port), "RAG_INDEX_DIR": str(settings.resolved_index_dir),
           "RAG_AUTO_INDEX": "false", "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])}
    children = [subprocess.Popen([sys.executable, "-m", "rag.cli", "search", q, "-k", "5", "--json"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for q in QUERIES]
    a = Assistant(settings.with_options(auto_index=False))
    mine = {q: [(h.paper_id, h.dense_rank, h.bm25_rank) for h in a.search(q, k=5)] for q in QUERIES}  # while the children run
    a.close()
    for q, child in zip(QUERIES, children):
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert "Building index" not in err and "bm25s" not in err
        theirs = [(r["paper_id"], r["dense_rank"], r["bm25_rank"]) for r in json.loads(out)["results"]]
        assert theirs == mine[q]


def test_an_update_is_seen_by_a_new_client_with_the_same_bm25(server, tmp_path):
    corpus = write_jsonl(tmp_path / "small.jsonl", SMALL)
    settings = server_settings(server, tmp_path / "index", corpus=[corpus])
    first = Assistant(settings).index()
    write_jsonl(corpus, SMALL + [{"title": "Diffusion Models for Audio", "abstract": "We generate audio with diffusion. It sounds good."}])
    writer = Assistant(settings)
    second = writer.index()
    assert second.added > 0 and second.added < second.chunks, "unchanged vectors were copied, not embedded"
    reader = Assistant(settings.with_options(auto_index=False))
    hit = reader.search("audio generation with diffusion", k=1, retriever="bm25")[0]
    assert hit.title == "Diffusion Models for Audio"
    assert reader.loaded_index.path == second.path
    names = {c.name for c in reader.loaded_index.client.list_collections()}
    assert {first.path.name, second.path.name} <= {n.rsplit(".", 1)[-1] for n in names}
    reader.close()
    writer.close()


def test_a_down_server_says_where_and_what_to_do(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "small.jsonl", SMALL)
    port = free_port()
    settings = Settings(corpus=[corpus], index_dir=tmp_path / "index", chroma_host="127.0.0.1", chroma_port=port, progress=False)
    with pytest.raises(StoreUnavailableError, match=rf"127\.0\.0\.1:{port}.*chroma run"):
        Assistant(settings).search("contrastive learning")
    home = index_home(settings)
    assert not (home / "CURRENT").exists() and not [p for p in home.iterdir() if p.name.startswith("v-")], "nothing half-written"
    capsys.readouterr()  # only what the CLI call below prints is checked
    code = main(["search", "contrastive", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"),
                 "--chroma-host", "127.0.0.1", "--chroma-port", str(port), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith(f"error: cannot reach the Chroma server at 127.0.0.1:{port}"), err
    assert not any("Traceback" in line for line in err) and sum(line.startswith("error:") for line in err) == 1, err


class TokenProxy:
    """Forwards to the real server only requests that carry `Authorization: Bearer <token>`, else 403."""

    def __init__(self, upstream: int, token: str):
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(403)
                    self.send_header("Content-Length", "9")
                    self.end_headers()
                    self.wfile.write(b"forbidden")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = httpx.request(self.command, f"http://127.0.0.1:{upstream}{self.path}", content=body, headers=headers, timeout=60)
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        outer.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_refused_token_is_reported_and_a_good_one_works(server, tmp_path):
    proxy = TokenProxy(server.port, "good-token")
    try:
        corpus = write_jsonl(tmp_path / "small.jsonl", SMALL)
        base = dict(corpus=[corpus], index_dir=tmp_path / "index", chroma_host="127.0.0.1", chroma_port=proxy.port, progress=False)
        with pytest.raises(StoreUnavailableError, match=rf"127\.0\.0\.1:{proxy.port} refused the token.*RAG_CHROMA_TOKEN"):
            Assistant(Settings(**base, chroma_token="wrong")).index()
        assert "wrong" not in Settings(**base, chroma_token="wrong").model_dump_json(), "the token is never printed"
        good = Assistant(Settings(**base, chroma_token="good-token"))
        assert good.index().rebuilt
        assert good.search("Contrastive Pretraining on a Budget", k=1)[0].title == "Contrastive Pretraining on a Budget"
        good.close()
    finally:
        proxy.stop()


class _StopsServer:
    """The real embedder; stops the real server after the first batch, like a server lost mid-update."""

    def __init__(self, inner, server):
        self.inner, self.server = inner, server
        self.identity, self.dim, self.max_tokens, self.count_tokens = inner.identity, inner.dim, inner.max_tokens, inner.count_tokens

    def embed(self, texts, progress=None):
        out = self.inner.embed(texts, progress=progress)
        self.server.stop()
        return out


def test_server_lost_mid_update_leaves_the_previous_version_usable(tmp_path):
    srv = ChromaServer(tmp_path / "chroma").start()
    try:
        corpus = write_jsonl(tmp_path / "small.jsonl", SMALL)
        settings = server_settings(srv, tmp_path / "index", corpus=[corpus])
        live = build_index(settings, load_corpus(settings.corpus_paths), lambda: load_embedder(settings)).path
        write_jsonl(corpus, SMALL + [{"title": "New Paper", "abstract": "Something new entirely. Really."}])
        with pytest.raises(StoreUnavailableError, match=rf"127\.0\.0\.1:{srv.port}.*previous index version stays live"):
            build_index(settings, load_corpus(settings.corpus_paths), lambda: _StopsServer(load_embedder(settings), srv))
        home = index_home(settings)
        assert (home / "CURRENT").read_text() == live.name
        assert [p.name for p in home.iterdir() if p.name.startswith("v-")] == [live.name]
        srv.start()
        index = open_index(settings)
        assert len(index.papers) == 3 and index.collection.count() == len(index.chunks)
        index.close()
        report = build_index(settings, load_corpus(settings.corpus_paths), lambda: load_embedder(settings))
        assert report.papers == 4
        index = open_index(settings)
        names = sorted(c.name for c in index.client.list_collections())
        index.close()
        assert len(names) == 2 and all(n.endswith((live.name, report.path.name)) for n in names), names  # the half-filled one is gone
    finally:
        srv.stop()
