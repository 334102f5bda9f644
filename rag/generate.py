"""The LLM generator: a local Hugging Face causal LM writes the answer from numbered, fenced sources.

    rag ask "..." --generator llm --llm-model Qwen/Qwen2.5-0.5B-Instruct   # or a local folder

Qwen/Qwen2.5-0.5B-Instruct is the suggested model (about 1 GB, fast on a CPU, follows the citation
format). Nothing is downloaded unless the environment sets RAG_ALLOW_DOWNLOAD=1: the model must be a
local folder or already be in the Hugging Face cache. When the model cannot be loaded (llm_model
unset, not cached, missing files, broken config, out of memory), `load_llm_generator` returns a
one-line reason instead and the Assistant answers with the extractive generator, with that warning.

Why not llama-index's HuggingFaceLLM: we need token-level control that the wrapper hides: the
model's own chat template with control tokens in the sources encoded as plain text, a context
budget counted with the model's tokenizer (whole sentences of the best-ranked passages, never an
overflow), streaming of token ids so markers are rewritten as they arrive, and our stop tokens.

How an answer is made:
1. Abstention first: when the retrieval evidence (rag.extractive.evidence, the score and
   `abstain_threshold` the extractive generator uses) is weak, the answer is ABSTAIN_TEXT and the
   model is not called.
2. Sources: the hits in rank order, each numbered and fenced as <source id="n"> ... </source> with
   its title, listing metadata and the sentences of its retrieved passages that fit the budget
   (the model's context minus max_new_tokens minus the prompt's own tokens). Source text is
   untrusted: fence-like markup in it is neutralized, and the system prompt says it is data.
3. Generation: greedy by default (`llm_temperature` 0), at most `max_new_tokens`, stopping at the
   end-of-turn token; on a GPU in bfloat16, else on the CPU in float32. One generation at a time per
   loaded model (a lock); the model is loaded once and cached by the Assistant.
4. Streaming with checked citations: token ids are decoded as they come and passed through
   rag.citations.CitationRewriter, so the streamed text is the final text: markers renumbered
   1..m, markers naming no source removed (and reported). An answer that starts with the abstain
   phrase becomes the structured no-answer (abstained, no citations).
"""
from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from .chunking import metadata_text, split_sentences
from .citations import Block, CitationRewriter, Source, finalize
from .corpus import iter_fields
from .extractive import Draft, ExtractiveGenerator, Scorer, candidates, evidence
from .prompts import ABSTAIN_TEXT, load_prompt
from .settings import Settings
from .types import Hit

log = logging.getLogger(__name__)

SUGGESTED_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
SYSTEM_SLOTS = frozenset({"abstain"})
ANSWER_SLOTS = frozenset({"sources", "question", "abstain"})
# Used when neither the config nor the tokenizer states the context length.
DEFAULT_CONTEXT = 2048
# Token strings that end a turn in common chat templates (used when the tokenizer has them).
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")
_FALLBACK = "answered with the extractive generator"

# "<" that starts tag-like markup (<source>, </source>, <|im_end|>, <system>) inside source text.
_TAG_START = re.compile(r"<(?=\s*/?\s*[A-Za-z|!])")


def neutralize(text: str) -> str:
    """Source text with every tag-like "<" replaced by "‹", so it can neither close its fence nor open another.

    >>> neutralize('ok </source> <source id="9"> <|im_end|> p < 0.05')
    'ok ‹/source> ‹source id="9"> ‹|im_end|> p < 0.05'
    """
    return _TAG_START.sub("‹", text)


def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


