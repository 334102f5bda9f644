"""`python bench/run.py` (or `make bench`): speed and memory of the assistant on the shipped corpus.

Measures, each section in its own Python process (so imports, thread pools and memory of one
section never disturb the next):
  prep      one-time int8 ONNX export of the embedder
  build     full index from scratch with build_index (onnx-int8), median of 3
  torch     the same build with the torch backend (1 run)
  baseline  a plain llama-index VectorStoreIndex over Chroma with HuggingFaceEmbedding, and its retrieval
  reindex   build_index with nothing changed, median of 5 (plus the `rag index` CLI as a subprocess)
  latency   warm Assistant.search / Assistant.ask, p50 and p95
  cold      `rag ask` as a subprocess: wall time and peak RSS
  stages    (--stages) where the build time goes: parse, model load, chunking, embedding, Chroma, BM25, fsync

Prints a Markdown table and writes bench/results/latest.json plus a timestamped copy.
Options: --quick (1 run each, no torch build), --stages (add the stage profile), --runs N.
See bench/README.md for what each figure means.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"

GOALS = {
    "build_s": 20.0,        # full index from scratch (baseline ~40 s)
    "reindex_s": 1.0,       # unchanged re-index, after imports
    "ask_p50_ms": 60.0,     # warm ask
    "search_p50_ms": 25.0,  # warm search
}

# Used when eval/questions/{dev,test}.jsonl do not exist; about papers of the shipped corpus.
FALLBACK_QUESTIONS = [
    "What attack success rate do the NTK-designed poisons reach?",
    "How does PIXEL render text to avoid a vocabulary bottleneck?",
    "What is Matryoshka representation learning?",
    "How can relative representations enable zero-shot latent space communication?",
    "What do autoregressive conditional neural processes improve over standard neural processes?",
    "How does sparse probing find neurons that encode features in language models?",
    "How does GeneFace synthesize talking faces from audio?",
    "What does TANGOS regularize in tabular neural networks?",
    "Why does a projection head help representation learning?",
    "What factors of variation does ImageNet-X annotate?",
    "Can graph neural networks be trained with forward-only learning?",
    "Does modular training make neural networks more interpretable?",
    "How do vision MLPs exploit global and local dependencies?",
    "What is the rank differential mechanism in non-contrastive learning?",
    "How can neural tensor completion use influence-guided data augmentation?",
    "How do latent bottlenecked attentive neural processes reduce computation?",
    "What margin bias do quasi-homogeneous neural networks have?",
    "How does LilNetX compress networks with structured sparsification?",
    "Which papers study why learning rates transfer across model scales?",
    "How are diffusion models used to generate neural network weights?",
    "How does Revelio interpret semantic information in diffusion models?",
    "How does RelationNet++ bridge visual representations for object detection?",
    "What self-supervised task predicts image rotations?",
    "How is few-shot named entity recognition done with nearest neighbor learning?",
    "How are canaries used to measure privacy in federated learning?",
    "Which methods identify writers from word-level handwriting images?",
    "How can conformers be used for visual speech recognition?",
    "How is noun property prediction improved with concreteness?",
    "What information extraction corpus covers solid oxide fuel cells?",
    "How do comparative neuron analyses explain arithmetic in large language models?",
]
WARMUP_QUESTIONS = ["graph neural networks for molecules", "contrastive learning of visual representations",
                    "reinforcement learning with sparse rewards"]


# ---------------------------------------------------------------------------------------------
# small helpers

def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def pct(xs: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(xs, q))


def rag_command() -> list[str]:
    exe = Path(sys.executable).parent / "rag"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]


def cpu_times() -> tuple[float, float]:
    """(busy, steal): CPU seconds all processes used since boot, and seconds the hypervisor took
    from this VM's CPUs (from /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def cpu_busy_s() -> float:
    return cpu_times()[0]


