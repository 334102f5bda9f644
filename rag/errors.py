"""Errors a user can act on.

Every message says what went wrong and what to do next. The CLI and the UI catch `RagError` and show
its message on one line; any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations


class RagError(Exception):
    """Root of every error this library raises on purpose."""


class SettingsError(RagError):
    """A setting has an invalid value or an unknown name."""


class CorpusError(RagError):
    """A corpus file is missing, unreadable or holds no usable paper."""


class QuestionError(RagError):
    """The question is empty or too long."""


class IndexMissingError(RagError):
    """No index exists yet for this corpus and embedding model."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings (e.g. another embedding model)."""


class IndexCorruptError(RagError):
    """The index directory is damaged or incomplete."""


class ModelLoadError(RagError):
    """A model (embedder or generator) could not be loaded."""


class StoreUnavailableError(RagError):
    """The Chroma server cannot be reached, refuses the token, or lacks the index's collection."""
