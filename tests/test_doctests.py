"""The worked examples in docstrings are run as tests."""
from __future__ import annotations

import doctest

import pytest

import rag.acronyms
import rag.chunking
import rag.conversation
import rag.answerability
import rag.corpus
import rag.framing
import rag.question_parts
import rag.shorthand
import rag.spelling
import rag.coverage
import rag.retrieve
import rag.server_backend


@pytest.mark.parametrize("module", [rag.acronyms, rag.answerability, rag.chunking, rag.conversation, rag.corpus, rag.coverage, rag.framing, rag.question_parts, rag.retrieve,
                                    rag.shorthand, rag.spelling, rag.server_backend])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
