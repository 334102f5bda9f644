"""`python bench/scale.py --sizes 1000 10000 100000`: index build and search at collection scale.

A synthetic collection is made by recombining the shipped corpus's sentences with a seeded
generator (no file in the repo): each abstract is 5-10 sentences drawn from the ~4,000 sentences of
the 525 shipped abstracts, under a title recombined from their titles' words, with its own id, so
every chunk is a new text (no embedding is ever reused across abstracts). For each size, in a
child process of its own (so peak RSS is that build's alone):

  build     build_index from scratch, local Chroma: seconds, seconds per 1,000 abstracts, chunks,
            word pieces embedded and word pieces per second inside the embedder, peak RSS, disk size
  search    warm Assistant.search(q, k=10), hybrid, query embedding included (every query is new to
            the retriever, so its query cache never answers): p50 / p95 over the eval questions
  server    (--server-sizes) the same build and search with the vectors on a `chroma run` server on a
            free loopback port: search p50 / p95 through HTTP, and the difference to local
  floor     the int8 ONNX session alone on full 256-piece batches (no tokenizing, no Chroma): the
            most word pieces per second this CPU gives the embedder, the figure the build is held to

A build also writes checkpoints (papers done, seconds) while it runs, so a run that cannot finish
still says how far it got and at what rate. GPU: `--backend torch --device cuda --dtype float16
--batch-size 1024` runs the same build with the GPU embedder (rag.embedding.TorchEmbedder).

Writes bench/results/scale-<time>.json (and prints a Markdown table). Options: --sizes, --server-sizes,
--workdir, --queries, --backend/--device/--dtype/--batch-size, --seed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
GOALS = {"peak_gib_100k": 3.0, "search_p50_ms": 60.0, "linear_within": 0.20, "server_added_ms": 15.0}


# --------------------------------------------------------------------------------------------
# the synthetic collection

def synthetic_corpus(path: Path, n: int, seed: int = 0) -> Path:
    """Write `n` recombined abstracts as a BEIR-style corpus.jsonl (`_id`, `title`, `text`)."""
    sys.path.insert(0, str(PROJECT_DIR))
    from rag.chunking import split_sentences
    from rag.corpus import load_corpus

    papers = load_corpus([PROJECT_DIR / "data" / "seeds"]).papers
    sentences = [p.abstract[a:b] for p in papers for a, b in split_sentences(p.abstract)]
    words = [w for p in papers for w in p.title.split()]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            title = " ".join(rng.choice(words) for _ in range(rng.randint(5, 11)))
            text = " ".join(rng.choice(sentences) for _ in range(rng.randint(5, 10)))
            f.write(json.dumps({"_id": f"syn-{seed}-{i:06d}", "title": title, "text": text}) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# child: one build + search

def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _questions(n: int) -> list[str]:
    qs = []
    for name in ("dev.jsonl", "test.jsonl"):
        f = PROJECT_DIR / "eval" / "questions" / name
        if f.exists():
            qs += [json.loads(line)["question"] for line in f.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys(qs))[:n]


class TimedEmbedder:
    """The real embedder, with the seconds and word pieces spent inside `embed` counted."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.identity, self.dim, self.max_tokens = inner.identity, inner.dim, inner.max_tokens
        self.count_tokens = inner.count_tokens
        self.seconds = 0.0
        self.texts = 0
        self.pieces = 0

    def embed(self, texts, progress=None):
        started = time.perf_counter()
        out = self.inner.embed(texts, progress=progress)
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ReplayEmbedder(TimedEmbedder):
    """For the server's *search* figures only: the vectors of the local build of the same corpus,
    looked up by chunk text, so the server index need not be embedded a second time. A build made
    with it is not a build-time figure (the JSON marks it `replayed`)."""

    def __init__(self, inner: Any, local_index: Path):
        super().__init__(inner)
        import numpy as np

        import chromadb

        home = next(p for p in local_index.iterdir() if p.is_dir())
        version = home / (home / "CURRENT").read_text().strip()  # the live version, as rag.index names it
        text = {}
        with (version / "chunks.jsonl").open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                text[row["chunk_id"]] = row["embed_text"]
        client = chromadb.PersistentClient(path=str(version / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
        col = client.get_collection("chunks")
        self.vectors: dict[str, Any] = {}
        ids = list(text)
        for i in range(0, len(ids), 5000):
            got = col.get(ids=ids[i:i + 5000], include=["embeddings"])
            for cid, vec in zip(got["ids"], got["embeddings"]):
                self.vectors[text[cid]] = np.asarray(vec, dtype=np.float32)
        client.close()

    def embed(self, texts, progress=None):
        import numpy as np

        if len(texts) == 1 and texts[0] not in self.vectors:  # a query: the real embedder
            return self.inner.embed(texts)
        out = np.stack([self.vectors[t] for t in texts])
        if progress:
            progress(len(texts))
        return out


class RandomEmbedder(TimedEmbedder):
    """For memory and search-at-scale figures only (`--vectors random`): unit vectors drawn at random
    instead of the model's, so a 100k collection can be built without hours of embedding. Every
    other part of the build (corpus, chunking with the real tokenizer, Chroma, BM25, records) is
    real and the vectors have the real size, so peak memory and disk are the build's own; build
    time is not a figure. Queries are embedded by the real model (their time counts)."""

    def __init__(self, inner: Any):
        super().__init__(inner)
        import numpy as np

        self.rng = np.random.default_rng(0)

    def embed(self, texts, progress=None):
        if len(texts) == 1 and getattr(self, "querying", False):
            return self.inner.embed(texts)
        v = self.rng.standard_normal((len(texts), self.dim)).astype("float32")
        v /= (v ** 2).sum(1, keepdims=True) ** 0.5
        if progress:
            progress(len(texts))
        return v


def child(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(PROJECT_DIR))
    from rag import Assistant
    from rag.corpus import load_corpus
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings

    kw: dict[str, Any] = {"corpus": [Path(args.corpus)], "corpus_name": f"scale{args.size}", "index_dir": Path(args.index_dir),
                          "progress": False, "embed_backend": args.backend, "device": args.device}
    if args.batch_size:
        kw["embed_batch_size"] = args.batch_size
    if args.dtype:
        kw["embed_dtype"] = args.dtype
    if args.chroma_port:
        kw.update(chroma_host="127.0.0.1", chroma_port=args.chroma_port)
    settings = Settings(**kw)
    checkpoints: list[dict[str, float]] = []
    started = time.perf_counter()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "papers" and (now - last[0] > 30 or done >= total):
            last[0] = now
            checkpoints.append({"papers": done, "s": round(now - started, 1), "rss_mib": round(_rss_mib())})
            Path(args.checkpoints).write_text(json.dumps(checkpoints))

    t0 = time.perf_counter()
    corpus = load_corpus(settings.corpus_paths)
    parse_s = time.perf_counter() - t0
    holder: dict[str, TimedEmbedder] = {}

    def factory() -> TimedEmbedder:
        inner = load_embedder(settings)
        if args.vectors == "random":
            holder["e"] = RandomEmbedder(inner)
        else:
            holder["e"] = ReplayEmbedder(inner, Path(args.replay_from)) if args.replay_from else TimedEmbedder(inner)
        return holder["e"]

    report = build_index(settings, corpus, factory, rebuild=True, progress=progress)
    build_s = time.perf_counter() - started
    emb = holder["e"]
    # Word pieces the model read ([CLS]/[SEP] in, cut at its window), counted after the clock stopped.
    with (report.path / "chunks.jsonl").open(encoding="utf-8") as f:
        batch: list[str] = []
        for line in f:
            batch.append(json.loads(line)["embed_text"])
            if len(batch) == 2048:
                emb.pieces += sum(min(n + 2, emb.max_tokens) for n in emb.count_tokens(batch))
                batch = []
        emb.pieces += sum(min(n + 2, emb.max_tokens) for n in emb.count_tokens(batch))
    out: dict[str, Any] = {
        "size": args.size, "papers": report.papers, "chunks": report.chunks, "build_s": round(build_s, 1),
        "parse_s": round(parse_s, 2), "s_per_1000": round(build_s / args.size * 1000, 2),
        "embed_s": round(emb.seconds, 1), "word_pieces": emb.pieces, "embed_wp_per_s": round(emb.pieces / max(emb.seconds, 1e-9)),
        "chunks_per_s": round(report.chunks / max(emb.seconds, 1e-9), 1), "peak_rss_mib_build": round(_rss_mib()),
        "disk_mib": round(_du(report.path) / 2 ** 20, 1), "server": bool(args.chroma_port), "checkpoints": checkpoints,
        "replayed": bool(args.replay_from), "vectors": args.vectors,
    }
    del corpus
    a = Assistant(settings.with_options(auto_index=False))
    emb.querying = True
    a._embedder = emb  # the same loaded embedder (random vectors: the real model embeds the queries)
    for q in ("warm-up one", "graph neural networks", "contrastive learning"):
        a.search(q, k=10)
    times = []
    for q in _questions(args.queries):
        t = time.perf_counter()
        a.search(q, k=10)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    out.update({"search_queries": len(times), "search_p50_ms": round(statistics.median(times), 1),
                "search_p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
                "peak_rss_mib": round(_rss_mib())})
    if args.chroma_port and args.local_index:
        out["paired"] = paired(a, settings.with_options(chroma_host=None, index_dir=Path(args.local_index), auto_index=False), emb, args.queries)
    a.close()
    return out


def paired(server_assistant: Any, local_settings: Any, emb: Any, n: int) -> dict[str, float]:
    """Server against local search on the same collection, query by query in turn (same load for both)."""
    from rag import Assistant

    local = Assistant(local_settings)
    local._embedder = emb
    local.search("warm-up one", k=10)
    t_local, t_server = [], []
    for i, q in enumerate(_questions(n)):
        for who, a, sink in (("l", local, t_local), ("s", server_assistant, t_server)):
            t = time.perf_counter()
            a.search(f"{q} ({who}{i})", k=10)  # a new text each time: the query embedding is always paid
            sink.append((time.perf_counter() - t) * 1000)
    local.close()
    lp, sp = statistics.median(t_local), statistics.median(t_server)
    return {"local_p50_ms": round(lp, 1), "server_p50_ms": round(sp, 1), "server_added_p50_ms": round(sp - lp, 1)}


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """Word pieces per second of the int8 session alone, full 256-piece batches of the build's batch size."""
    sys.path.insert(0, str(PROJECT_DIR))
    import numpy as np

    from rag.embedding import load_embedder
    from rag.settings import Settings

    settings = Settings(progress=False, embed_backend="onnx-int8", **({"embed_batch_size": args.batch_size} if args.batch_size else {}))
    emb = load_embedder(settings)
    width, rows = 202, settings.embed_batch_size  # the chunker's 200-piece budget plus [CLS]/[SEP]
    rng = np.random.default_rng(0)
    feeds = {"input_ids": rng.integers(1000, 20000, size=(rows, width)).astype(np.int64),
             "attention_mask": np.ones((rows, width), dtype=np.int64)}
    if "token_type_ids" in emb._inputs:
        feeds["token_type_ids"] = np.zeros((rows, width), dtype=np.int64)
    emb.session.run(None, feeds)
    runs = []
    for _ in range(args.floor_runs):
        t = time.perf_counter()
        emb.session.run(None, feeds)
        runs.append(time.perf_counter() - t)
    best = min(runs)
    return {"batch": rows, "width": width, "runs_s": [round(r, 3) for r in runs], "wp_per_s_best": round(rows * width / best),
            "wp_per_s_median": round(rows * width / statistics.median(runs))}


# --------------------------------------------------------------------------------------------
# parent

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(path: Path) -> tuple[subprocess.Popen, int]:
    import httpx

    port = free_port()
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    proc = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("chroma run did not answer within 60 s")


def run_child(argv: list[str]) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--result", str(out)]
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    if proc.returncode != 0:
        return {"error": f"child exited {proc.returncode}: {' '.join(argv)}"}
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--server-sizes", type=int, nargs="*", default=[1000, 10000], help="sizes also measured through a chroma server")
    p.add_argument("--workdir", type=Path, default=None, help="where corpora and indexes go (default: a temporary folder)")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--backend", default="onnx-int8", choices=["onnx-int8", "torch"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--dtype", default=None, choices=["float16", "bfloat16"])
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vectors", choices=["model", "random"], default="model",
                   help="random: unit random vectors instead of the model's (peak memory, disk and search at scale only; build time is then no figure)")
    p.add_argument("--floor-runs", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    # child modes
    p.add_argument("--child", choices=["build", "floor"], help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--corpus", help=argparse.SUPPRESS)
    p.add_argument("--index-dir", help=argparse.SUPPRESS)
    p.add_argument("--chroma-port", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--checkpoints", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--replay-from", default=None, help=argparse.SUPPRESS)
    p.add_argument("--local-index", default=None, help=argparse.SUPPRESS)
    p.add_argument("--server-embeds", action="store_true",
                   help="embed again for the server build (a real server build time); default: reuse the local build's vectors")
    args = p.parse_args(argv)
    if args.child:
        res = child(args) if args.child == "build" else floor(args)
        Path(args.result).write_text(json.dumps(res))
        return 0

    sys.path.insert(0, str(PROJECT_DIR))
    from eval.report import machine, package_versions

    work = args.workdir or Path(tempfile.mkdtemp(prefix="rag-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    out_file = args.out or RESULTS_DIR / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    common = ["--backend", args.backend, "--device", args.device, "--queries", str(args.queries), "--vectors", args.vectors]
    if args.batch_size:
        common += ["--batch-size", str(args.batch_size)]
    if args.dtype:
        common += ["--dtype", args.dtype]
    res: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": {**machine(), "loadavg_start": list(os.getloadavg())},
                           "packages": package_versions(), "settings": vars(args) | {"workdir": str(work), "out": str(out_file)},
                           "goals": GOALS, "local": {}, "server": {}}
    res["settings"] = {k: str(v) for k, v in res["settings"].items()}

    def save() -> None:
        res["machine"]["loadavg_now"] = list(os.getloadavg())
        out_file.write_text(json.dumps(res, indent=1))

    if args.backend == "onnx-int8":
        res["floor"] = run_child(["--child", "floor", "--floor-runs", str(args.floor_runs)] + (["--batch-size", str(args.batch_size)] if args.batch_size else []))
        save()
    for size in args.sizes:
        corpus = synthetic_corpus(work / f"corpus-{size}.jsonl", size, args.seed)
        for mode in ("local", "server"):
            if mode == "server" and size not in args.server_sizes:
                continue
            index_dir = work / f"index-{mode}-{size}"
            shutil.rmtree(index_dir, ignore_errors=True)
            ck = work / f"checkpoints-{mode}-{size}.json"
            extra: list[str] = []
            server = None
            if mode == "server":
                server, port = start_chroma(work / f"chroma-{size}")
                extra = ["--chroma-port", str(port), "--local-index", str(work / f"index-local-{size}")]
                if not args.server_embeds and args.vectors == "model":
                    extra += ["--replay-from", str(work / f"index-local-{size}")]
            res[mode][str(size)] = {"running": True, "checkpoints_file": str(ck)}
            save()
            try:
                r = run_child(["--child", "build", "--size", str(size), "--corpus", str(corpus), "--index-dir", str(index_dir),
                               "--checkpoints", str(ck), *common, *extra])
            finally:
                if server is not None:
                    server.terminate()
                    server.wait(timeout=30)
            res[mode][str(size)] = r
            save()
            print(f"{mode} {size}: {json.dumps({k: v for k, v in r.items() if k != 'checkpoints'})}", flush=True)
            if mode == "server" or size not in args.server_sizes:
                shutil.rmtree(index_dir, ignore_errors=True)
                shutil.rmtree(work / f"index-local-{size}", ignore_errors=True)
    save()
    print(markdown(res))
    print(f"wrote {out_file}")
    return 0


def markdown(res: dict[str, Any]) -> str:
    rows = ["| abstracts | chunks | build s | s / 1,000 | embed wp/s | peak RSS MiB | disk MiB | search p50 / p95 ms | server p50 / p95 ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for size, r in res["local"].items():
        if "build_s" not in r:
            rows.append(f"| {size} | (not finished: {r.get('error', 'running')}) |||||||")
            continue
        s = res["server"].get(size, {})
        server = f"{s['search_p50_ms']} / {s['search_p95_ms']}" if "search_p50_ms" in s else "-"
        if "paired" in s:
            server += f" (paired: +{s['paired']['server_added_p50_ms']} ms)"
        if r.get("vectors") == "random":  # build time and throughput are no figures then
            r = {**r, "build_s": "(random vectors)", "s_per_1000": "-", "embed_wp_per_s": "-"}
        rows.append(f"| {size} | {r['chunks']} | {r['build_s']} | {r['s_per_1000']} | {r['embed_wp_per_s']} | {r['peak_rss_mib']} | "
                    f"{r['disk_mib']} | {r['search_p50_ms']} / {r['search_p95_ms']} | {server} |")
    if "floor" in res and "wp_per_s_best" in res["floor"]:
        rows.append(f"\nint8 session alone (batch {res['floor']['batch']} x {res['floor']['width']} pieces): "
                    f"{res['floor']['wp_per_s_best']} wp/s best, {res['floor']['wp_per_s_median']} median")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
