"""A tiny random-weight chat model built offline through the real APIs, for tests and the benchmark.

    from tests.tiny_llm import build_tiny_llm
    path = build_tiny_llm(tmp_dir)          # a folder AutoModelForCausalLM / AutoTokenizer load

The tokenizer is a byte-level BPE trained (with the `tokenizers` library) on the shipped corpus's
titles and abstracts, with ChatML special tokens and a ChatML chat template; eos is <|im_end|>.
The model is a LlamaConfig with hidden size 64, 2 layers, 4 heads and a 512-token context, with
seeded random weights, so its text is gibberish but its shapes, template, stop tokens, context limit
and streaming behave like a real chat model's. Building takes about a second.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "data" / "seeds"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def corpus_texts() -> list[str]:
    """Titles and abstracts of the shipped corpus: the tokenizer's training text."""
    from rag.corpus import load_corpus

    return [f"{p.title}\n{p.abstract}" for p in load_corpus([SEEDS]).papers]


def build_tokenizer(vocab_size: int = 3000, max_length: int = 512):
    """A PreTrainedTokenizerFast: byte-level BPE on the corpus text, ChatML template, eos <|im_end|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from rag.prompts import load_prompt

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # The prompt files count as training text too (x20), so the fixed part of a prompt costs few tokens.
    prompts = [load_prompt("system", frozenset({"abstain"})), load_prompt("answer", frozenset({"sources", "question", "abstain"}))] * 20
    bpe.train_from_iterator(corpus_texts() + prompts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHATML_TEMPLATE, model_max_length=max_length)


def build_tiny_llm(target: Path, seed: int = 0, vocab_size: int = 3000, hidden: int = 64, layers: int = 2, heads: int = 4,
                   max_positions: int = 512) -> Path:
    """Save the tiny tokenizer and a seeded random LlamaForCausalLM to `target`; returns `target`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    target = Path(target)
    tokenizer = build_tokenizer(vocab_size, max_positions)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_positions,
                         bos_token_id=None, eos_token_id=eos, pad_token_id=pad, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


if __name__ == "__main__":  # python tests/tiny_llm.py DIR
    import sys

    print(build_tiny_llm(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-llm")))
