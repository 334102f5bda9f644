"""BM25's side of the index: the tokenizer shared by chunks and queries, and a compact token store.

Chunks and queries go through one tokenizer (bm25s: lowercase, English stopwords, Snowball stemmer),
so a query term matches exactly what was indexed. `TokenIds` collects the chunks' tokens as the
build streams and hands them to bm25s once, at the end.
"""
from __future__ import annotations

import re
from array import array
from typing import Any, Iterator


# bm25s.tokenize(texts, stopwords="en", stemmer=Snowball English, return_ids=False), token for token
# (tests/test_retrieval.py checks it against bm25s on the whole corpus). Why not call bm25s.tokenize:
# it builds three tqdm bars per call even when hidden (~0.25 ms), and the router and the
# answerability signals tokenize a question word by word, ~30 calls a question (8 ms of a 30 ms ask).
_SPLIT = re.compile(r"(?u)\b\w\w+\b").findall  # bm25s's default token_pattern (scikit-learn's)
_STEMS: dict[str, str] = {}  # word -> Snowball stem, for the words seen so far
_STEMS_MAX = 200_000  # once this many words are kept, stem new ones without keeping them (a 100k-abstract build has more)
_STOPWORDS: frozenset[str] = frozenset()


def _bm25_tokenize(texts: list[str]) -> list[list[str]]:
    global _STOPWORDS
    if not _STOPWORDS:
        from bm25s.stopwords import STOPWORDS_EN

        _STOPWORDS = frozenset(STOPWORDS_EN)
    stop, stems = _STOPWORDS, _STEMS
    split = [[t for t in _SPLIT(text.lower()) if t not in stop] for text in texts]
    new = list({t for tokens in split for t in tokens if t not in stems})
    got = dict(zip(new, _stemmer().stemWords(new))) if new else {}
    if len(stems) < _STEMS_MAX:
        stems.update(got)
    return [[got[t] if t in got else stems[t] for t in tokens] for tokens in split]


_STEMMER = None


def _stemmer():
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def bm25_query_tokens(text: str) -> list[str]:
    """The query's BM25 terms, tokenized exactly like the indexed chunks."""
    return _bm25_tokenize([text])[0]


class TokenIds(list):
    """Every chunk's BM25 token ids as one flat int32 array plus offsets, read by bm25s as a list.

    Why: bm25s wants a list of per-document id lists; 100k abstracts are ~20M tokens, which as
    Python int lists take ~1 GB. This list subclass holds 4 bytes a token and hands bm25s one
    short-lived Python list per document as it iterates (bm25s only calls len() and iterates).
    """

    def __init__(self) -> None:
        super().__init__()
        self.flat = array("i")
        self.offsets = array("q", [0])
        self.vocab: dict[str, int] = {}

    def add(self, texts: list[str]) -> None:
        vocab, flat = self.vocab, self.flat
        for tokens in _bm25_tokenize(texts):
            flat.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
            self.offsets.append(len(flat))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[list[int]]:
        flat, off = self.flat, self.offsets
        for i in range(len(off) - 1):
            yield flat[off[i]:off[i + 1]].tolist()

    def __bool__(self) -> bool:
        return len(self) > 0

    def build(self) -> Any:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index((self, dict(self.vocab)), show_progress=False)
        return retriever
