"""The server backend: a model behind an OpenAI-compatible API, or any llama-index LLM object, writes the answer.

    RAG_LLM_BACKEND=openai RAG_LLM_BASE_URL=http://127.0.0.1:11434/v1 RAG_LLM_MODEL=qwen2.5:0.5b rag ask "..."
    Assistant(settings, llm=Ollama(model="qwen2.5:0.5b"))       # any llama-index LLM

The client is llama-index's LLM layer (`OpenAILike` from llama-index-llms-openai-like), streamed
with `stream_chat`; rag.chat_generator wraps it with the same evidence gate, prompt, context
budget, checked citations and fallback as the in-process model. The server applies the model's
chat template, so we send plain chat messages.

Context budget: with the model's tokenizer at hand (llm_tokenizer, or llm_model naming a local
folder or a cached hub model, as with `transformers serve PATH`) prompt tokens are counted
exactly; without it they are estimated from above (rag.prompting.estimate_tokens) and the
context is llm_context, else the model's local config, else the LLM object's metadata, else 4096.

Failures never raise to the caller: no retries (a down server answers at once, extractively), and
a server that refuses the connection, passes llm_timeout (to connect, for the first token, between
tokens) or answers with an HTTP error gives the extractive answer with a one-line reason naming
the server's host. The server is not contacted when the generator is created, so a server started
later is used from the next question on.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import urlparse

from .chat_generator import FALLBACK, ChatGenerator, one_line
from .prompting import PromptBuilder, PromptPlan
from .settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SERVER_CONTEXT = 4096
ESTIMATE = "estimate"
# How servers refuse a prompt longer than the model's window: transformers serve ("The prompt has N tokens, but the
# model takes at most M ... --max-model-len"), vLLM ("maximum context length is M tokens"), llama.cpp, OpenAI.
_TOO_LONG = re.compile(r"max-model-len|context (?:length|window|size)|maximum context|prompt (?:has|is|too)\b.*tokens"
                       r"|exceeds? .*tokens|too (?:long|many tokens)", re.I)


def host_of(url: str | None) -> str | None:
    """The host:port of a base URL.

    >>> host_of("http://127.0.0.1:8000/v1")
    '127.0.0.1:8000'
    """
    if not url:
        return None
    return urlparse(url).netloc or url


def server_llm(settings: Settings, model: str | None = None, context: int | None = None) -> Any:
    """The llama-index `OpenAILike` client for `settings.llm_base_url` (no retries, llm_timeout per request)."""
    from llama_index.llms.openai_like import OpenAILike

    from .errors import SettingsError

    name = model or settings.llm_model
    if not settings.llm_base_url:
        raise SettingsError("llm_backend=openai needs the server's address: set llm_base_url (RAG_LLM_BASE_URL), "
                            "e.g. http://127.0.0.1:11434/v1 for Ollama or http://127.0.0.1:8000/v1 for transformers serve")
    if not name:
        raise SettingsError("llm_backend=openai needs the server's model name: set llm_model (RAG_LLM_MODEL or --model)")
    # An explicit key, never OPENAI_API_KEY from the environment: that key is for OpenAI, not this server.
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return OpenAILike(model=name, api_base=settings.llm_base_url, api_key=key, is_chat_model=True,
                      is_function_calling_model=False, context_window=context or settings.llm_context or DEFAULT_SERVER_CONTEXT,
                      timeout=settings.llm_timeout, max_retries=0, temperature=settings.llm_temperature)


def _local_tokenizer(name: str | None) -> tuple[Any, int | None]:
    """(tokenizer, context from its config) for a local folder or cached hub name; (None, None) when not at hand."""
    if not name or name == ESTIMATE:
        return None, None
    path = Path(name).expanduser()
    looks_local = path.is_dir() or (name.count("/") == 1 and ":" not in name and not name.startswith(("/", ".", "~")))
    if not looks_local:  # e.g. Ollama's "qwen2.5:0.5b": no Hugging Face name
        return None, None
    try:
        from transformers import AutoConfig, AutoTokenizer

        from .transformers_backend import context_window

        tokenizer = AutoTokenizer.from_pretrained(str(path) if path.is_dir() else name, local_files_only=True)
        if not getattr(tokenizer, "chat_template", None):
            return None, None  # the server's template is unknown: counting without it would not be exact
        try:
            config = AutoConfig.from_pretrained(str(path) if path.is_dir() else name, local_files_only=True)
            context = context_window(SimpleNamespace(config=config), tokenizer)
        except Exception:
            context = None
        return tokenizer, context
    except Exception as exc:
        log.info("no local tokenizer for %r (%s): prompt tokens are estimated", name, one_line(exc, 120))
        return None, None


def _error_detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        text = (err.get("message") if isinstance(err, dict) else err) or body.get("detail") or body.get("message")
        if text:
            return one_line(text, 200)
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return one_line(response.text, 200)
        except Exception:
            pass
    return one_line(getattr(exc, "message", None) or exc, 200)


def describe_failure(exc: BaseException, host: str | None, timeout: float | None, model: str) -> str:
    """One line saying what went wrong with a server call (openai and httpx errors by class name, no import)."""
    where = f"the model server at {host}" if host else f"the language model {model!r}"
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"APITimeoutError", "TimeoutException"} or isinstance(exc, TimeoutError):
        limit = f" within {timeout:g} s (llm_timeout)" if timeout else " in time"
        return f"{where} did not answer{limit}"
    if names & {"APIConnectionError", "ConnectError", "RemoteProtocolError", "ReadError"} or isinstance(exc, ConnectionError):
        cause = exc.__cause__ or exc.__context__ or exc
        return f"{where} is not reachable ({one_line(cause, 120)}): start it, or check llm_base_url"
    if names & {"APIStatusError", "HTTPStatusError"}:
        status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
        detail = _error_detail(exc)
        if status in (400, 413, 422) and _TOO_LONG.search(detail):
            hint = ("; the prompt is longer than the model's window: set llm_context (RAG_LLM_CONTEXT) to it, "
                    "or llm_tokenizer to the model's tokenizer, and the prompt is cut to fit")
        elif status in (400, 404):
            hint = f"; check that the server has the model {model!r} (llm_model)"
        else:
            hint = ""
        return f"{where} answered with an error (HTTP {status}: {detail}){hint}"
    return f"{where} failed while answering ({type(exc).__name__}: {one_line(exc, 160)})"


class ServerGenerator(ChatGenerator):
    """Answers with a llama-index LLM: our OpenAILike client of a server, or one the caller passed in."""

    def __init__(self, llm: Any, index: Any, settings: Settings, model_name: str, host: str | None = None,
                 tokenizer: Any = None, context: int | None = None):
        context = context or DEFAULT_SERVER_CONTEXT
        builder = PromptBuilder(tokenizer, context, settings.max_new_tokens)
        super().__init__(index, settings, builder, model_name, label=f"{model_name} @ {host}" if host else model_name)
        self.llm = llm
        self.host = host
        self.timeout = getattr(llm, "timeout", None) or getattr(llm, "request_timeout", None)
        try:
            from llama_index.llms.openai import OpenAI

            self._openai = isinstance(llm, OpenAI)
        except ImportError:
            self._openai = False

    def __repr__(self) -> str:
        return f"ServerGenerator({self.label!r}, context={self.builder.context}, exact_count={self.builder.exact})"

    def _configured(self, max_new_tokens: int, temperature: float) -> tuple[Any, dict[str, Any]]:
        """The LLM and call arguments that make this question's max_new_tokens and temperature apply."""
        if self._openai:  # sent as request fields (the object's own max_tokens, when set, wins: leave it None)
            # include_usage: OpenAI-compatible servers stream token counts only when asked (transformers serve >= 5.25)
            return self.llm, {"max_tokens": max_new_tokens, "temperature": temperature,
                              "stream_options": {"include_usage": True}}
        fields = getattr(type(self.llm), "model_fields", {})
        update = {f: v for f, v in (("temperature", temperature), ("max_new_tokens", max_new_tokens),
                                    ("max_tokens", max_new_tokens)) if f in fields}
        # A shallow copy per question: the caller's object (and its loaded model or HTTP client) is shared, not changed.
        return (self.llm.model_copy(update=update) if update else self.llm), {}

    def _pieces(self, plan: PromptPlan, max_new_tokens: int, temperature: float, stats: dict[str, float]) -> Iterator[str]:
        import time

        from llama_index.core.llms import ChatMessage

        llm, kwargs = self._configured(max_new_tokens, temperature)
        stream = llm.stream_chat([ChatMessage(role=m["role"], content=m["content"]) for m in plan.messages], **kwargs)
        n = 0
        usage = None
        try:
            for chunk in stream:
                raw = getattr(chunk, "raw", None)
                usage = getattr(raw, "usage", None) or (raw.get("usage") if isinstance(raw, dict) else None) or usage
                delta = chunk.delta or ""
                if not delta:
                    continue
                if not n:
                    stats["first_token_s"] = time.perf_counter() - stats["start"]
                n += 1
                stats["new_tokens"] = n  # text pieces; the server's own count replaces it when it reports one
                yield delta
                if n >= max_new_tokens and not self._openai and "max_tokens" not in kwargs:
                    break  # an LLM whose length we could not set: stop reading
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # ends the HTTP response: the server stops generating
        if usage is not None:
            tokens = getattr(usage, "completion_tokens", None) if not isinstance(usage, dict) else usage.get("completion_tokens")
            prompt = getattr(usage, "prompt_tokens", None) if not isinstance(usage, dict) else usage.get("prompt_tokens")
            if tokens:
                stats["new_tokens"] = tokens
            if prompt:
                stats["server_prompt_tokens"] = prompt

    def _failure(self, exc: BaseException) -> str:
        return describe_failure(exc, self.host, self.timeout, self.model_name)