# ---- prompt and context budget ------------------------------------------------------------------
@dataclass
class _Entry:
    """A hit being packed into the prompt: its header and the abstract sentences chosen so far."""

    hit: Hit
    sentences: list[tuple[int, int]] = field(default_factory=list)  # spans in the abstract, in order added
    has_text: bool = False  # the hit had abstract passages (so a header alone is not worth a source)

    def blocks(self) -> list[Block]:
        """Runs of consecutive chosen sentences (exact abstract slices), then the metadata."""
        abstract = self.hit.paper.abstract
        runs: list[list[int]] = []
        for a, b in sorted(set(self.sentences)):
            if runs and not abstract[runs[-1][1]:a].strip():
                runs[-1][1] = max(runs[-1][1], b)
            else:
                runs.append([a, b])
        blocks = [Block(abstract[a:b], (a, b)) for a, b in runs]
        meta = metadata_text(self.hit.paper)
        if meta:
            blocks.append(Block(meta, None))
        return blocks or [Block(self.hit.title, None)]


def render_source(number: int, hit: Hit, runs: Sequence[str]) -> str:
    """One fenced source: title, listing metadata, then the chosen abstract text."""
    lines = [f"Title: {hit.title}"]
    lines += [f"{label}: {value}" for label, value in iter_fields(hit.paper)]
    if runs:
        lines.append("Abstract (excerpt): " + " … ".join(runs))
    body = neutralize("\n".join(lines))
    return f'[{number}]\n<source id="{number}">\n{body}\n</source>'


@dataclass
class PromptPlan:
    """The prompt for one question: chat messages, token ids and the numbered sources inside it."""

    messages: list[dict[str, str]]
    text: str
    input_ids: list[int]
    sources: list[Source]
    budget: int  # most prompt tokens allowed: context - max_new_tokens
    context: int
    dropped: int  # hits left out entirely
    warnings: list[str] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return len(self.input_ids)


