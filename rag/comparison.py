"""Questions that compare two things: "What's the difference between X and Y?", "Compare X with Y", "X vs Y for Z".

Two things are often studied by two papers. Judged as one question, "hyperspherical and hyperbolic
embeddings" looks like two concepts no single abstract joins, and the assistant used to refuse
it as unjoined. A comparison is instead asked side by side (Assistant.ask_stream): each side,
with the question's shared context ("for time series"), is retrieved and judged on its own; when
both sides are answered, each is quoted from its own paper (the extractive writer, `combine`) or
both papers go to the language model together (`merged`); when one side is not, the answer says
which side the collection has and which it lacks (Answer.missing); when the same paper is the best
for both, or one abstract names both sides, that paper compares them and the question is answered
as one.

    >>> comparison("What's the difference between hyperspherical and hyperbolic embeddings in these papers?").names
    ('hyperspherical embeddings', 'hyperbolic embeddings')
    >>> comparison("TimesNet vs Mamba-ND for time series?").queries
    ('TimesNet for time series', 'Mamba-ND for time series')
    >>> comparison("How much faster is SPDER compared with prior methods?") is None
    True
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .citations import numbered_on
from .extractive import Draft, ExtractiveGenerator, last_draft
from .index import bm25_query_tokens
from .prompts import ABSTAIN_TEXT
from .types import Citation, Hit, Paper

if TYPE_CHECKING:
    from .answerability import Verdict
    from .settings import Settings

_TAIL = r"(?P<c>\s+(?:for|on|in|at|when|as|with\s+respect\s+to)\s+[^?]+?)?"
_END = r"\s*[?.!]*\s*$"
FORMS = [re.compile(p + _END, re.I) for p in (
    r"^(?:what(?:'s|\s+is|\s+are)\s+)?(?:the\s+)?(?:main\s+|key\s+|real\s+)?differences?\s+between\s+(?P<x>.+?)\s+and\s+(?P<y>.+?)" + _TAIL,
    r"^compare\s+(?P<x>.+?)\s+(?:and|with|to|against|vs\.?|versus)\s+(?P<y>.+?)" + _TAIL,
    r"^how\s+(?:does|do|is|are)\s+(?P<x>.+?)\s+(?:differ|different|compare)\s+(?:from|to|with|against)\s+(?P<y>.+?)" + _TAIL,
    r"^(?P<x>[^,;.?!]+?)\s+(?:vs\.?|versus)\s+(?P<y>[^,;.?!]+?)" + _TAIL,
    r"^which\s+(?:one\s+)?is\s+better(?P<c0>\s+(?:for|on|in|at)\s+[^,:?]+?)?\s*[,:]?\s+(?P<x>[^,:]+?)\s+or\s+(?P<y>.+?)",
    r"^(?:is|are)\s+(?P<x>.+?)\s+better\s+than\s+(?P<y>.+?)" + _TAIL,
    r"^what\s+(?:is|are)\s+(?P<x>.+?)\s*,?\s+and\s+how\s+(?:does|do)\s+(?:it|they)\s+(?:compare|differ)\s+(?:to|with|from|against)\s+(?P<y>.+?)" + _TAIL,
)]
# "... in these papers", "... here": where to look, not what
_WHERE = re.compile(r"\s+(?:(?:in|among|across|from|according\s+to)\s+(?:these|the|this)\s+(?:papers|abstracts|works|collection)|here|in\s+the\s+collection)(?=\s*[?.!]*\s*$)", re.I)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)
# A side against generic baselines ("... vs prior methods") is one paper's own comparison, not two things.
_GENERIC = re.compile(r"^(?:prior|previous|earlier|existing|other|others|standard|conventional|traditional|baselines?|sota|"
                      r"state[\s-]of[\s-]the[\s-]art|it|them|this|that|each\s+other|the\s+rest)\b", re.I)
_VAGUE = frozenset("approach approaches method methods paper papers work works technique techniques model models result results way ways".split())
_ASKS = re.compile(r"\b(?:what|which|who|how|why|when|where|whether|does|did|do)\b", re.I)
MAX_SIDE_WORDS = 5


def _side(text: str) -> str | None:
    text = _ARTICLE.sub("", text.strip(" ,;:"))
    words = text.split()
    if not words or len(words) > MAX_SIDE_WORDS or _GENERIC.search(text) or _ASKS.search(text) or words[0][0].isdigit() \
            or (len(words) == 1 and words[0].lower() in _VAGUE):  # "Compare the approaches to test-time adaptation"
        return None
    return text


@dataclass(frozen=True)
class Sides:
    """What a comparison compares (`names`) and what each side is retrieved and judged with (`queries`:
    the name with the question's shared context)."""

    names: tuple[str, str]
    queries: tuple[str, str]

    def held_by(self, paper: Paper) -> bool:
        """Whether one abstract names both sides (its title or abstract holds every term of each name,
        "CANIFE empirical epsilon" and "theoretical DP bound"): that paper compares them, and the
        question is asked as one."""
        text = set(bm25_query_tokens(f"{paper.title} {paper.abstract}"))
        return all(set(bm25_query_tokens(n)) <= text for n in self.names)


def comparison(question: str) -> Sides | None:
    """The two sides of a comparison question; None when it compares nothing two papers could each answer.

    >>> comparison("Is TimesNet better than Mamba-ND for forecasting?").queries
    ('TimesNet for forecasting', 'Mamba-ND for forecasting')
    """
    q = _WHERE.sub("", question.strip())
    for form in FORMS:
        m = form.match(q)
        if not m:
            continue
        x, y = _side(m.group("x")), _side(m.group("y"))
        if not x or not y or x.lower() == y.lower():
            return None
        if len(x.split()) == 1 and x.islower() and len(y.split()) > 1:  # "between hyperspherical and hyperbolic embeddings"
            x = f"{x} {y.split()[-1]}"
        context = (m.groupdict().get("c") or m.groupdict().get("c0") or "").strip()
        return Sides((x, y), (f"{x} {context}".strip(), f"{y} {context}".strip()))
    return None


def merged(hits_x: Sequence[Hit], hits_y: Sequence[Hit], k: int) -> list[Hit]:
    """Both sides' papers, alternating best first, each once, re-ranked 1..k."""
    out: dict[str, Hit] = {}
    for pair in zip(hits_x, hits_y):
        for h in pair:
            out.setdefault(h.paper_id, h)
    for h in [*hits_x, *hits_y]:
        out.setdefault(h.paper_id, h)
    return [replace(h, rank=i) for i, h in enumerate(list(out.values())[:k], 1)]


def combine(sides: Sequence[str], texts: Sequence[str], citations: Sequence[Sequence[Citation]]) -> tuple[str, list[Citation]]:
    """Each side's own answer under its name, a line each, the citations numbered on across the sides."""
    parts, out = numbered_on(texts, citations)
    return "\n".join(f"On {side} \u2014 {text}" for side, text in zip(sides, parts)), out


def refused(sides: Sequence[tuple[str, Sequence[Hit]]], verdicts: Sequence[Verdict]) -> tuple[str, tuple[Citation, ...], tuple[str, ...]] | None:
    """None when every side is answered; else the refusal: which side the collection covers (its best
    passage cited) and which it lacks (Answer.missing), or the plain abstention when it covers neither."""
    answered = [v.answerable for v in verdicts]
    if all(answered):
        return None
    if not any(answered):
        return ABSTAIN_TEXT, (), ()
    (covered, hits), (lacking, _) = sides[answered.index(True)], sides[answered.index(False)]
    top = hits[0]
    best = top.passages[0] if top.passages else None
    cite = Citation(number=1, paper_id=top.paper_id, title=top.title, passage=best.text if best else top.paper.abstract,
                    span=best.span if best else None)
    return (f"The collection cannot compare these: it covers {covered} [1] ({top.title}), but no abstract here covers {lacking}.",
            (cite,), (lacking,))


def write(question: str, sides: Sequence[tuple[str, Sequence[Hit]]], hits: Sequence[Hit], generator: Any,
          settings: "Settings") -> Iterator[str | Draft]:
    """The answer when both sides are answered, as it is written, then its Draft: the extractive writer
    quotes each side from its own best paper (half a plain answer's sentences, each side);
    a language model gets both sides' papers (`hits`) and the question as asked."""
    if not isinstance(generator, ExtractiveGenerator):
        yield from generator.stream(question, hits, settings)
        return
    quoter = copy.copy(generator)
    quoter.max_sentences = (generator.max_sentences + 1) // 2
    drafts = [last_draft(quoter.stream(q, side_hits[:1], settings)) for q, side_hits in sides]
    text, citations = combine([q for q, _ in sides], [d.text for d in drafts], [d.citations for d in drafts])
    yield text
    yield Draft(text, citations, any(d.abstained for d in drafts), min(d.evidence for d in drafts),
                uncited=[u for d in drafts for u in d.uncited], weak=[w for d in drafts for w in d.weak])


__all__ = ["FORMS", "Sides", "comparison", "merged", "combine", "refused", "write"]
