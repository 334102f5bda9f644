"""The in-process backend: a local Hugging Face causal LM loaded with transformers, streaming token ids.

    rag ask "..." --generator llm --llm-model Qwen/Qwen2.5-0.5B-Instruct   # or a local folder

Qwen/Qwen2.5-0.5B-Instruct is the suggested model (about 1 GB, fast on a CPU, follows the citation
format). Nothing is downloaded unless the environment sets RAG_ALLOW_DOWNLOAD=1: the model must be a
local folder or already be in the Hugging Face cache.

Why not llama-index's HuggingFaceLLM here: we need token-level control that the wrapper hides: the
model's own chat template with control tokens in the sources encoded as plain text, a context
budget counted with the model's tokenizer, streaming of token ids so markers are rewritten as they
arrive, and our stop tokens. (Any llama-index LLM object still works through rag.server_backend.)

Generation: greedy by default (`llm_temperature` 0), at most `max_new_tokens`, stopping at the
end-of-turn token; on a GPU in bfloat16, else on the CPU in float32. One generation at a time per
loaded model (a lock); the model is loaded once and cached by the Assistant.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, ContextManager, Iterator

from .chat_generator import FALLBACK, ChatGenerator, one_line
from .prompting import PromptBuilder, PromptPlan
from .settings import Settings

log = logging.getLogger(__name__)

SUGGESTED_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
# Used when neither the config nor the tokenizer states the context length.
DEFAULT_CONTEXT = 2048
# Token strings that end a turn in common chat templates (used when the tokenizer has them).
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")


class _IdQueue:
    """A transformers streamer (duck-typed BaseStreamer) that passes generated token ids to a queue."""

    def __init__(self, q: "queue.SimpleQueue[Any]"):
        self.q = q
        self._prompt = True

    def put(self, value: Any) -> None:
        if self._prompt:  # generate() first puts the prompt
            self._prompt = False
            return
        for token_id in value.reshape(-1).tolist():
            self.q.put(int(token_id))

    def end(self) -> None:
        self.q.put(_END)


_END = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


class LLMGenerator(ChatGenerator):
    """Answers with a local causal LM loaded in this process."""

    def __init__(self, model: Any, tokenizer: Any, index: Any, settings: Settings, model_name: str, device: str = "cpu"):
        builder = PromptBuilder(tokenizer, settings.llm_context or context_window(model, tokenizer), settings.max_new_tokens)
        super().__init__(index, settings, builder, model_name)
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.stop_ids = stop_token_ids(model, tokenizer)
        if not self.builder.has_template:
            self.warnings.append(f"the tokenizer of {model_name!r} has no chat template; a plain prompt was used "
                                 "(use an instruction-tuned model)")
        self._lock = threading.Lock()
        self.builder.build("?", [])  # a template that cannot render our messages fails here, at load time

    def __repr__(self) -> str:
        return f"LLMGenerator({self.model_name!r}, device={self.device!r}, context={self.builder.context})"

    def _slot(self) -> ContextManager[Any]:
        return self._lock  # one generate() at a time on this model

    # -- the model call: token ids as they are generated --------------------------------------
    def _generation_config(self, max_new_tokens: int, temperature: float) -> Any:
        from transformers import GenerationConfig

        base = getattr(self.model, "generation_config", None)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        sample = temperature > 0
        return GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=sample, num_beams=1,
            temperature=temperature if sample else None, top_p=None, top_k=None,
            repetition_penalty=getattr(base, "repetition_penalty", None) or 1.0,
            eos_token_id=self.stop_ids or None, pad_token_id=pad if pad is not None else (self.stop_ids or [None])[0],
        )

    def token_ids(self, input_ids: list[int], max_new_tokens: int, temperature: float = 0.0) -> Iterator[int]:
        """New token ids, as `model.generate` makes them on a worker thread; stops it when the caller stops."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=ids.device)

        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        ids = torch.tensor([input_ids], dtype=torch.long, device=self.device)
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids),
                      generation_config=self._generation_config(max_new_tokens, temperature),
                      streamer=_IdQueue(q), stopping_criteria=StoppingCriteriaList([_Cancelled()]))

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # handed to the caller's thread
                q.put(_Failed(exc))
            finally:
                q.put(_END)

        worker = threading.Thread(target=run, name="rag-llm-generate", daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    break
                if isinstance(item, _Failed):
                    raise item.exc
                yield item
        finally:
            cancel.set()
            worker.join()

    def _pieces(self, plan: PromptPlan, max_new_tokens: int, temperature: float, stats: dict[str, float]) -> Iterator[str]:
        """Decoded text as it grows; holds back an incomplete UTF-8 character."""

        ids = self.token_ids(plan.input_ids or [], max_new_tokens, temperature)
        out: list[int] = []
        printed = 0
        text = ""
        try:
            for token_id in ids:
                if not out:
                    stats["first_token_s"] = time.perf_counter() - stats["start"]
                out.append(token_id)
                stats["new_tokens"] = len(out)
                text = self.tokenizer.decode(out, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                if text.endswith("\ufffd"):
                    continue
                if len(text) > printed:
                    yield text[printed:]
                printed = len(text)
        finally:
            close = getattr(ids, "close", None)
            if close:
                close()  # stops the model's thread when we stop early
        if len(text) > printed:
            yield text[printed:]


# ---- loading ------------------------------------------------------------------------------------
def context_window(model: Any, tokenizer: Any) -> int:
    """Tokens the model can attend to: config max_position_embeddings (or the like), or the tokenizer's
    model_max_length when that is smaller and a real value (not the 1e30 placeholder)."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    n = None
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            n = value
            break
    tmax = getattr(tokenizer, "model_max_length", None)
    if isinstance(tmax, int) and 0 < tmax < 10**7 and (n is None or tmax < n):
        n = tmax
    return n or DEFAULT_CONTEXT


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-turn ids: the generation config's and tokenizer's eos, and known end-of-turn tokens present."""
    ids: list[int] = []
    for value in (getattr(getattr(model, "generation_config", None), "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(v, int) and v not in ids:
                ids.append(v)
    vocab = tokenizer.get_vocab()
    for token in END_OF_TURN:
        tid = vocab.get(token)
        if tid is not None and tid not in ids:
            ids.append(tid)
    return ids


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def _device(settings: Settings) -> str:
    import torch

    wanted = settings.llm_device if settings.llm_device != "auto" else settings.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("llm_device=cuda but no GPU is available")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


def _dtype(settings: Settings, device: str) -> Any:
    import torch

    if settings.llm_dtype != "auto":
        return getattr(torch, settings.llm_dtype)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _reason(exc: BaseException, name: str, local_only: bool) -> str:
    exists = Path(name).expanduser().exists()
    if isinstance(exc, FileNotFoundError) and not exists and _looks_like_path(name):
        return "no such folder"
    if local_only and not exists and isinstance(exc, (OSError, ValueError)):
        return ("not found locally and downloads are off: give a local folder, or set RAG_ALLOW_DOWNLOAD=1 "
                "to download it from the Hugging Face hub")
    if type(exc).__name__ in ("OutOfMemoryError", "MemoryError"):
        return f"out of memory: {one_line(exc, 120)}; try a smaller model or llm_device=cpu"
    return f"{type(exc).__name__}: {one_line(exc, 200)}"


def load_model(name: str, settings: Settings) -> tuple[Any, Any, str]:
    """(model, tokenizer, device); raises on any failure. Local files only unless RAG_ALLOW_DOWNLOAD=1."""
    import torch  # noqa: F401  (fails here, not later, when torch is missing)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local_only = os.environ.get("RAG_ALLOW_DOWNLOAD", "") != "1"
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is a file; give the model's folder")
        name = str(path)
    elif _looks_like_path(name):
        raise FileNotFoundError(f"no such folder: {name}")
    device = _device(settings)
    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_only)
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=local_only, dtype=_dtype(settings, device))
    model.to(device)
    model.eval()
    return model, tokenizer, device


def load_transformers_generator(settings: Settings, index: Any) -> LLMGenerator | str:
    """The LLM generator for `settings.llm_model`, or a one-line reason why it could not be loaded."""
    name = settings.llm_model
    if not name:
        return (f"could not load the language model (llm_model is not set: use --llm-model or RAG_LLM_MODEL, "
                f"e.g. {SUGGESTED_MODEL}); {FALLBACK}")
    local_only = os.environ.get("RAG_ALLOW_DOWNLOAD", "") != "1"
    started = time.perf_counter()
    try:
        model, tokenizer, device = load_model(name, settings)
        generator = LLMGenerator(model, tokenizer, index, settings, model_name=name, device=device)
    except Exception as exc:  # never a crash: the Assistant answers extractively with this reason
        return f"could not load the language model {name!r} ({_reason(exc, name, local_only)}); {FALLBACK}"
    log.info("loaded %r on %s in %.1f s", generator, device, time.perf_counter() - started)
    return generator


__all__ = ["LLMGenerator", "SUGGESTED_MODEL", "context_window", "load_model", "load_transformers_generator", "stop_token_ids"]
