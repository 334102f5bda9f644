"""Partial answers: what the closest papers have, and what the question asks that none of them has.

Used when the answerability model says the collection does not answer. If the question's salient
terms (rag.answerability) are mostly found in the top papers, the answer names the missing ones
and cites the closest papers; if the question hardly touches the collection, there is no partial
answer and the caller gives the plain abstention.

    "The collection does not answer this: no abstract here covers diffusion models together with
     tabular data. Closest: [1] <title> (diffusion models, no mention of tabular data); [2] <title>
     (tabular data)."
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .coverage import asked_details, text_holds
from .types import Citation, Hit

if TYPE_CHECKING:  # pragma: no cover
    from .answerability import Collection, Signals

# Below this share of the question's salient weight found in the top papers the question does not
# touch the collection: a plain abstention, not a partial answer.
TOUCH_SHARE = 0.3
# A partial answer names at most this many missing phrases; a question missing more is mostly outside
# the collection (and echoing many of its words back would repeat whatever the question said).
MAX_MISSING = 2
# ... unless the closest paper holds at least this share of the salient weight: then the rarest
# MAX_MISSING missing phrases are named (long questions lack many words by paraphrase alone).
NAME_RAREST_SHARE = 0.6


def surface(words: list[tuple[str, tuple[str, ...]]], terms: set[str], salient: set[str] | None = None,
            lacking: bool = False) -> list[str]:
    """The question's words for `terms`, adjacent ones joined into phrases, in question order.

    A word of several stems ("text-to-speech") is one unit: with `lacking`, it is listed only when
    none of its salient stems is outside `terms` (it is missing as a whole).

    >>> w = [("diffusion", ("diffus",)), ("models", ("model",)), ("for", ()), ("tabular", ("tabular",)), ("data", ("data",))]
    >>> surface(w, {"diffus", "model", "tabular"})
    ['diffusion models', 'tabular']
    """
    salient = salient if salient is not None else terms
    out: list[str] = []
    run: list[str] = []
    for w, ts in words:
        mine = [t for t in ts if t in salient]
        hit = bool(mine) and (all(t in terms for t in mine) if lacking else any(t in terms for t in mine))
        if hit:
            run.append(w)
        elif run:
            out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return list(dict.fromkeys(out))


def _share(weights: dict[str, float], terms: frozenset[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _citation(number: int, hit: Hit, terms: set[str], col: "Collection") -> Citation:
    """The hit's retrieved passage that holds most of `terms` (its first passage when none does)."""
    passages = [p for p in hit.passages if p.span is not None] or list(hit.passages)
    if not passages:
        return Citation(number=number, paper_id=hit.paper_id, title=hit.title, passage=hit.paper.abstract[:300], span=(0, min(300, len(hit.paper.abstract))))
    pos = col.index.chunk_pos
    best = max(passages, key=lambda p: len(terms & col.chunk_terms[pos[p.chunk_id]]) if p.chunk_id in pos else -1)
    return Citation(number=number, paper_id=hit.paper_id, title=hit.title, passage=best.text, span=best.span)


def asked_missing(asked: list[list[tuple[str, tuple[str, ...]]]], terms: frozenset[str], bigrams: frozenset[tuple[str, str]],
                  is_question_word=lambda t: False) -> tuple[list[str], set[str]]:
    """What the question's wh-phrases ask for ("what learning rate", "which datasets") that a paper (its
    terms and adjacent term pairs) never names, in the question's words, and those words' stems. A
    detail phrase the paper lacks is named whole ("learning rate", though the paper says "learning").

    >>> asked = [[("learning", ("learn",)), ("rate", ("rate",))], [("datasets", ("dataset",))]]
    >>> missing, stems = asked_missing(asked, frozenset({"learn", "dataset"}), frozenset())
    >>> missing, sorted(stems)
    (['learning rate'], ['learn', 'rate'])
    """
    out: list[str] = []
    stems: set[str] = set()
    for phrase in asked:
        marked = [any(t not in terms and not is_question_word(t) for t in ts) for _, ts in phrase]
        flat = [(i, t) for i, (_, ts) in enumerate(phrase) for t in ts]
        seq = [t for _, t in flat]
        for d in asked_details(seq):
            if not text_holds(d, terms, bigrams):
                for k in range(len(seq) - len(d) + 1):
                    if tuple(seq[k:k + len(d)]) == d:
                        for i, _ in flat[k:k + len(d)]:
                            marked[i] = True
        run: list[int] = []
        for i in range(len(phrase) + 1):
            if i < len(phrase) and marked[i]:
                run.append(i)
            elif run:
                out.append(" ".join(phrase[j][0] for j in run))
                stems |= {t for j in run for t in phrase[j][1]}
                run = []
    return list(dict.fromkeys(out)), stems


