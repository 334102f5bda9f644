"""Authors named in a question: listed ones (full names, initials, short forms, a rare surname alone) and unknown ones.

    known_authors("Which papers did S. Oh co-author?") -> ["S. Oh"]        (listed: Sewoong Oh)
    unlisted_names("any papers by Chelsea Finn?")     -> ["Chelsea Finn"]  (an authorship phrase, no such author)

Part of the router (rag.routing), split out because names are its largest part. A surname alone
counts only when capitalized in an authorship question or when it is no word of any title or
abstract; an unknown name is read only from an authorship phrase ("papers by X"), so a content
question with a name-like word ("inspired by Hebbian learning") is left alone.

Does not: match a name against an author (rag.listings.name_matches does).
"""
from __future__ import annotations

import re

from .listings import Listings, name_tokens

UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
LOWER = "a-zß-öø-ÿā-ž"
# A name word: "Sewoong", "LeCun", "O'Neil", "Jung-Woo" or an initial "J." (not "DHVT" or "SegFormer-B4").
_NAME_WORD = rf"(?:[{UPPER}]\.|[{UPPER}][{LOWER}'’]+(?:[{UPPER}][{LOWER}]+)?(?:-[{UPPER}]?[{LOWER}]+)?)(?![\w-])"
NAME = rf"((?:{_NAME_WORD}\s+){{0,3}}{_NAME_WORD})"
# Authorship phrases that frame a person's name (the name is the capitalized run in the group).
AUTHOR_CUES = [re.compile(p) for p in (  # (?i:...) keeps the cue words case-blind and the name case-aware
    rf"\b(?i:papers?|posters?|works?|anything|something|articles?|orals?)\s+(?i:(?:co-?)?authored\s+|written\s+)?(?i:here\s+)?(?i:by)\s+{NAME}",
    rf"\b(?i:co-?authored|written|authored|wrote)\s+(?i:by)\s+{NAME}",
    rf"\b(?i:did|does|has|have|had)\s+{NAME}\s+(?i:(?:co-?)?(?:author|write|wrote|written|publish|present))",
    rf"(?:^|[,;:]\s*){NAME}\s+(?i:co-?authored|wrote|authored|co-?wrote)\b",
    rf"\b{NAME}['’]s\s+(?i:papers?|posters?|works?|orals?)",
    rf"\b(?i:lists?)\s+{NAME}\s+(?i:as)\s+(?i:an?\s+)?(?i:(?:co-?)?author)",
    rf"\b(?i:with|by)\s+{NAME}\s+(?i:(?:as\s+)?(?:an?\s+)?(?:co-?)?authors?)\b",
    rf"^{NAME}\s*[-–—:]\s*(?i:which|what)\b",
    rf"\b(?i:papers?|posters?|works?|anything|something)\s+(?i:from)\s+{NAME}",
    rf"\b(?i:is|was)\s+{NAME}\s+(?i:(?:listed\s+as\s+)?(?:an?\s+|the\s+)?(?:co-?)?author)",
    rf"\b{NAME}\s+(?i:appears?|listed|named)\s+(?i:as\s+)(?i:an?\s+)?(?i:(?:co-?)?author)",
    rf"\b(?i:did|does|has|have)\s+{NAME}\s+(?i:contribute|work\s+on|appear|ha(?:ve|s)\s+(?:any|a|papers?))",
)]
PAPERISH = re.compile(r"\b(?:papers?|posters?|works?|authors?|co-?authors?|co-?authored|wrote|written|by|publish(?:ed)?)\b", re.I)
AUTHORSHIP = re.compile(r"\b(by|co-?authors?|co-?authored|authors?|authored|wrote|written|write)\b", re.I)
NOT_NAMES = {"the", "a", "an", "which", "what", "who", "is", "are", "did", "does", "this", "these", "iclr", "neurips",
             "icml", "professor", "prof", "dr", "poster", "posters", "paper", "papers", "oral", "session", "i", "any"}


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) for each run of letters or digits (names keep their accents here)."""
    return [(m.group(), m.start(), m.end()) for m in re.finditer(r"[^\W_]+", text)]


def known_authors(question: str, listings: Listings, spans: list[tuple[int, int]], reasons: list[str],
                   unknown: list[str]) -> list[str]:
    """Listed authors named in the question: a full name (any case, initials allowed), or a surname alone
    when capitalized in an authorship question ("papers by Hong, Bhatia and Dragan") or no word of any
    abstract. A listed surname after an unlisted given name goes to `unknown` ("Samy Bengio")."""
    words = word_spans(question)
    toks = [name_tokens(w)[0] if name_tokens(w) else "" for w, _, _ in words]
    found: list[str] = []
    authorship = bool(AUTHORSHIP.search(question))
    j = 0
    while j < len(words):
        listed = listings.by_surname.get(toks[j], [])
        hit = None
        for back in (1, 2, 3):  # a given name (or initial) up to two middle names before the surname
            i = j - back
            if i < 0:
                break
            initial_ok = len(toks[i]) > 1 or words[i][0].isupper()  # "a Wang" is an article, "A. Wang" an initial
            matches = listings.authors_named(f"{toks[i]} {toks[j]}") if listed and initial_ok else []
            # middle words: initials, capitalized, or hyphen-joined to the given name ("jung-woo ha")
            if matches and all(len(t) <= 2 or words[k][0][:1].isupper() or question[words[k - 1][2]:words[k][1]] == "-"
                               for k, t in zip(range(i + 1, j), toks[i + 1:j])):
                name = question[words[i][1]:words[j][2]] if back > 1 else \
                    f"{words[i][0]}{'.' if len(toks[i]) == 1 else ''} {words[j][0]}"
                hit = (words[i][1], words[j][2], name)
                break
        given = words[j - 1][0] if j > 0 else ""
        if hit is None and listed and given[:1].isupper() and words[j][0][:1].isupper() and len(given) > 1 \
                and question[words[j - 1][2]:words[j][1]].isspace() and given.lower() not in NOT_NAMES \
                and name_tokens(given)[0] not in listings.by_surname and name_tokens(given)[0] not in listings.text_words \
                and not any(a < words[j - 1][2] and words[j - 1][1] < b for a, b in spans) \
                and (authorship or PAPERISH.search(question)):
            # "Samy Bengio": a listed surname after a given name no listed author has: an unknown author
            unknown.append(f"{given} {words[j][0]}")
            spans.append((words[j - 1][1], words[j][2]))
            reasons.append(f"{given} {words[j][0]!r}: the surname is listed, the given name is not")
            j += 1
            continue
        capital_ok = j > 0 and words[j][0][:1].isupper() and authorship
        # a surname that is no word of any title or abstract cannot be a topic ("how many papers is goldblum on")
        rare_ok = toks[j] not in listings.text_words and len(toks[j]) >= 4 and bool(PAPERISH.search(question))
        if hit is None and listed and (capital_ok or rare_ok) and len(toks[j]) >= 3 and toks[j] not in NOT_NAMES:
            hit = (words[j][1], words[j][2], words[j][0])  # a surname alone
        if hit:
            start, end, name = hit
            spans.append((start, end))
            found.append(name)
            reasons.append(f"author {name!r} is listed ({', '.join(listings.authors_named(name)[:3])})")
        j += 1
    return list(dict.fromkeys(found))


def unlisted_names(question: str, listings: Listings, spans: list[tuple[int, int]], reasons: list[str],
                     known: list[str]) -> list[str]:
    """Names in authorship phrases that match no listed author (those that do join `known`: "papers by Oh")."""
    out = []
    for cue in AUTHOR_CUES:
        for m in cue.finditer(question):
            start, end = m.span(1)
            if any(a < end and start < b for a, b in spans):
                continue
            name = " ".join(w for w in m.group(1).split() if w.lower().strip(".") not in NOT_NAMES)
            if not name or len(name) < 2:
                continue
            pieces = [p for p in re.split(r",\s*|\s+and\s+", name) if p]
            if any(listings.authors_named(p) for p in pieces):
                listed = [p for p in pieces if listings.authors_named(p)]
                if len(listed) == len(pieces):
                    spans.append((start, end))
                    known.extend(p for p in listed if p not in known)
                    reasons.append(f"authorship phrase names listed author(s) {', '.join(listed)}")
                continue
            spans.append((start, end))
            out.append(name)
            reasons.append(f"authorship phrase names {name!r}, who is in no author list")
    return list(dict.fromkeys(out))

__all__ = ["known_authors", "unlisted_names", "word_spans", "AUTHOR_CUES", "NOT_NAMES"]