def wait_for_quiet(limit_s: float = 120.0, threshold: float = 0.3) -> float:
    """Wait (up to limit_s) until other processes use under `threshold` cores; returns seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        before = cpu_busy_s()
        time.sleep(1.0)
        if cpu_busy_s() - before < threshold:
            break
    waited = time.perf_counter() - started - 1.0
    if waited > 0.5:
        print(f"[bench] waited {waited:.0f} s for other processes to leave the CPU", file=sys.stderr, flush=True)
    return max(waited, 0.0)


def run_child(cmd: list[str], cwd: Path = PROJECT_DIR, capture: bool = True,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd`: wall seconds from start to exit, its own peak RSS and CPU (os.wait4 of that child),
    and `foreign_cores`: CPU other processes used meanwhile, in cores (0 = undisturbed)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0, steal0 = cpu_times()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out if capture else None, stderr=err if capture else None, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        busy1, steal1 = cpu_times()
        busy, steal = busy1 - busy0, steal1 - steal0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {stderr[-2000:]}")
    own = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "cpu_s": own,
            "foreign_cores": max(busy - own, 0.0) / wall, "steal_cores": steal / wall, "stdout": stdout, "stderr": stderr}


DISTURBED = 0.25  # other processes used more than a quarter of a core on average


def run_section(name: str, workdir: Path, runs: int, tries: int = 3) -> dict[str, Any]:
    """Run one section in a fresh Python process (it writes its result as JSON). A run that other
    processes disturbed is repeated (up to `tries` in all), keeping the least disturbed one."""
    out = workdir / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--section", name, "--workdir", str(workdir),
           "--runs", str(runs), "--out", str(out)]
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
    best: dict[str, Any] | None = None
    attempts = []
    for attempt in range(tries):
        wait_for_quiet()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        child = run_child(cmd, capture=False, env=env)
        result = json.loads(out.read_text())
        result["foreign_cores"] = round(child["foreign_cores"], 3)
        result["steal_cores"] = round(child["steal_cores"], 3)
        attempts.append(result["foreign_cores"])
        print(f"[bench] {name} done in {child['wall_s']:.0f} s (other processes used {child['foreign_cores']:.2f} cores, "
              f"hypervisor steal {child['steal_cores']:.2f})",
              file=sys.stderr, flush=True)
        if best is None or result["foreign_cores"] < best["foreign_cores"]:
            best = result
        if result["foreign_cores"] <= DISTURBED:
            break
    assert best is not None
    best["foreign_cores_attempts"] = attempts
    return best


def measure_children(cmd: list[str], runs: int) -> list[dict[str, Any]]:
    """`runs` runs of a subprocess, each after the CPU is quiet; a disturbed run is repeated once."""
    res = []
    for _ in range(runs):
        wait_for_quiet()
        r = run_child(cmd)
        if r["foreign_cores"] > DISTURBED:
            wait_for_quiet()
            r2 = run_child(cmd)
            r = r2 if r2["foreign_cores"] < r["foreign_cores"] else r
        res.append(r)
    return res


def preload_libraries() -> None:
    """Import what build_index and the Assistant import lazily, so timed calls exclude imports."""
    import bm25s  # noqa: F401
    import chromadb  # noqa: F401
    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401
    import Stemmer  # noqa: F401
    import tokenizers  # noqa: F401

    import rag.assistant  # noqa: F401
    import rag.index  # noqa: F401


def load_questions() -> tuple[list[str], str]:
    """Every question of eval/questions/dev.jsonl and test.jsonl, else the fallback list."""
    found: list[str] = []
    sources = []
    for split in ("dev", "test"):
        path = PROJECT_DIR / "eval" / "questions" / f"{split}.jsonl"
        if path.exists():
            sources.append(str(path.relative_to(PROJECT_DIR)))
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    q = json.loads(line).get("question")
                    if q and q not in found:
                        found.append(q)
    if found:
        return found, " + ".join(sources)
    return list(FALLBACK_QUESTIONS), "bench/run.py fallback list"


def machine_info() -> dict[str, Any]:
    from eval.report import machine, package_versions

    return {
        **machine(),
        **package_versions(("torch", "onnxruntime", "chromadb", "llama-index-core", "llama-index-embeddings-huggingface",
                            "sentence-transformers", "transformers", "bm25s", "rag")),
        "loadavg_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------------------------
# sections (each runs in its own process; returns a JSON-able dict)

def build_once(index_dir: Path, **settings_kw: Any) -> dict[str, Any]:
    """One full build_index(rebuild=True) into `index_dir`, timed as a whole (parse included)."""
    from rag.corpus import load_corpus
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings

    started = time.perf_counter()
    settings = Settings(index_dir=index_dir, progress=False, **settings_kw)
    corpus = load_corpus(settings.corpus_paths)
    report = build_index(settings, corpus, lambda: load_embedder(settings), rebuild=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "papers": report.papers, "chunks": report.chunks}


def section_prep(workdir: Path, runs: int) -> dict[str, Any]:
    """The one-time int8 ONNX export (a child process: torch + transformers + quantization)."""
    from rag.embedding import export_int8, resolve_model
    from rag.settings import Settings

    model_dir = resolve_model(Settings().embed_model)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        started = time.perf_counter()
        export_int8(Path(model_dir), Path(tmp) / "onnx" / "model-int8.onnx")
        seconds = time.perf_counter() - started
        size = (Path(tmp) / "onnx" / "model-int8.onnx").stat().st_size
    return {"seconds": seconds, "model_mib": size / 2**20}


def section_build(workdir: Path, runs: int) -> dict[str, Any]:
    """`runs` full builds, each into a fresh folder; keeps the last one as workdir/built."""
    preload_libraries()
    shutil.rmtree(workdir / "built", ignore_errors=True)  # a repeated section starts clean
    results = []
    for i in range(runs):
        target = workdir / f"build-{i}"
        results.append(build_once(target))
        if i < runs - 1:
            shutil.rmtree(target)
    os.replace(workdir / f"build-{runs - 1}", workdir / "built")
    secs = [r["seconds"] for r in results]
    return {"runs": secs, "median_s": median(secs), "papers": results[0]["papers"], "chunks": results[0]["chunks"]}


def section_torch(workdir: Path, runs: int) -> dict[str, Any]:
    preload_libraries()
    import sentence_transformers  # noqa: F401  (imports excluded, like the onnx build)
    import torch  # noqa: F401

    results = []
    for i in range(runs):
        target = workdir / f"torch-{i}"
        results.append(build_once(target, embed_backend="torch", embed_batch_size=32))
        shutil.rmtree(target)
    secs = [r["seconds"] for r in results]
    return {"runs": secs, "median_s": median(secs), "chunks": results[0]["chunks"]}


def count_truncation(texts: list[str], model_dir: Path, window: int) -> dict[str, Any]:
    """How many texts exceed the model's window (word pieces, [CLS]/[SEP] included) and what is cut."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    lengths = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=True)]
    over = [n - window for n in lengths if n > window]
    return {"window": window, "texts": len(texts), "truncated_texts": len(over), "pieces_cut": sum(over),
            "pieces_total": sum(lengths), "max_pieces": max(lengths)}


