"""Which path answers a question: the listing metadata, retrieval, or both (a transparent router).

`route()` reads a question with named patterns and an index of the collection's own labels (its
author names, award, tier and session labels) and returns a `Route` saying what it found and why:

    "Which papers did Sewoong Oh co-author?"        -> metadata  (author Sewoong Oh; nothing else asked)
    "Which top-5% posters are about graph networks?" -> mixed     (tier top 5%; topic "graph networks")
    "How does PIXEL render text?"                   -> retrieval (no listing field named)

Rules, in order: an author named in an authorship phrase but absent from every author list ->
metadata (an abstention that says so); no listing field -> retrieval; fields and no topic ->
metadata; fields and a topic -> mixed, except a yes/no question about a paper named by its content
("Is TimesNet a top-25% paper?"), which retrieval answers from the paper's own listing line.
Every decision lists its reasons in `Route.reasons`, so a wrong route is easy to see and test.

Parts: rag.routing_names reads author names, rag.routing_topic decides which leftover words are a
topic; this module holds the listing-field patterns and the decision.

Does not: call a model, or answer; see rag.listed for the answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .listings import Listings, Lookup, name_tokens
from .question_parts import question_parts
from .routing_names import known_authors, unlisted_names, word_spans
from .routing_topic import topic_of

AWARDS = [(re.compile(r"\boutstanding[\s-]+paper", re.I), "Outstanding Paper"),
          (re.compile(r"\bhonou?rable[\s-]+mentions?", re.I), "Honorable Mention"),
          (re.compile(r"\b(?:award[\s-]*winning|awards?|awarded|prizes?|best[\s-]+papers?)\b", re.I), "any")]
TIER_PATTERNS = [(re.compile(r"\btop[\s-]*(?:25|twenty[\s-]*five)\s*(?:%|percent|per\s*cent)", re.I), "top 25%"),
                 (re.compile(r"\btop[\s-]*(?:5|five)\s*(?:%|percent|per\s*cent)", re.I), "top 5%"),
                 (re.compile(r"\b(?:regular\s+)?poster[\s-]+accepts?\b|\b(?:regular|plain|ordinary)\s+(?:poster\s+)?accept(?:s|ed|ances?)?\b", re.I), "poster accept")]
PRESENTATION_PATTERNS = [
    (re.compile(r"\borals\b|\boral\s+(?:presentations?|papers?|talks?|session|track)s?\b|\bpresented\s+(?:as\s+)?(?:an?\s+)?orals?\b"
                r"|\b(?:an?|as)\s+oral\b"
                # "talks" as the noun ("which talks", "talks or posters"), not the verb ("a paper that talks about X")
                r"|\b(?:which|what|how\s+many|the|all|any|these|those)\s+talks\b(?!\s+about)|\btalks\s+(?:or|and)\s+posters\b"
                r"|\bposters\s+(?:or|and)\s+talks\b", re.I), "oral"),
    (re.compile(r"\bvirtual\s+(?:presentations?|posters?)\b|\b(?:presented\s+)?virtually\b"
                r"|\bvirtual\b(?=.*\b(?:present|presentations?|presented|posters?|session)\b)"
                r"|\b(?:present|presentations?|presented|posters?|session)\b.*\bvirtual\b"
                r"|\bremotely\b|\bremote\s+(?:presentations?|posters?|talks?|presenters?)\b"  # not "remote sensing"
                r"|\b(?:presented|presenting)\s+online\b|\bonline\s+(?:presentations?|posters?|talks?)\b", re.I), "virtual"),
    (re.compile(r"\bin[\s-]+person\b", re.I), "in-person"),
    (re.compile(r"\bposter\s+presentations?\b|\bpresented\s+as\s+(?:a\s+)?posters?\b", re.I), "poster")]
NEGATION = re.compile(r"\b(?:not|no|non|without|excluding|except|other\s+than|never)\b[^,;]*$|n't\b[^,;]*$", re.I)
NEGATED_AWARD = re.compile(r"\b(?:not|no|without|never)\b[\w\s-]{0,30}\b(?:awards?|award[\s-]*winning|prizes?)\b"
                           r"|n't\b[\w\s-]{0,30}\b(?:awards?|prizes?)\b|\bun-?awarded\b", re.I)
ORAL_OR_POSTER = re.compile(r"\b(?:orals?|talks)\b.*\bposters?\b(?!\s*(?:session|#|number|no\b|accept|board))"
                            r"|\bposters?\b(?!\s*(?:session|#|number|no\b|accept|board)).*\b(?:orals?|talks)\b", re.I)
PAGE = re.compile(r"\b(?:listing\s+)?page\s+(?:#\s*|number\s+)?(\d{1,3}|one|two|three|four|five)\b"
                  r"|\b(first|second|third|fourth|fifth|last)\s+(?:listing\s+)?page\b", re.I)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
POSTER_NUMBER = re.compile(r"(?:\b(?:poster\s*)?(?:board|poster)\s*(?:number|no\.?|nr\.?)?\s*#?\s*|#\s*)(\d{1,4})\b", re.I)
N_AUTHORS = re.compile(r"\b(?:exactly\s+|only\s+|just\s+)?(two|three|four|five|six|2|3|4|5|6)\s+(?:co-?)?authors\b", re.I)
SHARED_AUTHOR = re.compile(r"\bauthors?\b.{0,40}\b(?:more\s+than\s+one|multiple|several|two\s+or\s+more|many)\s+papers?\b"
                           r"|\b(?:prolific|repeat|recurring)\s+authors?\b", re.I)
MOST_AUTHORS = re.compile(r"\b(?:most|largest\s+number\s+of|longest\s+(?:list\s+of\s+)?)\s*(?:co-?)?authors?\b"
                          r"|\blongest\s+author\s+list\b|\bbiggest\s+team\b", re.I)
MULTI_AUTHOR = re.compile(r"\b(?:more\s+than\s+one|multiple|several|two\s+or\s+more)\s+(?:co-?)?authors?\b", re.I)
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
           "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20}
_N = r"(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
MIN_AUTHORS = [re.compile(rf"\b{_N}\s+or\s+more\s+(?:co-?)?authors\b|\bat\s+least\s+{_N}\s+(?:co-?)?authors\b", re.I),
               re.compile(rf"\bmore\s+than\s+{_N}\s+(?:co-?)?authors\b", re.I)]  # the second: one more than N
POSTER_RANGE = re.compile(r"\bposters?\s*(?:numbers?\s*)?#?\s*(\d{1,4})\s*(?:-|–|to|through|thru|and)\s*#?\s*(\d{1,4})\b"
                          r"|#\s*(\d{1,4})\s*(?:-|–|to|through|thru)\s*#?\s*(\d{1,4})\b|\bbetween\s+#?(\d{1,4})\s+and\s+#?(\d{1,4})\b", re.I)
# Poster-number ranges in other words: "in the 130s", "150 and up", "#150 or higher", "below 30", "up to #29".
POSTER_CONTEXT = re.compile(r"\b(?:posters?|boards?|numbers?|numbered)\b|#", re.I)
_NUM = r"(?:(?:poster\s+|board\s+)?(?:number|no\.?)\s+)?#?\s*(\d{1,4})(?!\d|\s*(?:%|percent|(?:co-?)?authors?|pages?|papers?))"
SPAN = re.compile(rf"{_NUM}\s*(?:-|–|—|to|through|thru|until|till)\s*{_NUM}", re.I)  # "numbered 100–105", "from 20 to 24"
DECADE = re.compile(r"\b(?:in\s+the\s+)?(\d{1,2}?)(00|0)['’]?s\b", re.I)  # "the 130s": 130-139; "the 100s": 100-199
_TO = r"(?:-|–|—|to|through|thru|and)"
AT_LEAST = [  # "150 and up", "#150 or higher", "150+"; "at least 150", "from 150 on"; strict: "above 150" (151-)
    re.compile(rf"(?<![\w#]){_NUM}\s*(?:\+|and\s+(?:up|upwards?|above|higher|over|beyond|later|on)\b"
               r"|or\s+(?:higher|above|more|over|greater|later)\b|onwards?\b)", re.I),
    re.compile(rf"\b(?:at\s+least|from)\s+{_NUM}(?:\s+on(?:wards?)?\b|\s+up(?:wards?)?\b)?(?!\s*{_TO}\s*#?\d)", re.I),
    re.compile(rf"\b(?:above|over|beyond|after|past|(?:higher|greater|larger|bigger|more)\s+than)\s+{_NUM}", re.I)]
AT_MOST = [  # "30 and below", "up to #29", "at most 29"; strict: "below 30" (-29)
    re.compile(rf"(?<![\w#]){_NUM}\s*(?:and|or)\s+(?:below|under|lower|less|fewer|smaller|down)\b", re.I),
    re.compile(rf"\b(?:up\s+to|at\s+most|no\s+(?:higher|more)\s+than)\s+{_NUM}", re.I),
    re.compile(rf"\b(?:below|under|before|(?:lower|less|smaller)\s+than)\s+{_NUM}", re.I)]
POSTER_EXTREMES = re.compile(r"\b(?:lowest|highest|smallest|largest|min(?:imum)?|max(?:imum)?)\s+(?:(?:and|or|&)\s+(?:the\s+)?"
                             r"(?:lowest|highest|smallest|largest|min(?:imum)?|max(?:imum)?)\s+)?poster\s+numbers?\b", re.I)
# The listing fields of one paper a question can ask for, however it names the paper.
# "the authors of X" asks for the authors unless they are the subject of a content verb ("What do the
# authors of TimesNet claim?", "What limitations do the authors of X mention?": the abstract answers).
_SAY = (r"(?:claim|mention|say|said|argue|report|propose|find|found|show|discuss|describe|suggest|conclude|note|"
        r"admit|acknowledge|believe|think|observe|prove|demonstrate|use|evaluate|compare|introduce|present|hypothesi[sz]e)")
# The same when an auxiliary makes them the subject ("How do the authors of MLP-Mixer mix information
# across patches?", "Why did the authors of X drop attention?"): the authors do something the abstract says.
_ACTING = "".join(rf"(?<!\b{aux}\s)(?<!\b{aux}\sthe\s)(?<!\b{aux}\sits\s)" for aux in
                  ("do", "does", "did", "can", "could", "would", "will", "should"))
_FIELD_ASKED = (r"\bwho\s+(?:wrote|authored|are\s+the\s+authors|is\s+the\s+(?:first\s+|last\s+)?author)"
                rf"|{_ACTING}\bauthors?\s+of\b(?!.*\b{_SAY}\w*)"
                r"|\bhow\s+many\s+(?:co-?)?authors\b|\bauthor\s+list\b|\bposter\s+number\b|\b(?:which|what)\s+room\b")
# The question asks for a listing field of one paper named by its title ("Who wrote X?", "How many authors does X have?").
ATTRIBUTE = re.compile(_FIELD_ASKED + r"|\bwhere\s+(?:was|were|is|are)\b|\bwhich\s+(?:session|tier|page)\b"
                       r"|\bwhat\s+(?:session|tier|award|page)\b", re.I)
# ... of one paper named by its content, not its title: stricter than ATTRIBUTE ("Where is the gain
# coming from?" is not a question about a room).
FIELD = re.compile(_FIELD_ASKED + r"|\bwhere\s+(?:was|were)\b.*\b(?:presented|held|shown)\b"
                   r"|\b(?:which|what)\s+(?:session|tier|award|page)\b", re.I)
TIER_ORDER = ("top 5%", "top 25%", "poster accept")
MULTI_PAGE = re.compile(r"\bmore\s+than\s+one\s+(?:of\s+the\s+)?(?:listing\s+)?pages?\b"
                        r"|\b(?:several|multiple|two\s+or\s+more|different|two|both)\s+(?:listing\s+)?pages\b", re.I)
SOLO = re.compile(r"(?<!than\s)\b(?:single|sole|solo|one|only\s+one)[\s-]+authors?(?:ed)?\b|\bauthored\s+alone\b|\bsolo\s+papers?\b", re.I)
COUNT = re.compile(r"\bhow\s+many\b|\bnumber\s+of\s+(?:papers|posters|orals|entries|works)\b|\bcount\b", re.I)
# A count of papers ("How many papers are about diffusion?"), not a number inside one ("How many GPUs ...?").
COUNT_PAPERS = re.compile(r"\bhow\s+many\s+(?:[\w%-]+\s+){0,3}?(?:papers|posters|orals|works|articles|entries|studies)\b"
                          r"|\bnumber\s+of\s+(?:papers|posters|orals|entries|works)\b", re.I)
YES_NO = re.compile(r"^(?:is|was|are|were|did|does|do|has|have|had|can|could)\b", re.I)
EXISTS = re.compile(r"^(?:is|are|was|were)\s+(?:there|any)\b|^(?:is|was)\s+anything\b|^(?:has|have|did|does|do)\s+any(?:one|body)?\b", re.I)
LIST_FORM = re.compile(r"^(?:which|what)\b(?:\s+\S+){0,5}?\s+(?:papers|posters|orals|works|entries|ones|articles|titles)\b"
                       r"|^(?:list|show|name|find|give|enumerate|tell)\b|\b(?:which|what)\s+(?:papers|posters|orals)\b"
                       r"|^what\s+(?:was|is|were)\s+(?:in|on)\b|^what\s+(?:else\s+)?(?:has|did)\b"
                       r"|^which\b|\bamong\b.*\bwhich\b|\bwhich\s+(?:of\s+(?:them|these|those)|ones?)\b"
                       # "what's in the oral track ...", "any single-author posters?", "poster-accept papers on privacy?"
                       r"|^what['’]?s\s+(?:in|on)\b|^(?:any|anything|all|every)\b"
                       r"|^(?:[\w%'’-]+\s+){0,4}?(?:papers|posters|orals|talks|works)\b", re.I)
# Words that shape a listing question but name no topic (compared after stemming).
LISTING_WORDS = """
session sessions oral orals poster posters presentation presentations presented present tier tiers rated rating rate
award awards awarded winning won win prize accepted accept top percent page pages number numbers author authors
coauthor coauthors coauthored co authored write wrote written by with and or the a an in on of for to at as all every
there here these list show give name names count total many how also together appear appears appeared their his her
he she him which were person virtual virtually rather than just only single sole solo one listed listing listings
collection iclr neurips icml conference venue 2023 got get has have had did does do is are was were it its they them
track room publish published paper papers work works entry entries article articles title titles both jointly same
co-author co-authored co-authors in-person number there's what's who whose someone anyone else any outstanding
honorable honourable mention mentions best regular selected people person's first second third fourth fifth last
deal deals dealing concern concerns concerned address addresses addressing cover covers covering focus focuses focused
discuss discusses discussing study studies studying tackle tackles regarding related relate relating topic topics
receive received receiving given gave earn earned obtain obtained include included includes contain contained
feature featured features belong belongs go went come came exactly overall altogether totally anything something
from among me us show tell please up down out made make makes making think believe guess wonder know sure plain either neither
one two three four five six seven eight nine ten eleven twelve twenty lowest highest smallest largest range through thru
""".split()


@dataclass(frozen=True)
class Route:
    """What the router found in a question and the path it chose."""

    name: str  # "metadata", "mixed" or "retrieval"
    lookup: Lookup = field(default_factory=Lookup)
    form: str = "other"  # "count", "list", "yesno" or "other"
    topic: str = ""  # the question's content words, for ranking within the filtered set
    unknown_authors: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    # asks a listing field of one paper named by its content ("Who wrote the PIXEL paper?"), or, with a
    # lookup and form "yesno", whether that paper has it ("Is TimesNet one of the top-25% papers?")
    field_of: bool = False

    @property
    def lists(self) -> bool:
        """Whether the answer is a list of papers (a list or count question)."""
        return self.form in ("list", "count")


def _first(patterns: list[tuple[re.Pattern[str], str]], question: str, spans: list[tuple[int, int]]) -> tuple[str | None, list[str]]:
    """The value of the earliest matching pattern (several may match: "virtually rather than in person")."""
    hits = []
    for pattern, value in patterns:
        for m in pattern.finditer(question):
            spans.append(m.span())
            hits.append((m.start(), value))
    if not hits:
        return None, []
    hits.sort()
    return hits[0][1], [v for _, v in hits]


def _tiers(question: str, spans: list[tuple[int, int]]) -> str | None:
    """The tier(s) asked for: one, several joined by "|" ("top 5% or top 25%"), or the rest when all are negated."""
    hits: list[tuple[int, str, bool]] = []
    for pattern, value in TIER_PATTERNS:
        for m in pattern.finditer(question):
            spans.append(m.span())
            negated = bool(NEGATION.search(question[max(0, m.start() - 24):m.start()]))
            hits.append((m.start(), value, negated))
    if not hits:
        return None
    hits.sort()
    wanted = [v for _, v, neg in hits if not neg]
    if not wanted:  # "papers not in the top 5% or top 25%"
        wanted = [t for t in TIER_ORDER if t not in {v for _, v, _ in hits}]
    elif len(wanted) > 1 and not re.search(r"\b(?:or|either|and)\b", question, re.I):
        wanted = wanted[:1]
    return "|".join(dict.fromkeys(wanted)) or None


def _poster_range(q: str, listings: Listings, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Posters #lo to #hi asked for: "#20-#29", "between 20 and 29", "in the 130s", "150 and up", "below 30".

    An open end is the collection's lowest or highest poster number; a range wholly outside them
    ("posters from 2023") is no poster range."""
    m = POSTER_RANGE.search(q)
    if m:
        spans.append(m.span())
        lo, hi = sorted(int(g) for g in m.groups() if g)
        return lo, hi
    if not POSTER_CONTEXT.search(q) or not listings.poster_bounds:
        return None
    low, high = listings.poster_bounds
    found: tuple[int, int] | None = None
    m = SPAN.search(q)
    if m:
        lo, hi = sorted(int(g) for g in m.groups() if g)
        found = (lo, hi)
    elif (m := DECADE.search(q)):
        step = 100 if m.group(2) == "00" else 10
        base = int(m.group(1)) * step
        found = (base, base + step - 1)
    else:
        for patterns, at_least in ((AT_LEAST, True), (AT_MOST, False)):
            for k, pattern in enumerate(patterns):
                if found is None and (m := pattern.search(q)):
                    n = int(m.group(1)) + ((1 if at_least else -1) if k == 2 else 0)  # the third pattern is strict
                    found = (n, max(high, n)) if at_least else (min(low, n), n)
    if m is None or found is None or found[0] > high or found[1] < low:
        return None
    spans.append(m.span())
    return found


