"""`python bench/llm.py`: speed of the LLM generator, and where an ask() spends its time.

What it measures (medians over the questions, after 2 warm-up asks):
  - model load: `load_llm_generator` on the built model folder (tokenizer + weights + prompt setup).
  - prompt tokens: the fitted prompt (system + numbered sources + question) fed to the model.
  - time to first token: from the model call to the first generated token id (prefill + 1 step),
    from `LLMGenerator.last_stats["first_token_s"]`.
  - first text shown: `Answer.timings["first_token_ms"]`, from the start of ask() (retrieval included)
    to the first streamed piece (the abstain gate may hold the first words back a little).
  - decode speed: generated tokens after the first, per second of the rest of the generation.
  - ask split: `Answer.timings` retrieve_ms / generate_ms / total_ms of `Assistant.ask`, and their share.
  - extractive ask: the same questions with generator=extractive, for reference.

The model is the tiny random-weight chat model of tests/tiny_llm.py (byte-level BPE tokenizer on the
corpus, Llama with hidden 64, 2 layers, context 512), built into a temporary folder. Its text is
gibberish, so it rarely stops before max_new_tokens: every answer generates about the same number
of tokens, which makes the decode figure stable. abstain_threshold is set to 0 so every question
reaches the model. The timings are those of the real code path (retrieval, prompt fitting, chat
template, generate() on a worker thread, streaming decode, citation rewriting and checking); the
model itself is ~0.4 M parameters, so a real model's time is dominated by its own forward passes.

GPU run (not possible in this session: no GPU, no network). On a machine with CUDA, the same script
times a model of the suggested Qwen/Qwen2.5-0.5B-Instruct's shape with random weights in bfloat16:

    python bench/llm.py --qwen-shaped --device cuda --max-new-tokens 128

`--qwen-shaped` builds `Qwen2ForCausalLM(Qwen2Config(hidden_size=896, intermediate_size=4864,
num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
max_position_embeddings=32768, rope_theta=1e6, tie_word_embeddings=True))` (494 M parameters, like
the real one) with the tiny tokenizer (ids above its vocabulary decode to nothing), saves it, and
loads it through `load_llm_generator` with llm_device=cuda, llm_dtype=auto (bfloat16 on a GPU).
Report time to first token, decode tokens/s and the ask split from that run next to this one. On
the CPU the Qwen-shaped model also runs (float32, ~2 GB of RAM, a few tokens/s on 2 cores).

Server path (second table; skip with --no-server): the same model served by a real `transformers
serve` on a loopback port (tests/llm_server.py), asked through llm_backend=openai (llama-index's
OpenAILike client, streamed):
  - time to first token and decode speed through the server, from `ServerGenerator.last_stats`
    (the token count is the server's own `usage.completion_tokens`);
  - backend overhead per request: the same fitted prompt sent --overhead-requests times, alternating
    between our backend's streaming call (`ServerGenerator._pieces`: llama-index, the openai client,
    SSE parsing, our per-question settings) and a bare http.client request with the same JSON body
    that reads the same SSE stream; greedy decoding makes both generate the same tokens, so the
    difference of the medians is what our client layer adds (target <= 20 ms on loopback). Given
    as this process's CPU time (what the client layer costs, robust to other load on the machine:
    the server runs in its own process) and as wall time, for 1 new token (the per-request part)
    and for --max-new-tokens (per-token costs added);
  - prompt fitting: `PromptBuilder.build` with the tokenizer (exact) and with the estimate.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))

from run import FALLBACK_QUESTIONS  # noqa: E402  (bench/run.py: stdlib imports only at module level)

QUESTIONS = FALLBACK_QUESTIONS[:10]
WARMUP = ["Can graph neural networks be trained with forward-only learning?", "Which papers study backdoor attacks?"]


def build_qwen_shaped(target: Path) -> Path:
    """Tiny tokenizer + a random-weight model of Qwen2.5-0.5B's shape (see the module doc)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from tests.tiny_llm import build_tokenizer

    tokenizer = build_tokenizer(max_length=32768)
    eos, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1e6,
                         tie_word_embeddings=True, eos_token_id=eos, pad_token_id=pad, bos_token_id=None)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default: the settings' default; built if missing)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--qwen-shaped", action="store_true", help="time a random model of Qwen2.5-0.5B's shape instead of the tiny one")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--no-server", action="store_true", help="skip the server-path figures")
    parser.add_argument("--overhead-requests", type=int, default=20, help="requests per side for the overhead figure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    from rag import Assistant, Settings
    from rag.generate import LLMGenerator, load_llm_generator
    from tests.tiny_llm import build_tiny_llm

    with tempfile.TemporaryDirectory(prefix="rag-bench-llm-") as tmp:
        started = time.perf_counter()
        model_dir = build_qwen_shaped(Path(tmp)) if args.qwen_shaped else build_tiny_llm(Path(tmp))
        build_s = time.perf_counter() - started
        options = dict(progress=False, generator="llm", llm_model=str(model_dir), max_new_tokens=args.max_new_tokens,
                       abstain_threshold=0.0, llm_device=args.device)
        if args.index_dir:
            options["index_dir"] = args.index_dir
        settings = Settings(**options)
        assistant = Assistant(settings)
        index = assistant.loaded_index  # built here if missing: not part of any figure
        started = time.perf_counter()
        probe = load_llm_generator(settings, index)
        load_s = time.perf_counter() - started
        if isinstance(probe, str):
            print(probe, file=sys.stderr)
            return 1
        del probe
        for q in WARMUP:  # loads the generator the Assistant caches, the embedder, thread pools
            assistant.ask(q)
        gen, _ = assistant._generator(settings)
        assert isinstance(gen, LLMGenerator)

        rows = []
        for q in QUESTIONS[:args.questions]:
            answer = assistant.ask(q)
            stats = dict(gen.last_stats)
            rows.append({"question": q, **{k: round(v, 3) for k, v in answer.timings.items()},
                         "prompt_tokens": stats.get("prompt_tokens", 0), "new_tokens": stats.get("new_tokens", 0),
                         "ttft_ms": 1000 * stats.get("first_token_s", float("nan")), "tokens_per_s": stats.get("tokens_per_s", 0.0),
                         "abstained": answer.abstained})
        extractive = [assistant.ask(q, generator="extractive").timings["total_ms"] for q in QUESTIONS[:args.questions]]
        server = None if args.no_server or args.qwen_shaped else server_figures(model_dir, assistant, args)
        assistant.close()

    def med(key: str) -> float:
        return _median([r[key] for r in rows])

    total, retrieve, generate = med("total_ms"), med("retrieve_ms"), med("generate_ms")
    share = [(r["retrieve_ms"] / r["total_ms"], r["generate_ms"] / r["total_ms"]) for r in rows if r["total_ms"]]
    device = gen.device
    model = "Qwen2.5-0.5B-shaped Qwen2 (random weights)" if args.qwen_shaped else "tiny Llama (random weights, hidden 64, 2 layers)"
    n_params = sum(p.numel() for p in gen.model.parameters())
    figures = [
        ("model", f"{model}, {n_params / 1e6:.2f} M params, {next(gen.model.parameters()).dtype} on {device}", ""),
        ("model build + save (test helper)", f"{build_s:.2f} s", "not part of a user's run"),
        ("model load (load_llm_generator)", f"{load_s:.2f} s", "once per process"),
        ("prompt tokens", f"{med('prompt_tokens'):.0f}", f"context {gen.builder.context}, max_new_tokens {args.max_new_tokens}"),
        ("new tokens", f"{med('new_tokens'):.0f}", "random weights: rarely stops early"),
        ("time to first token (model call)", f"{med('ttft_ms'):.1f} ms", "prefill + first decode step"),
        ("first text shown (from ask start)", f"{med('first_token_ms'):.1f} ms", "Answer.timings first_token_ms"),
        ("decode speed", f"{med('tokens_per_s'):.0f} tok/s", "tokens after the first"),
        ("ask total (llm)", f"{total:.1f} ms", ""),
        ("  retrieval", f"{retrieve:.1f} ms ({100 * _median([s[0] for s in share]):.0f}%)", "retrieve_ms, median share of total"),
        ("  generation", f"{generate:.1f} ms ({100 * _median([s[1] for s in share]):.0f}%)", "generate_ms: prompt, model, citations"),
        ("ask total (extractive, reference)", f"{_median(extractive):.1f} ms", "same questions"),
    ]
    print(f"\nLLM generator, medians over {len(rows)} questions (torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
    print("| figure | value | notes |\n|---|---|---|")
    for name, value, note in figures:
        print(f"| {name} | {value} | {note} |")
    if server:
        print(f"\nServer path (transformers serve on loopback, llm_backend=openai), medians over {len(rows)} questions\n")
        print("| figure | value | notes |\n|---|---|---|")
        for name, value, note in server["figures"]:
            print(f"| {name} | {value} | {note} |")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "rows": rows, "extractive_total_ms": extractive,
                                         "server": server}, indent=2))
    return 0