def baseline_build(papers: list, model_dir: str, chroma_dir: Path) -> tuple[Any, float, int]:
    """The pipeline a user would write with llama-index (eval/baseline.py, also scored by `rag eval`)."""
    from eval.baseline import build_baseline

    return build_baseline(papers, model_dir, chroma_dir)


def section_baseline(workdir: Path, runs: int) -> dict[str, Any]:
    """llama-index VectorStoreIndex + ChromaVectorStore + HuggingFaceEmbedding; builds and retrieval."""
    import chromadb  # noqa: F401  (imports excluded, like ours)
    import llama_index.core  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding  # noqa: F401
    from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: F401

    from eval.baseline import disable_llm
    from rag.corpus import load_corpus
    from rag.embedding import resolve_model
    from rag.settings import Settings

    disable_llm()  # never the OpenAI default
    model_dir = str(resolve_model(MINILM))
    papers = load_corpus(Settings().corpus_paths).papers  # parsing is ours; the baseline gets it for free
    builds, index, nodes = [], None, 0
    for i in range(runs):
        index = None
        chroma_dir = Path(tempfile.mkdtemp(prefix="baseline-", dir=workdir))
        index, seconds, nodes = baseline_build(papers, model_dir, chroma_dir)
        builds.append(seconds)
    questions, _ = load_questions()
    retriever = index.as_retriever(similarity_top_k=10)
    for q in WARMUP_QUESTIONS:
        retriever.retrieve(q)
    lat = []
    for q in questions:
        t = time.perf_counter()
        retriever.retrieve(q)
        lat.append((time.perf_counter() - t) * 1000)
    trunc = count_truncation([p.title + "\n" + p.abstract for p in papers], Path(model_dir),
                             int(index._embed_model.max_length))
    return {"runs": builds, "median_s": median(builds), "nodes": nodes, "retrieve_ms": lat,
            "retrieve_p50_ms": median(lat), "retrieve_p95_ms": pct(lat, 95), "truncation": trunc}