def _room(question: str, listings: Listings, spans: list[tuple[int, int]]) -> str | None:
    """A listed room the question names ("in the auditorium", "room MH1-2-3-4")."""
    for room in listings.rooms:
        parts = re.findall(r"[^\W\d_]+|\d+", room)
        m = re.search(r"\b" + r"[\s-]*".join(re.escape(x) for x in parts) + r"\b", question, re.I) if parts else None
        if m:
            spans.append(m.span())
            return room
    return None


def _title_in(question: str, listings: Listings) -> str | None:
    """The id of the paper whose whole title (two words or more) the question quotes, the longest one if several."""
    text = f" {' '.join(name_tokens(question))} "
    found = [(len(key), pid) for key, pid in listings.titles.items() if f" {key} " in text]
    return max(found)[1] if found else None


def _sessions(question: str, listings: Listings, spans: list[tuple[int, int]]) -> str | None:
    low = question.lower()
    for session in listings.sessions:
        head = session.split(":")[0].strip().lower()
        pattern = r"\b" + r"\s*".join(re.escape(w) for w in head.split()) + r"\b"
        m = re.search(pattern, low)
        if m:
            spans.append(m.span())
            return session
    for kind in ("poster", "oral"):  # "the poster session": the one session of that kind, when there is one
        m = re.search(rf"\b(?:the|this|that)\s+{kind}\s+session\b", low)  # not "which poster session": that asks for one
        if m:
            named = [s.session for s in listings.pages if s.session and s.kind == f"{kind} session"]
            if len(set(named)) == 1:
                spans.append(m.span())
                return named[0]
    return None


