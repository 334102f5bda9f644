"""Citation checking: parse [n] markers, map them to the numbered sources, renumber, score support.

Used by the LLM generator on the model's text (while it streams, so the streamed pieces and the
final answer are the same text) and by the extractive generator on its own output (to fill
`Citation.support`).

Markers understood: [1], [1, 3], [1; 3], [1-3], [1–3], [ 2 ], and adjacent [1][2]. Every marker in
the rewritten text is a single number `[n]` (a group becomes adjacent markers, e.g. "[1, 3]" ->
"[1][2]"), the cited sources are renumbered 1..m in order of first appearance, and a number that
points at no source is dropped (the whole marker when nothing valid is left, with the space before
it) and reported in the warnings.

Support: the share of a sentence's content terms (stemmed, stopwords removed, each weighted by its
idf: rag.coverage.Scorer, the same terms and weights the extractive generator and BM25 use) that
occur in the cited passage or the paper's title. It is lexical, so it is cheap (no model), exact
for quotes (1.0) and explainable; it cannot see paraphrase with other words, so a low score means
"check this sentence", not "this sentence is wrong". A sentence whose cited passages together cover
less than WEAK_SUPPORT of its weight is listed as weak; a sentence with content terms and no marker
is listed as uncited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Sequence

from .chunking import split_sentences
from .types import Citation

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import Scorer

# A sentence whose cited passages cover less than this share of its idf-weighted terms is "weak".
# Chosen by hand: a faithful paraphrase keeps the rare terms (names, numbers, method words) that
# carry most of the idf weight, which puts it well above 0.4; an unrelated source sits near 0.
WEAK_SUPPORT = 0.4
# Longest range expanded from "[a-b]" (a model writing [1-1000] must not cost anything).
MAX_RANGE = 100

_NUM = r"\d{1,4}(?:\s*[-–]\s*\d{1,4})?"
MARKER = re.compile(r"\[\s*" + _NUM + r"(?:\s*[,;]\s*" + _NUM + r")*\s*\]")
# What the start of a marker can look like while the rest has not been generated yet.
_PARTIAL = re.compile(r"\[[\d\s,;\-–]{0,40}")
_NUMBERED = re.compile(r"\[(\d+)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*" + MARKER.pattern + r")+")


@dataclass(frozen=True)
class Block:
    """One citable passage of a source: a run of abstract sentences (with its span) or metadata (span None)."""

    text: str
    span: tuple[int, int] | None


@dataclass(frozen=True)
class Source:
    """A numbered source as the generator showed it: a paper and the passages it was given."""

    number: int
    paper_id: str
    title: str
    blocks: tuple[Block, ...]


def parse_marker(marker: str) -> list[int]:
    """The numbers a marker names, in order, ranges expanded (capped), duplicates kept.

    >>> parse_marker("[1, 3]"), parse_marker("[2-4]"), parse_marker("[ 5 ]")
    ([1, 3], [2, 3, 4], [5])
    """
    numbers: list[int] = []
    for part in re.split(r"[,;]", marker.strip()[1:-1]):
        bounds = [int(x) for x in re.split(r"[-–]", part) if x.strip()]
        if len(bounds) == 2 and bounds[0] <= bounds[1]:
            numbers.extend(range(bounds[0], min(bounds[1], bounds[0] + MAX_RANGE - 1) + 1))
        else:
            numbers.extend(bounds)  # a reversed range "[3-1]" names its two ends
    return numbers


class CitationRewriter:
    """Rewrites markers in text that arrives in pieces; `feed` returns what is safe to show now.

    Text is held back only while it could still change: the start of a marker not yet closed, and
    trailing whitespace (a dropped marker takes the space before it, unless a word follows). Leading
    and trailing whitespace of the answer are dropped. Feeding everything then calling `finish()`
    gives the same text as `rewrite_citations` on the whole.
    """

    def __init__(self, valid: Iterable[int]):
        self.valid = set(valid)
        self.mapping: dict[int, int] = {}  # source number -> number in the answer
        self.invalid: list[int] = []
        self._buf = ""
        self._started = False
        self._last: set[int] | None = None  # numbers of the marker just written, while nothing followed it
        self._pending_ws: str | None = None  # the space before a dropped marker, kept only if a word follows

    def feed(self, text: str) -> str:
        self._buf += text
        return self._drain(final=False)

    def finish(self) -> str:
        return self._drain(final=True)

    def _rewrite(self, marker: str, adjacent: bool) -> list[int]:
        out: list[int] = []
        for n in parse_marker(marker):
            if n not in self.valid:
                if n not in self.invalid:
                    self.invalid.append(n)
                continue
            new = self.mapping.setdefault(n, len(self.mapping) + 1)
            if new not in out and not (adjacent and self._last and new in self._last):
                out.append(new)
        return sorted(out)

    def _text(self, out: list[str], text: str) -> None:
        if not text:
            return
        if self._pending_ws is not None:
            if not (text[0].isspace() or text[0] in ".,;:!?)"):
                out.append(self._pending_ws)
            self._pending_ws = None
        out.append(text)
        self._last = None

    def _drain(self, final: bool) -> str:
        buf, out, pos, hold = self._buf, [], 0, None
        while True:
            i = buf.find("[", pos)
            if i < 0:
                break
            m = MARKER.match(buf, i)
            ws = i
            while ws > pos and buf[ws - 1].isspace():
                ws -= 1
            if m is None:
                if not final and _PARTIAL.fullmatch(buf, i):
                    hold = ws  # may still become a marker: wait for more text
                    break
                self._text(out, buf[pos:i + 1])
                pos = i + 1
                continue
            adjacent = i == pos and self._last is not None
            numbers = self._rewrite(m.group(0), adjacent)
            if numbers:
                self._text(out, buf[pos:i])
                self._text(out, "".join(f"[{n}]" for n in numbers))
                self._last = set(numbers)
            else:  # nothing valid left: drop the marker and the space before it
                self._text(out, buf[pos:ws])
                if ws < i and self._pending_ws is None:
                    self._pending_ws = buf[ws:i]
            pos = m.end()
        if hold is None:
            rest = buf[pos:]
            hold = len(buf) if final else pos + len(rest.rstrip())
            self._text(out, buf[pos:hold].rstrip() if final else buf[pos:hold])
        else:
            self._text(out, buf[pos:hold])
        self._buf = "" if final else buf[hold:]
        text = "".join(out)
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


def _invalid_warning(invalid: Sequence[int], n_sources: int) -> list[str]:
    if not invalid:
        return []
    cited = ", ".join(f"[{n}]" for n in invalid)
    return [f"the answer cited {cited}, which match(es) none of the {n_sources} source(s) given; those markers were removed"]


def rewrite_citations(text: str, valid: Iterable[int]) -> tuple[str, dict[int, int], list[int]]:
    """(rewritten text, {source number: new number}, invalid numbers) for a whole text.

    >>> rewrite_citations("A [3]. B [1, 3] and C [9][1-2].", valid=[1, 2, 3])[0]
    'A [1]. B [1][2] and C [2][3].'
    """
    rw = CitationRewriter(valid)
    out = rw.feed(text) + rw.finish()
    return out, dict(rw.mapping), list(rw.invalid)


@dataclass
class Sentence:
    """A sentence of the answer (markers included) and the answer numbers it cites."""

    text: str
    cites: list[int] = field(default_factory=list)


def numbered_on(texts: Sequence[str], citations: Sequence[Sequence[Citation]]) -> tuple[list[str], list[Citation]]:
    """Answers written apart, put together: each one's [n] markers and citations numbered on from the
    ones before it (each answer's own citations are numbered 1..k).

    >>> a, b = Citation(1, "a", "A", "x", (0, 1)), Citation(1, "b", "B", "y", (0, 1))
    >>> texts, cites = numbered_on(["x [1]", "y [1]"], [[a], [b]])
    >>> texts, [(c.number, c.paper_id) for c in cites]
    (['x [1]', 'y [2]'], [(1, 'a'), (2, 'b')])
    """
    out_texts: list[str] = []
    out: list[Citation] = []
    for text, cites in zip(texts, citations):
        offset = len(out)
        out_texts.append(_NUMBERED.sub(lambda m: f"[{int(m.group(1)) + offset}]", text))
        out += [replace(c, number=c.number + offset) for c in cites]
    return out_texts, out


def answer_sentences(text: str) -> list[Sentence]:
    """The answer's sentences with their markers; markers that open a sentence belong to the one before.

    Each line is read on its own: a list item "[2] Title — authors" is one sentence whose marker is
    its own (a marker opening a line belongs to that line).

    >>> [(s.text, s.cites) for s in answer_sentences("X is 3 [1]. [2] Y is 4. Z.")]
    [('X is 3 [1]. [2]', [1, 2]), ('Y is 4.', []), ('Z.', [])]
    >>> [(s.text, s.cites) for s in answer_sentences("Two papers:\\n[1] A — X\\n[2] B — Y")]
    [('Two papers:', []), ('[1] A — X', [1]), ('[2] B — Y', [2])]
    """
    sentences: list[Sentence] = []
    spans, offset = [], 0
    for line in text.split("\n"):
        spans += [(offset + a, offset + b, k == 0) for k, (a, b) in enumerate(split_sentences(line))]
        offset += len(line) + 1
    for a, b, opens_line in spans:
        piece = text[a:b]
        lead = _LEADING_MARKERS.match(piece)
        if lead and sentences and not opens_line:
            sentences[-1].text += " " + lead.group(0).strip()
            piece = piece[lead.end():].strip()
        if piece:
            sentences.append(Sentence(piece))
    for s in sentences:
        s.cites = list(dict.fromkeys(n for m in MARKER.finditer(s.text) for n in parse_marker(m.group(0))))
    return sentences


@dataclass
class Assessment:
    """Citations with their passage and support, and the sentences to check."""

    citations: list[Citation]
    uncited: list[str]
    weak: list[str]
    warnings: list[str] = field(default_factory=list)


def assess(text: str, sources: Sequence[Source], scorer: "Scorer", weak_threshold: float = WEAK_SUPPORT) -> Assessment:
    """Score every cited source against the sentences citing it; `sources[i].number` is the number used in `text`.

    Each citation gets the block (passage) of its source that best covers the sentences citing it,
    and support = the best coverage of one citing sentence by that block plus the title. A sentence
    is weak when the blocks it cites, together, cover less than `weak_threshold`.
    """
    by_number = {s.number: s for s in sources}
    sentences = answer_sentences(text)
    weights = []
    for s in sentences:
        plain = MARKER.sub(" ", s.text)
        weights.append({t: scorer.idf(t) for t in scorer.terms(plain)})
    block_terms = {(s.number, i): scorer.terms(b.text) | scorer.terms(s.title) for s in sources for i, b in enumerate(s.blocks)}

    uncited, weak = [], []
    per_block: dict[tuple[int, int], list[float]] = {}
    for s, w in zip(sentences, weights):
        cites = [n for n in s.cites if n in by_number]
        if not w:
            continue  # no content word ("Yes."): not a claim
        if not cites:
            uncited.append(s.text)
            continue
        union: set[str] = set()
        for n in cites:
            covs = [scorer.coverage(w, block_terms[(n, i)]) for i in range(len(by_number[n].blocks))]
            for i, c in enumerate(covs):
                per_block.setdefault((n, i), []).append(c)
            if covs:
                union |= block_terms[(n, max(range(len(covs)), key=lambda i: covs[i]))]
        if scorer.coverage(w, union) < weak_threshold:
            weak.append(s.text)

    cited_numbers = sorted({n for s in sentences for n in s.cites if n in by_number})
    citations = []
    for n in cited_numbers:
        src = by_number[n]
        if not src.blocks:
            continue
        scores = [per_block.get((n, i), []) for i in range(len(src.blocks))]
        best = max(range(len(src.blocks)), key=lambda i: (sum(scores[i]), -i))
        block = src.blocks[best]
        support = round(max(scores[best]), 3) if scores[best] else None
        citations.append(Citation(number=n, paper_id=src.paper_id, title=src.title, passage=block.text,
                                  span=block.span, support=support))
    return Assessment(citations, uncited, weak)


def check_citations(text: str, sources: Sequence[Source], scorer: "Scorer", weak_threshold: float = WEAK_SUPPORT) -> tuple[str, Assessment]:
    """Rewrite the markers of a whole `text` against `sources`, then assess it (see the module doc)."""
    rewritten, mapping, invalid = rewrite_citations(text, [s.number for s in sources])
    return rewritten, finalize(rewritten, sources, mapping, invalid, scorer, weak_threshold)


def finalize(rewritten: str, sources: Sequence[Source], mapping: dict[int, int], invalid: list[int], scorer: "Scorer",
             weak_threshold: float = WEAK_SUPPORT) -> Assessment:
    """Assess text already rewritten with `mapping` (source number -> answer number)."""
    renumbered = [Source(mapping[s.number], s.paper_id, s.title, s.blocks) for s in sources if s.number in mapping]
    result = assess(rewritten, renumbered, scorer, weak_threshold)
    result.warnings.extend(_invalid_warning(invalid, len(sources)))
    return result


def sources_from_citations(citations: Sequence[Citation]) -> list[Source]:
    """Sources for text that already carries final numbers (the extractive generator's output)."""
    return [Source(c.number, c.paper_id, c.title, (Block(c.passage, c.span),)) for c in citations]


__all__ = ["Block", "Source", "CitationRewriter", "Assessment", "numbered_on", "WEAK_SUPPORT", "MARKER", "parse_marker",
           "rewrite_citations", "answer_sentences", "assess", "check_citations", "finalize", "sources_from_citations"]