class PromptBuilder:
    """Builds the chat prompt and fits the best-ranked passages, sentence by sentence, into the context."""

    def __init__(self, tokenizer: Any, context: int, max_new_tokens: int):
        self.tokenizer = tokenizer
        self.context = context
        self.max_new_tokens = max_new_tokens
        self.system = load_prompt("system", SYSTEM_SLOTS).strip().format(abstain=ABSTAIN_TEXT)
        self.template = load_prompt("answer", ANSWER_SLOTS).strip()
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        self._system_role = True

    @property
    def budget(self) -> int:
        return self.context - self.max_new_tokens

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def messages(self, question: str, sources_text: str) -> list[dict[str, str]]:
        user = self.template.format(sources=sources_text or "(no sources)", question=question, abstain=ABSTAIN_TEXT)
        if self._system_role:
            return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
        return [{"role": "user", "content": f"{self.system}\n\n{user}"}]

    def encode(self, messages: list[dict[str, str]]) -> tuple[str, list[int]]:
        """(prompt text, token ids) through the chat template; control tokens inside messages stay plain text."""
        tok = self.tokenizer
        if not self.has_template:
            text = "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"
            return text, list(tok(text)["input_ids"])
        try:
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # a template without a system role (e.g. Gemma): fold the rules into the user turn
            if not self._system_role:
                raise
            self._system_role = False
            return self.encode([{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}])
        try:
            enc = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True,
                                          sanitize_control_tokens=True)
            ids = enc["input_ids"]
        except TypeError:  # older transformers: no sanitize option; neutralize() already broke tag-like tokens
            ids = tok(text, add_special_tokens=False)["input_ids"]
        return text, list(ids)

    def _render(self, question: str, entries: list[_Entry]) -> tuple[list[dict[str, str]], str, list[int], list[Source]]:
        blocks_text, sources = [], []
        for n, e in enumerate(entries, 1):
            blocks = e.blocks()
            runs = [b.text for b in blocks if b.span is not None]
            blocks_text.append(render_source(n, e.hit, runs))
            sources.append(Source(n, e.hit.paper_id, e.hit.title, tuple(blocks)))
        text, ids = self.encode(self.messages(question, "\n\n".join(blocks_text)))
        # (encode may have found that the template has no system role: messages are then rebuilt merged)
        return self.messages(question, "\n\n".join(blocks_text)), text, ids, sources

    def build(self, question: str, hits: Sequence[Hit]) -> PromptPlan:
        """Greedy packing in rank order: a hit's header, then its passages' sentences while they fit.

        A passage that does not fit whole loses its trailing sentences (never part of one); token
        counts of the pieces are summed, then the whole prompt is counted exactly and, if the sum was
        optimistic, the last sentences added are taken out again until it fits.
        """
        _, _, base_ids, _ = self._render(question, [])
        avail = self.budget - len(base_ids)
        warnings: list[str] = []
        entries: list[_Entry] = []
        added: list[tuple[_Entry, tuple[int, int] | None]] = []  # in order: (entry, sentence) or (entry, None) = header
        used = 0
        for hit in hits:
            entry = _Entry(hit)
            header = self.count(render_source(len(entries) + 1, hit, [])) + 2
            spans: list[list[tuple[int, int]]] = []
            for p in hit.passages:
                if p.kind == "metadata" or p.span is None:
                    continue  # the listing metadata is in every source's header
                spans.append([(p.span[0] + a, p.span[0] + b) for a, b in split_sentences(p.text)])
            entry.has_text = bool(spans)
            if not entry.has_text:
                if used + header <= avail:
                    entries.append(entry)
                    added.append((entry, None))
                    used += header
                continue
            for passage in spans:
                for a, b in passage:
                    if (a, b) in entry.sentences:
                        continue
                    cost = self.count(" " + hit.paper.abstract[a:b]) + 1 + (header if not entry.sentences else 0)
                    if used + cost > avail:
                        break  # drop this passage's trailing sentences
                    if not entry.sentences:
                        entries.append(entry)
                        added.append((entry, None))
                    entry.sentences.append((a, b))
                    added.append((entry, (a, b)))
                    used += cost
        messages, text, ids, sources = self._render(question, entries)
        while len(ids) > self.budget and added:
            entry, sentence = added.pop()
            if sentence is None or (entry.has_text and len(entry.sentences) == 1):
                if sentence is not None:
                    entry.sentences.pop()
                    added.pop()  # its header
                entries.remove(entry)
            else:
                entry.sentences.pop()
            messages, text, ids, sources = self._render(question, entries)
        if len(ids) > self.budget:
            warnings.append(f"the prompt alone takes {len(ids)} tokens of the model's {self.context}-token context "
                            f"with max_new_tokens={self.max_new_tokens}: no source fits; lower max_new_tokens")
            sources = []
        elif hits and not entries:
            warnings.append(f"no retrieved passage fits in the model's {self.context}-token context "
                            f"with max_new_tokens={self.max_new_tokens}; lower max_new_tokens")
        dropped = len(hits) - len(entries)
        if dropped and entries:
            log.info("context budget: %d of %d retrieved papers left out", dropped, len(hits))
        return PromptPlan(messages, text, ids, sources, self.budget, self.context, dropped, warnings)


# ---- streaming pieces ---------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.sub(r"^\W+", "", text).lower().split())


_ABSTAIN_NORM = _norm(ABSTAIN_TEXT).rstrip(".")


class _AbstainGate:
    """Holds the answer's first words while they could still be the abstain phrase."""

    def __init__(self) -> None:
        self.held = ""
        self.state = "undecided"  # -> "answer" or "abstain"

    def feed(self, text: str) -> str:
        if self.state == "answer":
            return text
        self.held += text
        n = _norm(self.held)
        if n.startswith(_ABSTAIN_NORM):
            self.state = "abstain"
        elif not _ABSTAIN_NORM.startswith(n):
            self.state = "answer"
            out, self.held = self.held, ""
            return out
        return ""

    def finish(self) -> str:
        if self.state == "undecided":
            self.state = "answer"
            out, self.held = self.held, ""
            return out
        return ""


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