def section_reindex(workdir: Path, runs: int) -> dict[str, Any]:
    """build_index(rebuild=False) on the built index with a freshly parsed corpus each time."""
    preload_libraries()
    from rag.corpus import load_corpus
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings

    settings = Settings(index_dir=workdir / "built", progress=False)
    loaded = []

    def factory():
        loaded.append(1)
        return load_embedder(settings)

    call, total = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        corpus = load_corpus(settings.corpus_paths)
        t1 = time.perf_counter()
        report = build_index(settings, corpus, factory, rebuild=False)
        t2 = time.perf_counter()
        assert report.unchanged, "re-index of an unchanged corpus did work"
        call.append(t2 - t1)
        total.append(t2 - t0)
    return {"call_runs": call, "call_median_s": median(call), "with_parse_runs": total,
            "with_parse_median_s": median(total), "embedder_loaded": bool(loaded)}


def section_latency(workdir: Path, runs: int) -> dict[str, Any]:
    """Warm search and ask; a separate Assistant for each so no query vector is cached."""
    preload_libraries()
    from rag.assistant import Assistant
    from rag.settings import Settings

    questions, source = load_questions()
    settings = Settings(index_dir=workdir / "built", progress=False)

    def timed(fn: Callable[[str], Any]) -> tuple[list[float], list[Any]]:
        for q in WARMUP_QUESTIONS:
            fn(q)
        times, outs = [], []
        for q in questions:
            t = time.perf_counter()
            outs.append(fn(q))
            times.append((time.perf_counter() - t) * 1000)
        return times, outs

    searcher = Assistant(settings)
    search_ms, _ = timed(lambda q: searcher.search(q, k=10))
    searcher.close()
    asker = Assistant(settings)
    ask_ms, answers = timed(asker.ask)
    asker.close()
    retrieve = [a.timings["retrieve_ms"] for a in answers]
    generate = [a.timings["generate_ms"] for a in answers]
    return {"questions": len(questions), "source": source,
            "search_ms": search_ms, "search_p50_ms": median(search_ms), "search_p95_ms": pct(search_ms, 95),
            "ask_ms": ask_ms, "ask_p50_ms": median(ask_ms), "ask_p95_ms": pct(ask_ms, 95),
            "ask_retrieve_p50_ms": median(retrieve), "ask_generate_p50_ms": median(generate),
            "ask_retrieve_p95_ms": pct(retrieve, 95), "ask_generate_p95_ms": pct(generate, 95),
            "abstained": sum(a.abstained for a in answers)}


