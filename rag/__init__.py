"""rag: a local, citation-first research assistant over ML paper abstracts.

    from rag import ask, search, Assistant, Answer, Citation, Settings

    answer = ask("What attack success rate do the NTK-designed poisons reach?")
    print(answer.text)             # "... an attack success rate of 90% ... [1]"
    for c in answer.citations:     # number, paper_id, title, passage, span
        print(c.number, c.title)

Names are imported lazily, so `import rag` (and `rag --help`) loads no model and no heavy library.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ask": "assistant", "search": "assistant", "Assistant": "assistant",
    "Answer": "types", "Citation": "types", "Hit": "types", "Passage": "types", "Paper": "types",
    "Settings": "settings", "load_settings": "settings", "Filters": "retrieve",
    "RagError": "errors", "QuestionError": "errors", "CorpusError": "errors", "IndexMissingError": "errors",
    "IndexMismatchError": "errors", "IndexCorruptError": "errors", "ModelLoadError": "errors", "SettingsError": "errors", "StoreUnavailableError": "errors",
    "ABSTAIN_TEXT": "prompts",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .assistant import Assistant, ask, search
    from .errors import (CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError, ModelLoadError,
                         QuestionError, RagError, SettingsError, StoreUnavailableError)
    from .prompts import ABSTAIN_TEXT
    from .retrieve import Filters
    from .settings import Settings, load_settings
    from .types import Answer, Citation, Hit, Paper, Passage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
