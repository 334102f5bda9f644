"""The LLM generator: picks the backend the settings name and re-exports the pieces.

    rag ask "..." --model Qwen/Qwen2.5-0.5B-Instruct                       # in process (transformers)
    rag ask "..." --llm-backend openai --llm-base-url http://127.0.0.1:11434/v1 --model qwen2.5:0.5b

The pieces live in modules named for what they own:
  rag.prompting             prompt building and context fitting (exact with a tokenizer, else an upper estimate)
  rag.chat_generator        the evidence gate, streaming with checked citations, the extractive fallback
  rag.transformers_backend  the in-process Hugging Face model (llm_backend=transformers, the default)
  rag.server_backend        an OpenAI-compatible server or any llama-index LLM (llm_backend=openai, Assistant(llm=...))
  rag.completion            one plain completion for the eval's judge, on either backend

When the model cannot be used (llm_model unset, not cached, broken files, out of memory, a server
address missing), `load_llm_generator` returns a one-line reason instead and the Assistant answers
with the extractive generator, with that warning.
"""
from __future__ import annotations

from typing import Any

from .chat_generator import ChatGenerator
from .completion import complete
from .prompting import PromptBuilder, PromptPlan, estimate_tokens, neutralize, render_source
from .server_backend import ServerGenerator, load_server_generator
from .settings import Settings
from .transformers_backend import SUGGESTED_MODEL, LLMGenerator, context_window, load_model, load_transformers_generator, stop_token_ids


def load_llm_generator(settings: Settings, index: Any, llm: Any = None) -> ChatGenerator | str:
    """The generator for `settings.llm_backend` (or for `llm`, a llama-index LLM object), or a one-line reason."""
    if llm is not None or settings.llm_backend == "openai":
        return load_server_generator(settings, index, llm)
    return load_transformers_generator(settings, index)


def generator_key(settings: Settings) -> str:
    """What identifies a loaded generator: the settings that load it (not the per-question ones)."""
    if settings.llm_backend == "openai":
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        return (f"llm:openai:{settings.llm_base_url}:{settings.llm_model}:{settings.llm_timeout}:{settings.llm_context}:"
                f"{settings.llm_tokenizer}:{hash(key)}")
    return f"llm:transformers:{settings.llm_model}:{settings.llm_device}:{settings.llm_dtype}:{settings.llm_context}"


__all__ = ["ChatGenerator", "LLMGenerator", "PromptBuilder", "PromptPlan", "ServerGenerator", "SUGGESTED_MODEL", "complete",
           "context_window", "estimate_tokens", "generator_key", "load_llm_generator", "load_model", "neutralize",
           "render_source", "stop_token_ids"]
