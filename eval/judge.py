"""Optional LLM judge: a model grades each answer 1-5 for correctness and groundedness.

Off unless `judge_model` is set (config file or `rag eval --judge-model`). It runs on the backend the
settings name (`rag.completion.complete`): in process with local files only (a folder or a model
already in the Hugging Face cache; nothing is downloaded), or, with llm_backend=openai, on the
OpenAI-compatible server of llm_base_url (judge_model is then the server's model name). A server
that is down or fails turns the judge off for the run, with the reason in `Judge.error`. The prompt is
prompts/judge.txt. A reply that does not hold both grades as "correctness: N" / "groundedness: N"
(N in 1..5) is counted as unparseable, never guessed; the report gives the unparseable share next
to the mean grades, so a weak judge is visible as such.
"""
from __future__ import annotations

import re
from typing import Any

from rag import Settings
from rag.errors import ModelLoadError
from rag.prompts import load_prompt

SLOTS = frozenset({"question", "reference", "answer", "passages"})
_GRADE = {k: re.compile(rf"\b{k}\s*[:=]\s*\**\s*([1-5])\b", re.I) for k in ("correctness", "groundedness")}
# Shorter and shorter cited passages are tried until the prompt fits the judge's context.
PASSAGE_CHARS = (600, 200, 0)


def parse_judgment(reply: str) -> dict[str, int] | None:
    """{"correctness": n, "groundedness": n} from the judge's reply, or None when either is missing.

    >>> parse_judgment("correctness: 4\\ngroundedness: 5")
    {'correctness': 4, 'groundedness': 5}
    >>> parse_judgment("samples an samples 7") is None
    True
    """
    found = {k: pattern.search(reply or "") for k, pattern in _GRADE.items()}
    if not all(found.values()):
        return None
    return {k: int(m.group(1)) for k, m in found.items() if m}


class Judge:
    """Grades answers with `rag.completion.complete`; `grade` never raises for a bad reply."""

    def __init__(self, model: str, settings: Settings):
        self.model = model
        self.settings = settings
        self.prompt = load_prompt("judge", SLOTS)
        self.error: str | None = None

    def grade(self, question: str, reference: str, answer: str, passages: list[str]) -> dict[str, Any]:
        """{"correctness", "groundedness"} (ints or None), "judge_raw" (the reply) and "judge_ok"."""
        from rag.completion import complete

        if self.error:  # the model failed to load once: do not retry per question
            return {"correctness": None, "groundedness": None, "judge_raw": None, "judge_ok": False}
        reply = None
        for limit in PASSAGE_CHARS:
            cited = "\n".join(f"- {p[:limit]}" for p in passages) if limit and passages else "(none)"
            text = self.prompt.format(question=question, reference=reference or "The collection does not answer this.",
                                      answer=answer, passages=cited)
            try:
                reply = complete(self.settings, [{"role": "user", "content": text}], model=self.model, max_new_tokens=24)
                break
            except ValueError:  # too long for the judge's context: shorter passages
                continue
            except ModelLoadError as exc:
                self.error = str(exc)
                break
        grades = parse_judgment(reply or "")
        return {"correctness": grades and grades["correctness"], "groundedness": grades and grades["groundedness"],
                "judge_raw": reply, "judge_ok": grades is not None}


__all__ = ["Judge", "parse_judgment"]
