"""Prompt files in prompts/: loaded once, with their {slots} checked against what the code fills.

The abstain phrase lives in prompts/abstain.txt and is the one constant shared by the generators,
the citation parser and the tests.
"""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from .errors import SettingsError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=None)
def load_prompt(name: str, slots: frozenset[str] = frozenset()) -> str:
    """Text of prompts/<name>.txt; its {slots} must be exactly `slots`."""
    path = PROMPTS_DIR / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"prompt file {path} is missing or unreadable ({exc.strerror}); restore it from the repository") from None
    found = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    if found != set(slots):
        raise SettingsError(f"prompt {path} has slots {sorted(found)}, the code fills {sorted(slots)}")
    return text


ABSTAIN_TEXT = load_prompt("abstain").strip()