def section_stages(workdir: Path, runs: int) -> dict[str, Any]:
    """Where a from-scratch build spends its time: corpus parsing and model loading timed here, the
    build's own stages from `BuildReport.timings` (chunking, embedding, vector writes, records, BM25, fsync)."""
    preload_libraries()
    from rag.corpus import load_corpus
    from rag.embedding import load_embedder
    from rag.index import build_index
    from rag.settings import Settings

    shutil.rmtree(workdir / "stages", ignore_errors=True)  # a repeated section starts clean
    settings = Settings(index_dir=workdir / "stages", progress=False)
    t: dict[str, float] = {}
    s = time.perf_counter()
    corpus = load_corpus(settings.corpus_paths)
    t["parse corpus"] = time.perf_counter() - s
    s = time.perf_counter()
    embedder = load_embedder(settings)
    t["load embedder (onnx session)"] = time.perf_counter() - s
    report = build_index(settings, corpus, lambda: embedder, rebuild=True)
    names = {"chunk": "chunk (sentence split + token counts)", "embed": "embed (tokenize + onnx int8)",
             "vectors": "chroma add", "records": "records (papers, chunks)", "bm25": "bm25 (tokenize, index, save)",
             "fsync": "fsync tree"}
    for key, value in report.timings.items():
        t[names.get(key, key)] = value
    t["other (open, manifest, switch)"] = max(0.0, report.seconds - sum(report.timings.values()))
    # The tokenizer's share of embedding, measured apart (the build does not split it out), on the
    # texts the build embedded.
    with (report.path / "chunks.jsonl").open(encoding="utf-8") as f:
        texts = [json.loads(line)["embed_text"] for line in f if line.strip()]
    s = time.perf_counter()
    tokens = sum(embedder.count_tokens(texts)) + 2 * len(texts)
    t["  of embed: tokenize only"] = time.perf_counter() - s
    return {"stages_s": t, "total_s": sum(v for k, v in t.items() if not k.startswith("  ")),
            "chunks": report.chunks, "tokens": tokens}


SECTIONS: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "prep": section_prep, "build": section_build, "torch": section_torch, "baseline": section_baseline,
    "reindex": section_reindex, "latency": section_latency, "stages": section_stages,
}


# ---------------------------------------------------------------------------------------------
# subprocess measurements (run from the orchestrating process)

def measure_cli_reindex(built: Path, runs: int) -> dict[str, Any]:
    res = measure_children(rag_command() + ["index", "--index-dir", str(built), "--no-progress"], runs)
    walls = [r["wall_s"] for r in res]
    return {"runs": walls, "median_s": median(walls), "peak_rss_mib": max(r["peak_rss_mib"] for r in res),
            "foreign_cores": [round(r["foreign_cores"], 3) for r in res]}


def measure_cold_ask(built: Path, runs: int, question: str) -> dict[str, Any]:
    res = measure_children(rag_command() + ["ask", question, "--index-dir", str(built)], runs)
    walls = [r["wall_s"] for r in res]
    return {"runs": walls, "median_s": median(walls), "peak_rss_mib": [r["peak_rss_mib"] for r in res],
            "question": question, "foreign_cores": [round(r["foreign_cores"], 3) for r in res]}


def measure_build_subprocess(workdir: Path) -> dict[str, Any]:
    target = workdir / "cli-build"
    res = measure_children(rag_command() + ["index", "--rebuild", "--index-dir", str(target), "--no-progress"], 1)
    shutil.rmtree(target, ignore_errors=True)
    return {"wall_s": res[0]["wall_s"], "peak_rss_mib": res[0]["peak_rss_mib"],
            "foreign_cores": round(res[0]["foreign_cores"], 3)}


# ---------------------------------------------------------------------------------------------
# report

def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "**missed**"


def disturbance_note(res: dict[str, Any]) -> str:
    """Which figures other processes disturbed (CPU they used meanwhile, in cores)."""
    per: dict[str, float] = {}
    for name, value in res.items():
        if isinstance(value, dict) and "foreign_cores" in value:
            fc = value["foreign_cores"]
            per[name] = max(fc) if isinstance(fc, list) else fc
    bad = {k: v for k, v in per.items() if v > DISTURBED}
    text = "Other processes' CPU during each figure (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()) + "."
    steal = {k: v["steal_cores"] for k, v in res.items() if isinstance(v, dict) and "steal_cores" in v}
    if steal:
        text += " Hypervisor steal (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in steal.items()) + "."
    if bad:
        text += f" **Disturbed (> {DISTURBED} cores): {', '.join(bad)}; run again on a quiet machine.**"
    return text