def _raw_stream(port: int, body: bytes) -> tuple[float, float]:
    """(first content chunk s, total s) of one streamed chat completion sent with the standard library alone
    (a new loopback connection each time: the server closes it after a stream)."""
    import http.client

    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    first = None
    for line in response:
        if first is None and line.startswith(b"data: ") and b'"content"' in line:
            first = time.perf_counter() - started
    conn.close()
    return first or float("nan"), time.perf_counter() - started


def server_figures(model_dir: Path, assistant: "Any", args: argparse.Namespace) -> dict:
    """Figures of the server path (see the module doc): a real transformers serve of the same model folder."""
    from rag.generate import ServerGenerator
    from tests.llm_server import ModelServer

    with ModelServer(model_dir) as server:
        settings = assistant.settings.with_options(llm_backend="openai", llm_base_url=server.base_url, llm_model=server.model)
        for q in WARMUP:
            assistant.ask(q, llm_backend="openai", llm_base_url=server.base_url, llm_model=server.model)
        gen, _ = assistant._generator(settings)
        assert isinstance(gen, ServerGenerator)
        rows = []
        for q in QUESTIONS[:args.questions]:
            answer = assistant.ask(q, llm_backend="openai", llm_base_url=server.base_url, llm_model=server.model)
            stats = dict(gen.last_stats)
            rows.append({"question": q, **{k: round(v, 3) for k, v in answer.timings.items()}, "generator": answer.generator,
                         "prompt_tokens": stats.get("prompt_tokens", 0), "new_tokens": stats.get("new_tokens", 0),
                         "ttft_ms": 1000 * stats.get("first_token_s", float("nan")), "tokens_per_s": stats.get("tokens_per_s", 0.0)})
        # overhead: one fitted prompt, our backend vs a bare request, alternating
        hits = assistant.search(QUESTIONS[0], k=settings.top_k)
        plan = gen.builder.build(QUESTIONS[0], hits)
        overhead = {n: _overhead(gen, plan, server, n, args.overhead_requests) for n in (1, args.max_new_tokens)}
        estimate = ServerGenerator(gen.llm, assistant.loaded_index, settings, server.model, server.host, None, gen.builder.context)
        fit_exact = _median([_timed(lambda: gen.builder.build(q, hits)) for q in QUESTIONS[:5]])
        fit_est = _median([_timed(lambda: estimate.builder.build(q, hits)) for q in QUESTIONS[:5]])
        estimated = estimate.builder.encode(plan.messages)[2]  # the same prompt, counted without the tokenizer
        startup = server.started_s

    def med(key: str) -> float:
        return _median([r[key] for r in rows])

    figures = [
        ("server", f"transformers serve {server.model.rsplit('/', 1)[-1]} on 127.0.0.1, CPU", f"up in {startup:.1f} s"),
        ("answers by the server model", f"{sum(r['generator'] == 'llm' for r in rows)}/{len(rows)}", "the rest fell back"),
        ("prompt tokens", f"{med('prompt_tokens'):.0f}", "counted with the served folder's tokenizer"),
        ("new tokens", f"{med('new_tokens'):.0f}", "the server's usage.completion_tokens"),
        ("time to first token (server call)", f"{med('ttft_ms'):.1f} ms", "request sent to first text piece"),
        ("first text shown (from ask start)", f"{med('first_token_ms'):.1f} ms", "Answer.timings first_token_ms"),
        ("decode speed through the server", f"{med('tokens_per_s'):.0f} tok/s", "tokens after the first"),
        ("ask total (server)", f"{med('total_ms'):.1f} ms", ""),
    ]
    for n, o in overhead.items():
        ours, bare = o["ours_s"], o["bare_s"]
        figures += [
            (f"backend overhead, {n} new token{'s' if n > 1 else ''}: client CPU",
             f"{1000 * (_median(o['ours_cpu_s']) - _median(o['bare_cpu_s'])):.1f} ms",
             f"median process CPU {1000 * _median(o['ours_cpu_s']):.1f} ms ours vs {1000 * _median(o['bare_cpu_s']):.1f} ms "
             f"bare http.client, {args.overhead_requests} requests each; target <= 20 ms"),
            (f"backend overhead, {n} new token{'s' if n > 1 else ''}: wall", f"{1000 * (_median(ours) - _median(bare)):.1f} ms",
             f"median {1000 * _median(ours):.1f} vs {1000 * _median(bare):.1f} ms; fastest {1000 * min(ours):.1f} vs "
             f"{1000 * min(bare):.1f} ms"),
        ]
    figures += [
        ("prompt fitting, tokenizer / estimate", f"{1000 * fit_exact:.1f} / {1000 * fit_est:.1f} ms", "PromptBuilder.build, 5 questions"),
        ("prompt tokens, exact / estimate", f"{plan.prompt_tokens} / {estimated} ({estimated / plan.prompt_tokens:.2f}x)",
         "the same fitted prompt, counted with the tokenizer and by rag.prompting.estimate_tokens"),
    ]
    return {"figures": figures, "rows": rows, "overhead": overhead}


def _overhead(gen: Any, plan: Any, server: Any, max_new: int, requests: int) -> dict[str, list[float]]:
    """Our backend's streaming call and a bare request with the same body, alternating (see the module doc)."""
    body = json.dumps({"model": server.model, "messages": plan.messages, "max_tokens": max_new, "temperature": 0.0,
                       "stream": True}).encode()
    out: dict[str, list[float]] = {k: [] for k in ("ours_s", "bare_s", "ours_cpu_s", "bare_cpu_s", "ours_first_s", "bare_first_s")}
    for _ in range(requests):
        cpu = time.process_time()  # this process only: the server's work is in its own process
        stats = {"start": time.perf_counter()}
        for _piece in gen._pieces(plan, max_new, 0.0, stats):
            pass
        out["ours_s"].append(time.perf_counter() - stats["start"])
        out["ours_cpu_s"].append(time.process_time() - cpu)
        out["ours_first_s"].append(stats.get("first_token_s", float("nan")))
        cpu = time.process_time()
        first, total = _raw_stream(server.port, body)
        out["bare_cpu_s"].append(time.process_time() - cpu)
        out["bare_s"].append(total)
        out["bare_first_s"].append(first)
    return out


def _timed(fn: "Any") -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