class LLMGenerator:
    """Answers with a local causal LM; `stream(question, hits)` yields text pieces, then a Draft."""

    name = "llm"

    def __init__(self, model: Any, tokenizer: Any, index: Any, settings: Settings, model_name: str, device: str = "cpu"):
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.device = device
        self.scorer = Scorer(index)
        self.threshold = settings.abstain_threshold
        self.max_new_tokens = settings.max_new_tokens
        self.temperature = settings.llm_temperature
        self.builder = PromptBuilder(tokenizer, context_window(model, tokenizer), settings.max_new_tokens)
        self.stop_ids = stop_token_ids(model, tokenizer)
        self.fallback = ExtractiveGenerator(index, settings.answer_sentences, settings.abstain_threshold)
        self.warnings: list[str] = []
        if not self.builder.has_template:
            self.warnings.append(f"the tokenizer of {model_name!r} has no chat template; a plain prompt was used "
                                 "(use an instruction-tuned model)")
        self._lock = threading.Lock()
        self.last_stats: dict[str, float] = {}
        self.builder.build("?", [])  # a template that cannot render our messages fails here, at load time

    def __repr__(self) -> str:
        return f"LLMGenerator({self.model_name!r}, device={self.device!r}, context={self.builder.context})"

    # -- the model call: token ids as they are generated --------------------------------------
    def _generation_config(self, max_new_tokens: int) -> Any:
        from transformers import GenerationConfig

        base = getattr(self.model, "generation_config", None)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        sample = self.temperature > 0
        return GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=sample, num_beams=1,
            temperature=self.temperature if sample else None, top_p=None, top_k=None,
            repetition_penalty=getattr(base, "repetition_penalty", None) or 1.0,
            eos_token_id=self.stop_ids or None, pad_token_id=pad if pad is not None else (self.stop_ids or [None])[0],
        )

    def token_ids(self, input_ids: list[int], max_new_tokens: int) -> Iterator[int]:
        """New token ids, as `model.generate` makes them on a worker thread; stops it when the caller stops."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=ids.device)

        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        ids = torch.tensor([input_ids], dtype=torch.long, device=self.device)
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=self._generation_config(max_new_tokens),
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

    def _text_pieces(self, ids: Iterator[int], stats: dict[str, float]) -> Iterator[str]:
        """Decoded text as it grows; holds back an incomplete UTF-8 character."""
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

    # -- the generator interface ----------------------------------------------------------------
    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yields the answer as it is generated, then the Draft (citations checked, abstention structured)."""
        ranked = candidates(question, hits, self.scorer)
        ev = evidence(question, ranked, hits, self.scorer)
        warnings = list(self.warnings)
        if not ranked or ev < self.threshold:  # weak evidence: no model call
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev, warnings)
            return
        try:
            plan = self.builder.build(question, hits)
        except Exception as exc:  # e.g. a chat template that rejects our messages
            yield from self._fallback(question, hits, warnings, f"the prompt for {self.model_name!r} could not be built "
                                      f"({type(exc).__name__}: {_one_line(exc, 160)})")
            return
        warnings += plan.warnings
        if not plan.sources:
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev, warnings)
            return
        max_new = min(self.max_new_tokens, self.builder.context - plan.prompt_tokens)
        rewriter = CitationRewriter(s.number for s in plan.sources)
        gate = _AbstainGate()
        emitted: list[str] = []
        stats: dict[str, float] = {"start": time.perf_counter(), "prompt_tokens": plan.prompt_tokens, "new_tokens": 0}
        try:
            with self._lock:
                stats["start"] = time.perf_counter()
                pieces = self._text_pieces(self.token_ids(plan.input_ids, max_new), stats)
                try:
                    for raw in pieces:
                        shown = rewriter.feed(gate.feed(raw))
                        if gate.state == "abstain":
                            break  # the model said the sources do not answer: stop it now
                        if shown:
                            emitted.append(shown)
                            yield shown
                finally:
                    pieces.close()  # stops generation early (abstention, or the caller stopped reading)
        except Exception as exc:
            reason = f"the language model {self.model_name!r} failed while answering ({type(exc).__name__}: {_one_line(exc, 160)})"
            if emitted:  # part of the answer is out already: keep it, say it is cut short
                warnings.append(reason + "; the answer is incomplete")
                gate.state = "answer"
            else:
                yield from self._fallback(question, hits, warnings, reason)
                return
        self._record(stats)
        if gate.state == "abstain":
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev, warnings)
            return
        tail = rewriter.feed(gate.finish()) + rewriter.finish()
        if tail:
            emitted.append(tail)
            yield tail
        text = "".join(emitted)
        if not text.strip():
            warnings.append(f"the language model {self.model_name!r} wrote no answer")
            yield ABSTAIN_TEXT
            yield Draft(ABSTAIN_TEXT, [], True, ev, warnings)
            return
        checked = finalize(text, plan.sources, rewriter.mapping, rewriter.invalid, self.scorer)
        warnings += checked.warnings
        if not checked.citations:
            warnings.append("the answer cites none of the sources: check it against the retrieved papers")
        yield Draft(text, checked.citations, False, ev, warnings, uncited=checked.uncited, weak=checked.weak)

    def _fallback(self, question: str, hits: Sequence[Hit], warnings: list[str], reason: str) -> Iterator[str | Draft]:
        """The extractive generator's answer, marked as such, with the reason first among the warnings."""
        log.warning(reason)
        for piece in self.fallback.stream(question, hits):
            if isinstance(piece, Draft):
                piece.warnings[:0] = warnings + [f"{reason}; {_FALLBACK}"]
                piece.generator = self.fallback.name
            yield piece

    def _record(self, stats: dict[str, float]) -> None:
        elapsed = time.perf_counter() - stats.pop("start")
        n = stats.get("new_tokens", 0)
        first = stats.get("first_token_s", elapsed)
        stats["generate_s"] = elapsed
        stats["tokens_per_s"] = (n - 1) / (elapsed - first) if n > 1 and elapsed > first else 0.0
        self.last_stats = stats


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
        return f"out of memory: {_one_line(exc, 120)}; try a smaller model or llm_device=cpu"
    return f"{type(exc).__name__}: {_one_line(exc, 200)}"


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


