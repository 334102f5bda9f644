"""One plain chat completion, for tools that need a model's text (the eval harness's LLM judge).

Either backend, as the settings say: in process (the model loaded once per process and kept), or
the OpenAI-compatible server of llm_base_url through llama-index's OpenAILike client. Raises
ModelLoadError when the model cannot be loaded or the server cannot be used (down, timeout, an
HTTP error) and ValueError when the prompt does not fit the model's context (shorten it and retry).
"""
from __future__ import annotations

import os
import threading
from typing import Any

from .settings import Settings

_COMPLETERS: dict[tuple[str, str, str], tuple[Any, Any, str]] = {}
_COMPLETE_LOCK = threading.Lock()


def complete(settings: Settings, messages: list[dict[str, str]], model: str | None = None, max_new_tokens: int = 32) -> str:
    """One greedy chat completion with `model` (else `settings.llm_model`) on `settings.llm_backend`."""
    from .errors import ModelLoadError

    name = model or settings.llm_model
    if not name:
        raise ModelLoadError("no model given: set llm_model (or pass model=)")
    if settings.llm_backend == "openai":
        return _complete_on_server(settings, messages, name, max_new_tokens)
    return _complete_in_process(settings, messages, name, max_new_tokens)


def _complete_on_server(settings: Settings, messages: list[dict[str, str]], name: str, max_new_tokens: int) -> str:
    from llama_index.core.llms import ChatMessage

    from .errors import ModelLoadError, RagError
    from .prompting import TEMPLATE_TOKENS_FIXED, TEMPLATE_TOKENS_PER_MESSAGE, estimate_tokens
    from .server_backend import DEFAULT_SERVER_CONTEXT, _local_tokenizer, describe_failure, host_of, server_llm

    tokenizer, config_context = _local_tokenizer(settings.llm_tokenizer or name)
    context = settings.llm_context or config_context or DEFAULT_SERVER_CONTEXT
    if tokenizer is not None:
        n = len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"])
    else:  # counted from above, as for answers (rag.prompting.estimate_tokens)
        n = TEMPLATE_TOKENS_FIXED + sum(TEMPLATE_TOKENS_PER_MESSAGE + estimate_tokens(m["content"]) for m in messages)
    if n + max_new_tokens > context:
        raise ValueError(f"the prompt has {n} tokens; {name!r} reads {context} including the answer")
    try:
        llm = server_llm(settings, model=name, context=context)
        reply = llm.chat([ChatMessage(role=m["role"], content=m["content"]) for m in messages],
                         max_tokens=max_new_tokens, temperature=0.0)
    except RagError as exc:
        raise ModelLoadError(str(exc)) from None
    except Exception as exc:  # down, timeout, HTTP error: the caller stops asking this model
        raise ModelLoadError(describe_failure(exc, host_of(settings.llm_base_url), settings.llm_timeout, name)) from None
    return (reply.message.content or "").strip()


def _complete_in_process(settings: Settings, messages: list[dict[str, str]], name: str, max_new_tokens: int) -> str:
    import torch

    from .errors import ModelLoadError
    from .transformers_backend import _reason, context_window, load_model, stop_token_ids

    key = (name, settings.llm_device, settings.llm_dtype)
    with _COMPLETE_LOCK:
        if key not in _COMPLETERS:
            try:
                _COMPLETERS[key] = load_model(name, settings)
            except Exception as exc:
                local_only = os.environ.get("RAG_ALLOW_DOWNLOAD", "") != "1"
                raise ModelLoadError(f"could not load the model {name!r} ({_reason(exc, name, local_only)})") from None
        lm, tokenizer, device = _COMPLETERS[key]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) \
            if getattr(tokenizer, "chat_template", None) else "\n\n".join(m["content"] for m in messages) + "\n"
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) + max_new_tokens > context_window(lm, tokenizer):
            raise ValueError(f"the prompt has {len(ids)} tokens; {name!r} reads {context_window(lm, tokenizer)} including the answer")
        stops = stop_token_ids(lm, tokenizer)
        pad = getattr(tokenizer, "pad_token_id", None)
        with torch.inference_mode():
            x = torch.tensor([ids], dtype=torch.long, device=device)
            out = lm.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens, do_sample=False,
                              eos_token_id=stops or None, pad_token_id=pad if pad is not None else (stops or [None])[0])
        return tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip()


__all__ = ["complete"]