def markdown(res: dict[str, Any]) -> str:
    b, base, re_, lat, cold = res["build"], res["baseline"], res["reindex"], res["latency"], res["cold_ask"]
    ratio = b["median_s"] / base["median_s"]
    n = lambda r: f"n={len(r)}"  # noqa: E731
    rows = [
        ("Index from scratch, ours (onnx-int8, parse+chunk+embed+Chroma+BM25+swap)",
         f"{b['median_s']:.1f} s (median, {n(b['runs'])}: {', '.join(f'{x:.1f}' for x in b['runs'])})",
         f"<= {GOALS['build_s']:.0f} s", verdict(b["median_s"], GOALS["build_s"])),
        ("Index from scratch, baseline llama-index (HF MiniLM + Chroma)",
         f"{base['median_s']:.1f} s (median, {n(base['runs'])}: {', '.join(f'{x:.1f}' for x in base['runs'])})", "~40 s", ""),
        ("Ratio ours / baseline (index from scratch)", f"{ratio:.2f} (speed-up {1 / ratio:.1f}x)", "", ""),
    ]
    if res.get("torch"):
        t = res["torch"]
        rows.append(("Index from scratch, ours with torch backend (batch 32)", f"{t['median_s']:.1f} s ({n(t['runs'])})", "", ""))
    rows += [
        ("One-time model preparation (int8 ONNX export, cached per user in ~/.cache/rag/onnx)", f"{res['prep']['seconds']:.1f} s (once)", "", ""),
        ("Index build as a subprocess (`rag index --rebuild`, imports incl.)", f"{res['build_subprocess']['wall_s']:.1f} s", "", ""),
        ("Re-index, nothing changed: build_index call", f"{re_['call_median_s'] * 1000:.0f} ms (median, {n(re_['call_runs'])})",
         f"<= {GOALS['reindex_s']:.0f} s", verdict(re_["call_median_s"], GOALS["reindex_s"])),
        ("Re-index, nothing changed: load_corpus + build_index", f"{re_['with_parse_median_s'] * 1000:.0f} ms (median)",
         f"<= {GOALS['reindex_s']:.0f} s", verdict(re_["with_parse_median_s"], GOALS["reindex_s"])),
        ("Re-index, nothing changed: `rag index` CLI wall (imports incl.)",
         f"{res['cli_reindex']['median_s']:.2f} s (median, {n(res['cli_reindex']['runs'])})", "", ""),
        ("Warm search(q, k=10) p50 / p95", f"{lat['search_p50_ms']:.1f} / {lat['search_p95_ms']:.1f} ms",
         f"p50 <= {GOALS['search_p50_ms']:.0f} ms", verdict(lat["search_p50_ms"], GOALS["search_p50_ms"])),
        ("Warm ask(q) p50 / p95", f"{lat['ask_p50_ms']:.1f} / {lat['ask_p95_ms']:.1f} ms",
         f"p50 <= {GOALS['ask_p50_ms']:.0f} ms", verdict(lat["ask_p50_ms"], GOALS["ask_p50_ms"])),
        ("  ask split p50: retrieve / generate", f"{lat['ask_retrieve_p50_ms']:.1f} / {lat['ask_generate_p50_ms']:.1f} ms", "", ""),
        ("Baseline retrieve(q), top 10, p50 / p95", f"{base['retrieve_p50_ms']:.1f} / {base['retrieve_p95_ms']:.1f} ms", "", ""),
        ("Cold `rag ask` wall (process start to exit)", f"{cold['median_s']:.2f} s (median, {n(cold['runs'])})", "", ""),
        ("Peak RSS, cold `rag ask`", f"{max(cold['peak_rss_mib']):.0f} MiB", "", ""),
        ("Peak RSS, `rag index --rebuild` (subprocess)", f"{res['build_subprocess']['peak_rss_mib']:.0f} MiB", "", ""),
    ]
    lines = ["| Measure | Result | Goal | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in rows]
    m = res["machine"]
    tr = base["truncation"]
    notes = [
        "",
        f"Corpus: {b['papers']} papers -> {b['chunks']} chunks (ours), {base['nodes']} nodes (baseline). "
        f"Latency over {lat['questions']} questions ({lat['source']}), each used once per measurement; "
        f"{lat['abstained']} answers abstained.",
        f"Baseline truncation: {tr['truncated_texts']} of {tr['texts']} title+abstract texts exceed MiniLM's "
        f"{tr['window']} word pieces; {tr['pieces_cut']} of {tr['pieces_total']} word pieces ({100 * tr['pieces_cut'] / tr['pieces_total']:.1f}%) "
        f"are never embedded (longest text: {tr['max_pieces']}).",
        f"Machine: {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}, torch {m['torch']}, "
        f"onnxruntime {m['onnxruntime']}, chromadb {m['chromadb']}, llama-index-core {m['llama-index-core']}; "
        f"load average at start {m['loadavg_at_start'][0]:.2f}.",
        "In-process timings exclude library imports (loaded before the clock starts); CLI rows include them.",
        disturbance_note(res),
        f"Baseline measured {base['median_s']:.1f} s here (the ~40 s in the goal is an older estimate); it embeds "
        f"{tr['pieces_total'] - tr['pieces_cut']} word pieces ({tr['texts']} texts cut at {tr['window']}), ours embeds "
        + (f"{res['stages']['tokens']}" if res.get("stages") else "more")
        + f" ({b['chunks']} chunks, each with its title, nothing cut).",
    ]
    if res.get("stages"):
        st = res["stages"]
        notes += ["", f"Build stages (--stages, one from-scratch build, {st['chunks']} chunks, {st['tokens']} word pieces):", "",
                  "| Stage | Seconds | Share |", "|---|---|---|"]
        for k, v in st["stages_s"].items():
            share = "" if k.startswith("  ") else f"{100 * v / st['total_s']:.0f}%"
            notes.append(f"| {k} | {v:.2f} | {share} |")
        notes += [f"| total | {st['total_s']:.2f} | |", "",
                  f"Embedding throughput (onnx-int8, 2 threads): {st['tokens'] / st['stages_s']['embed (tokenize + onnx int8)']:.0f} word pieces/s."]
    return "\n".join(lines + notes)


def write_results(res: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(res, indent=1)
    tmp = RESULTS_DIR / "latest.json.tmp"
    tmp.write_text(text)
    os.replace(tmp, RESULTS_DIR / "latest.json")
    (RESULTS_DIR / f"{stamp}.json").write_text(text)
    return RESULTS_DIR / f"{stamp}.json"


# ---------------------------------------------------------------------------------------------

def orchestrate(args: argparse.Namespace) -> int:
    runs = 1 if args.quick else args.runs
    questions, _ = load_questions()
    res: dict[str, Any] = {"machine": machine_info(), "quick": args.quick,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        work = Path(tmp)
        res["prep"] = run_section("prep", work, 1)
        res["build"] = run_section("build", work, runs)
        built = work / "built"
        res["reindex"] = run_section("reindex", work, 1 if args.quick else 5)
        res["cli_reindex"] = measure_cli_reindex(built, runs)
        res["latency"] = run_section("latency", work, 1)
        res["cold_ask"] = measure_cold_ask(built, runs, questions[0])
        res["build_subprocess"] = measure_build_subprocess(work)
        if args.stages:
            res["stages"] = run_section("stages", work, 1)
        res["torch"] = None if args.quick else run_section("torch", work, 1)
        res["baseline"] = run_section("baseline", work, runs)
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    res["loadavg_at_end"] = list(os.getloadavg())
    table = markdown(res)
    res["markdown"] = table
    path = write_results(res)
    print(table)
    print(f"\nwritten: {RESULTS_DIR / 'latest.json'} and {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 run of each figure, no torch build (a smoke run)")
    p.add_argument("--stages", action="store_true", help="also profile the stages of one from-scratch build")
    p.add_argument("--runs", type=int, default=3, help="runs of each build and subprocess figure (default 3)")
    p.add_argument("--section", choices=sorted(SECTIONS), help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.section:
        import logging

        handler = logging.StreamHandler()
        handler.setLevel(logging.ERROR)  # bm25s sets its own logger to DEBUG on import
        logging.basicConfig(level=logging.ERROR, handlers=[handler])
        result = SECTIONS[args.section](Path(args.workdir), args.runs)
        Path(args.out).write_text(json.dumps(result))
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