def load_server_generator(settings: Settings, index: Any, llm: Any = None) -> ServerGenerator | str:
    """The generator for llm_backend=openai (or for `llm`, a llama-index LLM object), or a one-line reason."""
    from .errors import RagError

    meta = getattr(llm, "metadata", None)
    model_name = settings.llm_model if llm is None else \
        (getattr(meta, "model_name", None) or getattr(llm, "model", None) or type(llm).__name__)
    # The model's name doubles as its tokenizer's when it is a local folder or a cached hub name.
    tokenizer, config_context = _local_tokenizer(settings.llm_tokenizer or str(model_name or ""))
    if settings.llm_tokenizer and settings.llm_tokenizer != ESTIMATE and tokenizer is None:
        log.warning("llm_tokenizer %r is not at hand (or has no chat template): prompt tokens are estimated", settings.llm_tokenizer)
    try:
        if llm is None:
            context = settings.llm_context or config_context or DEFAULT_SERVER_CONTEXT
            client = server_llm(settings, context=context)
            return ServerGenerator(client, index, settings, settings.llm_model or "", host_of(settings.llm_base_url), tokenizer, context)
        context = settings.llm_context or config_context or getattr(meta, "context_window", None) or DEFAULT_SERVER_CONTEXT
        host = host_of(getattr(llm, "api_base", None) or getattr(llm, "base_url", None))
        return ServerGenerator(llm, index, settings, str(model_name), host, tokenizer, context)
    except RagError as exc:
        return f"could not use the model server ({exc}); {FALLBACK}"
    except ImportError as exc:
        return (f"the server backend needs llama-index-llms-openai-like ({one_line(exc, 120)}): "
                f"pip install llama-index-llms-openai-like; {FALLBACK}")


__all__ = ["DEFAULT_SERVER_CONTEXT", "ServerGenerator", "describe_failure", "host_of", "load_server_generator", "server_llm"]