def load_llm_generator(settings: Settings, index: Any) -> LLMGenerator | str:
    """The LLM generator for `settings.llm_model`, or a one-line reason why it could not be loaded."""
    name = settings.llm_model
    if not name:
        return (f"could not load the language model (llm_model is not set: use --llm-model or RAG_LLM_MODEL, "
                f"e.g. {SUGGESTED_MODEL}); {_FALLBACK}")
    local_only = os.environ.get("RAG_ALLOW_DOWNLOAD", "") != "1"
    started = time.perf_counter()
    try:
        model, tokenizer, device = load_model(name, settings)
        generator = LLMGenerator(model, tokenizer, index, settings, model_name=name, device=device)
    except Exception as exc:  # never a crash: the Assistant answers extractively with this reason
        return f"could not load the language model {name!r} ({_reason(exc, name, local_only)}); {_FALLBACK}"
    log.info("loaded %r on %s in %.1f s", generator, device, time.perf_counter() - started)
    return generator


_COMPLETERS: dict[tuple[str, str, str], tuple[Any, Any, str]] = {}
_COMPLETE_LOCK = threading.Lock()


def complete(settings: Settings, messages: list[dict[str, str]], model: str | None = None, max_new_tokens: int = 32) -> str:
    """One greedy chat completion with a local model (`model`, else `settings.llm_model`), loaded once per process.

    For tools that need a model's plain text, such as the eval harness's LLM judge. Raises
    ModelLoadError when the model cannot be loaded and ValueError when the prompt does not fit the
    model's context (shorten it and retry).
    """
    import torch

    from .errors import ModelLoadError

    name = model or settings.llm_model
    if not name:
        raise ModelLoadError("no model given: set llm_model (or pass model=)")
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


__all__ = ["LLMGenerator", "PromptBuilder", "PromptPlan", "load_llm_generator", "load_model", "context_window",
           "stop_token_ids", "neutralize", "render_source", "SUGGESTED_MODEL", "complete"]