@lru_cache(maxsize=1)
def _stop_terms() -> frozenset[str]:
    """Stems of the words that carry no topic: listing vocabulary and question words."""
    from .coverage import QUESTION_WORDS
    from .index import bm25_query_tokens

    return frozenset(bm25_query_tokens(" ".join(LISTING_WORDS + sorted(QUESTION_WORDS))))


def route(question: str, listings: Listings) -> Route:
    """The path for `question`, with the lookup and topic it found and the reasons (see module doc)."""
    from .index import bm25_query_tokens

    q = " ".join(question.split())
    spans: list[tuple[int, int]] = []
    reasons: list[str] = []
    lookup = Lookup()
    session = _sessions(q, listings, spans)
    if session:
        lookup = replace(lookup, session=session)
        reasons.append(f"session {session!r}")
    room = _room(q, listings, spans)
    if room:
        lookup = replace(lookup, room=room)
        reasons.append(f"room {room!r}")
    for m in PAGE.finditer(q):
        ref = m.group(1) or str(ORDINALS.get(m.group(2).lower(), len(listings.pages)))
        page = listings.page_for(ref)
        if page:
            spans.append(m.span())
            lookup = replace(lookup, page=page.page)
            reasons.append(f"listing page {page.ordinal}")
            break
    found = _poster_range(q, listings, spans)
    if found:
        lo, hi = found
        lookup = replace(lookup, poster_range=(lo, hi))
        reasons.append(f"posters #{lo} to #{hi}")
    m = POSTER_EXTREMES.search(q)
    if m:
        spans.append(m.span())
        lookup = replace(lookup, poster_extremes=True)
        reasons.append("the lowest and highest poster numbers")
    for m in POSTER_NUMBER.finditer(q):
        if not any(a <= m.start() < b for a, b in spans):
            spans.append(m.span())
            lookup = replace(lookup, poster=f"#{int(m.group(1))}")
            reasons.append(f"poster #{int(m.group(1))}")
            break
    award, _ = _first(AWARDS, q, spans)
    if award and NEGATED_AWARD.search(q):
        award = "none"  # "Which top 5% posters did not receive any award?"
    if award:
        named = [a for a in listings.awards if award != "any" and a.lower() == award.lower()]
        lookup = replace(lookup, award=named[0] if named else award)
        reasons.append(f"award {lookup.award!r}")
    tier = _tiers(q, spans)
    if tier:
        lookup = replace(lookup, tier=tier)
        reasons.append(f"tier {tier!r}")
    presentation, named = _first(PRESENTATION_PATTERNS, q, spans)
    if presentation in ("oral", "poster") and ({"virtual", "in-person"} & set(named)):
        presentation = next(v for v in named if v in ("virtual", "in-person"))  # "poster presentations held virtually"
    if presentation in ("oral", "poster") and ORAL_OR_POSTER.search(q):
        presentation = None  # "which one was an oral and which a poster?" asks to tell them apart, not to filter
        reasons.append("orals and posters both named: the presentation is asked, not a filter")
    if presentation:
        lookup = replace(lookup, presentation=presentation)
        reasons.append(f"presentation {presentation!r}")
    if SOLO.search(q):
        spans.append(SOLO.search(q).span())  # type: ignore[union-attr]
        lookup = replace(lookup, solo=True)
        reasons.append("single-author papers")
    for k, pattern in enumerate(MIN_AUTHORS):
        m = pattern.search(q)
        if m and not lookup.min_authors:
            spans.append(m.span())
            n = next(g for g in m.groups() if g)
            lookup = replace(lookup, min_authors=(NUMBERS.get(n.lower()) or int(n)) + k)
            reasons.append(f"papers with {lookup.min_authors} or more authors")
    m = N_AUTHORS.search(q)
    if m and not lookup.solo and not lookup.min_authors:
        spans.append(m.span())
        lookup = replace(lookup, n_authors=NUMBERS.get(m.group(1).lower()) or int(m.group(1)))
        reasons.append(f"papers with {lookup.n_authors} authors")
    m = MULTI_PAGE.search(q)
    if m:
        spans.append(m.span())
        lookup = replace(lookup, multi_page=True)
        reasons.append("papers listed on more than one page")
    for pattern, key, why in ((SHARED_AUTHOR, "shared_author", "authors with more than one paper"),
                              (MULTI_AUTHOR, "multi_author", "papers with more than one author"),
                              (MOST_AUTHORS, "most_authors", "the paper(s) with the most authors")):
        m = pattern.search(q)
        if m:
            spans.append(m.span())
            lookup = replace(lookup, **{key: True})
            reasons.append(why)
    unknown: list[str] = []
    authors = known_authors(q, listings, spans, reasons, unknown)
    unknown += unlisted_names(q, listings, spans, reasons, authors)
    if authors:
        lookup = replace(lookup, authors=tuple(dict.fromkeys(authors)))

    form = "count" if COUNT_PAPERS.search(q) or (lookup and COUNT.search(q)) else "list" if (EXISTS.search(q) or LIST_FORM.search(q)) else (
        "yesno" if YES_NO.search(q) else "other")
    kept = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(q))
    stop = _stop_terms()
    # every leftover content word: a content question's query, and what a yes/no question names its paper by
    residue = " ".join(w for w, _, _ in word_spans(kept) if (t := bm25_query_tokens(w)) and not set(t) <= stop)
    topic = topic_of(kept, listings, stop, reasons) if lookup else residue

    # A listing field asked in the clauses that ask, not named in a context sentence ("I must decide who
    # wrote a single handwritten word. Which paper identifies the writer?": a content question).
    asking = " ".join(p.text for p in question_parts(q))
    if ATTRIBUTE.search(asking) and form != "yesno" and not unknown:
        paper_id = _title_in(q, listings)
        if paper_id:  # "Who wrote 'DenseShift: ...'?": that paper's own listing answers it
            title = listings.by_id[paper_id].title
            return Route("metadata", Lookup(paper=paper_id), "count" if COUNT.search(q) else "other", "", (),
                         tuple(reasons + [f"a listing field of the paper titled {title!r}"]))
        if not lookup and residue and FIELD.search(asking):  # "Who wrote the PIXEL paper?": the best match's listing answers it
            return Route("retrieval", Lookup(), "count" if COUNT.search(q) else "other", residue, (),
                         tuple(reasons + [f"a listing field of the paper about {residue!r}: the best-matching paper's listing answers it"]),
                         field_of=True)
    if unknown:
        return Route("metadata", lookup, form, topic, tuple(dict.fromkeys(unknown)), tuple(reasons + ["an unknown author: nothing to list"]))
    if not lookup and form == "count" and not topic:  # "How many papers (posters) are there?": the whole collection
        if re.search(r"\bposters\b", q, re.I):
            lookup = Lookup(presentation="poster")
        return Route("metadata", lookup, form, topic, (), tuple(reasons + ["a count of the whole collection"]))
    if not lookup:
        return Route("retrieval", lookup, form, topic, (), tuple(reasons + ["no listing field named"]))
    # "Is TimesNet one of the top-25% papers?": a topic, or leftover words that the texts use, name the paper
    if form == "yesno" and not lookup.authors and (topic or (residue and set(name_tokens(residue)) <= listings.text_words)):
        return Route("retrieval", lookup, form, residue, (), tuple(reasons + [
            f"a yes/no question about a paper named by its content ({residue!r}): its own listing line answers it"]), field_of=True)
    if not topic:
        return Route("metadata", lookup, form, topic, (), tuple(reasons + ["listing fields only: an exact lookup"]))
    return Route("mixed", lookup, form, topic, (), tuple(reasons + [f"topic {topic!r} ranked within the lookup"]))


__all__ = ["Route", "route", "LISTING_WORDS"]
