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
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "rows": rows, "extractive_total_ms": extractive}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
