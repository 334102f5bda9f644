"""The topic of a listing question: which of its leftover words ask for a subject, and which only phrase the ask.

After the router (rag.routing) blanks the listing fields and names it found, what is left of
"show me everything Ofir Nachum worked on here" is "everything ... worked on here": phrasing, not
a topic, and filtering the author's papers by it would wrongly empty the list. A residue counts as
a topic only when it carries one:

    an explicit topic cue:   "... about graph networks", "focused on privacy", "related to RL", "using diffusion"
    a modifier of the noun:  "optimal transport work", "RL posters", "diffusion papers"
    a bare word the collection's titles use: it occurs in at least BARE_TITLE_DF titles
                             ("privacy": 2 titles; "everything", "block", "remotely", "represented": 0 or 1)

Cue and modifier words count when at least one of them occurs in some title (so "about everything"
or "on one of the other pages" is no topic). Title document frequency is the collection's own
statistic for "a word that names a subject here": abstracts use generic words ("represented": 47
of 525 abstracts) that titles, which name topics, do not (1 title).

Does not: decide the route (rag.routing) or rank papers by the topic (rag.listed).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from .listings import Listings

BARE_TITLE_DF = 2  # a bare leftover word is a topic when at least this many titles use it (stemmed)
CUE = re.compile(r"\b(?:about|on|regarding|concerning|(?:related|relating|relevant)\s+to|deal(?:s|ing)?\s+with|focus(?:ed|es|ing)?\s+on"
                 r"|involv(?:e|es|ing)|cover(?:s|ing)?|us(?:e|es|ing)|apply(?:ing)?|tackl(?:e|es|ing)|stud(?:y|ies|ying)|mention(?:s|ing)?"
                 r"|in\s+the\s+(?:area|field|domain)\s+of|on\s+the\s+topic\s+of)\s+", re.I)
# A cue's object ends at punctuation or at a word that starts another clause.
CLAUSE_END = re.compile(r"[?.!,;:()]|\b(?:which|that|who|whose|among|from|by|in\s+the|at|presented|listed|rated|were|was|are|is)\b", re.I)
NOUN = re.compile(r"\b(?:papers?|posters?|works?|talks|orals?|research|submissions?|entries|articles?)\b", re.I)


@lru_cache(maxsize=4)
def title_df(listings: Listings) -> Counter[str]:
    """How many titles use each (BM25-stemmed) word."""
    from .index import bm25_query_tokens

    return Counter(t for p in listings.papers for t in set(bm25_query_tokens(p.title)))


def _content(words: list[str], stop: frozenset[str]) -> list[str]:
    from .index import bm25_query_tokens

    return [w for w in words if (t := bm25_query_tokens(w)) and not set(t) <= stop]


def _in_titles(words: list[str], listings: Listings, at_least: int) -> bool:
    from .index import bm25_query_tokens

    df = title_df(listings)
    return any(df[t] >= at_least for w in words for t in bm25_query_tokens(w))


def topic_of(kept: str, listings: Listings, stop: frozenset[str], reasons: list[str]) -> str:
    """The topic words of `kept` (the question with its listing fields and names blanked), or ""."""
    asked: list[str] = []
    for m in CUE.finditer(kept):  # "about graph neural networks"
        rest = kept[m.end():]
        end = CLAUSE_END.search(rest)
        asked += _content(re.findall(r"[^\W_]+(?:-[^\W_]+)*", rest[:end.start() if end else len(rest)]), stop)
    for m in NOUN.finditer(kept):  # "optimal transport work": the content words right before the noun
        before = re.findall(r"[^\W_]+(?:-[^\W_]+)*|\S", kept[:m.start()])
        run: list[str] = []
        for w in reversed(before):
            if not _content([w], stop):
                break
            run.insert(0, w)
        asked += run
    asked = list(dict.fromkeys(asked))
    if asked and _in_titles(asked, listings, 1):
        reasons.append(f"topic {' '.join(asked)!r}: asked for (a cue such as 'about', or a modifier of 'papers')")
        return " ".join(asked)
    bare = [w for w in _content(re.findall(r"[^\W_]+(?:-[^\W_]+)*", kept), stop) if _in_titles([w], listings, BARE_TITLE_DF)]
    dropped = [w for w in _content(re.findall(r"[^\W_]+(?:-[^\W_]+)*", kept), stop) if w not in bare]
    if dropped:
        reasons.append(f"{' '.join(dropped)!r}: phrasing, not a topic (fewer than {BARE_TITLE_DF} titles use it)")
    return " ".join(bare)


__all__ = ["BARE_TITLE_DF", "title_df", "topic_of"]