def _rarest(missing: list[str], sig: "Signals", lack: set[str]) -> list[str]:
    """The MAX_MISSING phrases of `missing` whose rarest lacking term is rarest, in question order."""
    rarity = {m: max((sig.salient[t] for w, ts in sig.words if w in m.split() for t in ts if t in lack), default=0.0) for m in missing}
    keep = set(sorted(missing, key=lambda m: -rarity[m])[:MAX_MISSING])
    return [m for m in missing if m in keep]


def partial(sig: "Signals", hits: Sequence[Hit], col: "Collection") -> tuple[str, tuple[str, ...], tuple[Citation, ...]] | None:
    """(text, missing concepts, citations) of a partial answer, or None for a plain abstention.

    What the question asks for (its wh-phrases: "What datasets does TimesNet use?") and the closest
    paper never names is what is missing; otherwise the salient terms it lacks are."""
    salient = sig.salient
    if not salient or not hits:
        return None
    papers = sig.paper_terms[:len(hits)]
    if _share(salient, frozenset().union(*papers)) < TOUCH_SHARE:
        return None  # the question does not touch the collection
    first = max(range(len(hits)), key=lambda i: (_share(salient, papers[i]), -i))
    have = {t for t in salient if t in papers[first]}
    lack = set(salient) - have
    asked, asked_stems = asked_missing(sig.asked, papers[first], col.paper_bigrams.get(hits[first].paper_id, frozenset()),
                                       col.scorer.is_question_word)
    if asked:
        lack = asked_stems
        have -= lack
    if not have or not lack:
        return None
    covered = surface(sig.words, have, set(salient))
    missing = asked[:MAX_MISSING] if asked else surface(sig.words, lack, set(salient), lacking=True)
    if not covered or not missing:
        return None
    if len(missing) > MAX_MISSING:
        # Many missing phrases: a long question mostly covered names its rarest gaps; one mostly
        # outside the collection gets the plain abstention.
        if _share(salient, papers[first]) < NAME_RAREST_SHARE:
            return None
        missing = _rarest(missing, sig, lack)
    # A second paper holding what the first lacks, if that is rare enough to say something ("datasets" is not)
    lack_weights = {t: salient[t] for t in lack if t in salient}
    others = [i for i in range(len(hits)) if i != first and lack_weights and _share(lack_weights, papers[i]) > 0]
    second = max(others, key=lambda i: (_share(lack_weights, papers[i]), -i)) if others else None
    citations = [_citation(1, hits[first], have, col)]
    text = (f"The collection does not answer this: no abstract here covers {_and(covered)} together with {_and(missing)}. "
            f"Closest: [1] {hits[first].title} ({_and(covered)}, no mention of {_and(missing)})")
    if second is not None:
        found = surface(sig.words, {t for t in lack if t in papers[second]}, set(salient)) or missing
        citations.append(_citation(2, hits[second], lack, col))
        text += f"; [2] {hits[second].title} ({_and(found)})"
    return text + ".", tuple(missing), tuple(citations)


# Words that a follow-up adds to a concept but that name nothing ("... speech recognition too?").
_FILLER = frozenset("too also either as well again still even really exactly actually instead then there yet please".split())


def _trimmed(phrase: str) -> str:
    words = phrase.split()
    while words and words[-1].lower() in _FILLER:
        words.pop()
    while words and words[0].lower() in _FILLER:
        words.pop(0)
    return " ".join(words)


def lacking(sig: "Signals", hits: Sequence[Hit], col: "Collection") -> tuple[str, ...]:
    """What a question about given papers (a follow-up; `hits` hold only them) asks that none of them
    names, in the question's words: its wh-phrases' missing words ("how many GPUs"), else its salient
    terms they all lack ("Could it strip gender from LLM activations?": "LLM activations"), at most
    MAX_MISSING, the rarest kept. Unlike `partial`, nothing is claimed of the rest of the collection:
    only those papers were looked in."""
    if not sig.salient or not hits:
        return ()
    terms = frozenset().union(*sig.paper_terms[:len(hits)])
    bigrams = frozenset().union(*(col.paper_bigrams.get(h.paper_id, frozenset()) for h in hits))
    asked, _ = asked_missing(sig.asked, terms, bigrams, col.scorer.is_question_word)
    if asked:
        return tuple(asked[:MAX_MISSING])
    lack = {t for t in sig.salient if t not in terms}
    missing = [t for m in surface(sig.words, lack, set(sig.salient), lacking=True) if (t := _trimmed(m))]
    return tuple(_rarest(missing, sig, lack))


__all__ = ["asked_missing", "lacking", "partial", "surface"]
