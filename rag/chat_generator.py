"""What every LLM generator does around the model call, whichever backend runs the model.

A backend (rag.transformers_backend in process, rag.server_backend for an OpenAI-compatible server
or any llama-index LLM) only turns a fitted prompt into streamed text pieces. This module owns the
rest, so both backends answer the same way:

1. The evidence gate (`evidence_gate`): when the retrieval evidence (rag.extractive.evidence, the
   score and `abstain_threshold` the extractive generator uses) is weak, the answer is ABSTAIN_TEXT
   and the model is not called.
2. The prompt: rag.prompting fits the best-ranked passages into the context.
3. Streaming with checked citations: text pieces pass through rag.citations.CitationRewriter, so the
   streamed text is the final text (markers renumbered 1..m, markers naming no source removed and
   reported). An answer that starts with the abstain phrase becomes the structured no-answer.
4. Fallback: a model that fails before writing anything (a server down, slow past its timeout,
   answering with an error) gives the extractive answer, with the reason first among the warnings.

Per-question options (max_new_tokens, llm_temperature, abstain_threshold, answer_sentences) come
from the settings passed to `stream`, so they apply to that question only.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any, ContextManager, Generator, Iterator, Sequence

from .citations import CitationRewriter, finalize
from .coverage import Scorer
from .extractive import Draft, ExtractiveGenerator, candidates, evidence
from .prompting import PromptBuilder, PromptPlan
from .prompts import ABSTAIN_TEXT
from .settings import Settings
from .types import Hit

log = logging.getLogger(__name__)

FALLBACK = "answered with the extractive generator"


def one_line(text: Any, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"^\W+", "", text).lower().split())


_ABSTAIN_NORM = _norm(ABSTAIN_TEXT).rstrip(".")


class AbstainGate:
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


def evidence_gate(question: str, hits: Sequence[Hit], scorer: Scorer, threshold: float) -> tuple[bool, float]:
    """(call the model?, evidence): the extractive generator's evidence score against `abstain_threshold`.

    Kept in one place so a different answerability decision can replace it.
    """
    ranked = candidates(question, hits, scorer)
    ev = evidence(question, ranked, hits, scorer)
    return bool(ranked) and ev >= threshold, ev


class ChatGenerator:
    """An LLM generator: `stream(question, hits, settings)` yields text pieces, then a Draft.

    Subclasses implement `_pieces` (the model call) and may override `_failure` (a one-line reason
    for an exception) and `_slot` (a lock around the model call).
    """

    name = "llm"

    def __init__(self, index: Any, settings: Settings, builder: PromptBuilder, model_name: str, label: str | None = None):
        self.index = index
        self.scorer = Scorer(index)
        self.settings = settings  # defaults when a question brings no settings of its own
        self.builder = builder
        self.model_name = model_name
        self.label = label or model_name  # Answer.model
        self.warnings: list[str] = []  # said with every answer (e.g. no chat template)
        self.last_stats: dict[str, float] = {}

    # -- what a backend provides ----------------------------------------------------------------
    def _pieces(self, plan: PromptPlan, max_new_tokens: int, temperature: float, stats: dict[str, float]) -> Iterator[str]:
        """The model's text as it is generated; sets stats["first_token_s"] and stats["new_tokens"]."""
        raise NotImplementedError

    def _failure(self, exc: BaseException) -> str:
        return f"the language model {self.model_name!r} failed while answering ({type(exc).__name__}: {one_line(exc, 160)})"

    def _slot(self) -> ContextManager[Any]:
        return contextlib.nullcontext()

    # -- the generator interface ----------------------------------------------------------------
    def stream(self, question: str, hits: Sequence[Hit], settings: Settings | None = None) -> Iterator[str | Draft]:
        """Yields the answer as it is generated, then the Draft (citations checked, abstention structured)."""
        s = settings or self.settings
        warnings = list(self.warnings)
        ok, ev = evidence_gate(question, hits, self.scorer, s.abstain_threshold)
        if not ok:  # weak evidence: no model call
            yield from self._abstain(ev, warnings)
            return
        try:
            plan = self.builder.build(question, hits, max_new_tokens=s.max_new_tokens)
        except Exception as exc:  # e.g. a chat template that rejects our messages
            yield from self._fallback(question, hits, s, warnings, f"the prompt for {self.model_name!r} could not be built "
                                      f"({type(exc).__name__}: {one_line(exc, 160)})")
            return
        warnings += plan.warnings
        if not plan.sources:
            yield from self._abstain(ev, warnings)
            return
        max_new = min(s.max_new_tokens, self.builder.context - plan.prompt_tokens)
        rewriter = CitationRewriter(src.number for src in plan.sources)
        gate = AbstainGate()
        emitted: list[str] = []
        stats: dict[str, float] = {"start": time.perf_counter(), "prompt_tokens": plan.prompt_tokens, "new_tokens": 0}
        reason = yield from self._generate(plan, max_new, s.llm_temperature, rewriter, gate, emitted, stats)
        if reason and emitted:  # part of the answer is out already: keep it, say it is cut short
            warnings.append(reason + "; the answer is incomplete")
            gate.state = "answer"
        elif reason:
            yield from self._fallback(question, hits, s, warnings, reason)
            return
        self._record(stats)
        if gate.state == "abstain":
            yield from self._abstain(ev, warnings)
            return
        tail = rewriter.feed(gate.finish()) + rewriter.finish()
        if tail:
            emitted.append(tail)
            yield tail
        text = "".join(emitted)
        if not text.strip():
            warnings.append(f"the language model {self.model_name!r} wrote no answer")
            yield from self._abstain(ev, warnings)
            return
        checked = finalize(text, plan.sources, rewriter.mapping, rewriter.invalid, self.scorer)
        warnings += checked.warnings
        if not checked.citations:
            warnings.append("the answer cites none of the sources: check it against the retrieved papers")
        yield Draft(text, checked.citations, False, ev, warnings, uncited=checked.uncited, weak=checked.weak, model=self.label)

    def _generate(self, plan: PromptPlan, max_new: int, temperature: float, rewriter: CitationRewriter, gate: AbstainGate,
                  emitted: list[str], stats: dict[str, float]) -> Generator[str, None, str | None]:
        """Streams the model's checked text (appended to `emitted`); returns a failure reason, or None."""
        try:
            with self._slot():
                stats["start"] = time.perf_counter()
                pieces = self._pieces(plan, max_new, temperature, stats)
                try:
                    for raw in pieces:
                        shown = rewriter.feed(gate.feed(raw))
                        if gate.state == "abstain":
                            break  # the model said the sources do not answer: stop it now
                        if shown:
                            emitted.append(shown)
                            yield shown
                finally:
                    close = getattr(pieces, "close", None)
                    if close:
                        close()  # stops generation early (abstention, or the caller stopped reading)
        except Exception as exc:  # the model or server failed: the caller labels the answer with why
            return self._failure(exc)
        return None

    def _abstain(self, ev: float, warnings: list[str]) -> Iterator[str | Draft]:
        yield ABSTAIN_TEXT
        yield Draft(ABSTAIN_TEXT, [], True, ev, warnings, model=self.label)

    def _fallback(self, question: str, hits: Sequence[Hit], s: Settings, warnings: list[str], reason: str) -> Iterator[str | Draft]:
        """The extractive generator's answer, marked as such, with the reason first among the warnings."""
        log.info(reason)  # the caller shows it (Answer.warnings): logging it as a warning too would say it twice
        fallback = ExtractiveGenerator(self.index, s.answer_sentences, s.abstain_threshold)
        for piece in fallback.stream(question, hits):
            if isinstance(piece, Draft):
                piece.warnings[:0] = warnings + [f"{reason}; {FALLBACK}"]
                piece.generator = fallback.name
            yield piece

    def _record(self, stats: dict[str, float]) -> None:
        elapsed = time.perf_counter() - stats.pop("start")
        n = stats.get("new_tokens", 0)
        first = stats.get("first_token_s", elapsed)
        stats["generate_s"] = elapsed
        stats["tokens_per_s"] = (n - 1) / (elapsed - first) if n > 1 and elapsed > first else 0.0
        self.last_stats = stats


__all__ = ["AbstainGate", "ChatGenerator", "FALLBACK", "evidence_gate", "one_line"]
