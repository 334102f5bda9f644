"""Exact, complete lookups over the listing metadata: authors, awards, tiers, sessions, pages, posters.

The listing pages say who wrote each paper, how it was presented ("In-Person Poster presentation /
top 5% paper"), its poster number, session and award. `Listings` indexes those fields of every paper
so a question such as "Which papers did Sewoong Oh co-author?" is answered by a lookup that returns
every match, never a top-k cut of a ranked list.

Author names match tolerant of accents, case, initials and middle names:

>>> name_matches("Petar Velickovic", "Petar Veličković"), name_matches("J. Hayase", "Jonathan Hayase")
(True, True)
>>> name_matches("Jonas Lotz", "Jonas F. Lotz"), name_matches("Jonas Lotz", "Jonas Hayase")
(True, False)

Does not: rank by relevance (rag.retrieve does), or guess metadata a page does not state: papers of
pages without author lists are reported as such, never as having no authors.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Iterable

from .types import Paper

if TYPE_CHECKING:
    from .spelling import Speller
    from .acronyms import Acronyms

# The tiers the ICLR poster pages print after "presentation /", in the words people use for them.
TIERS = {"top 5%": "top 5% paper", "top 25%": "top 25% paper", "poster accept": "poster accept"}
PRESENTATIONS = ("oral", "poster", "virtual", "in-person")


def name_tokens(name: str) -> tuple[str, ...]:
    """Lower-case, accent-free word tokens of a name ("Jung-Woo Ha" -> ('jung', 'woo', 'ha'))."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("ł", "l").replace("ø", "o").replace("đ", "d").replace("ß", "ss")
    return tuple(re.findall(r"[a-z0-9]+", text))


def _given_match(q: str, a: str) -> bool:
    """A given name against another: equal, or one is the other's initial ("J" ~ "Jonathan")."""
    return q == a or (len(q) == 1 and a.startswith(q)) or (len(a) == 1 and q.startswith(a))


# Common short forms of given names whose long form does not start with the short one (those that do,
# "Geoff" for "Geoffrey", "Alex" for "Alexander", are matched as prefixes). Only forms that keep the
# initial: "Bill" for "William" is left out, as a short form must agree with the listed initial.
SHORT_FORMS = {
    "andy": ("andrew", "andreas"), "bart": ("bartholomew",), "becky": ("rebecca",), "betsy": ("elizabeth",),
    "chuck": ("charles",), "danny": ("daniel",), "davy": ("david",), "dave": ("david",), "ed": ("edward", "edwin", "edmund"),
    "fred": ("frederick", "frederic", "friedrich"), "jake": ("jacob",), "jim": ("james",), "jimmy": ("james",),
    "joe": ("joseph",), "joey": ("joseph",), "johnny": ("john", "jonathan"), "kathy": ("katherine", "kathleen"),
    "katie": ("katherine", "katharina"), "kate": ("katherine", "katharina", "kateryna"), "larry": ("lawrence",),
    "liz": ("elizabeth",), "mandy": ("amanda",), "mike": ("michael", "mikhail"), "mick": ("michael",),
    "misha": ("mikhail",), "nate": ("nathan", "nathaniel"), "pete": ("peter",), "ray": ("raymond",),
    "rick": ("richard",), "ricky": ("richard",), "sandy": ("sandra", "alexandra"), "steve": ("stephen", "steven", "stefan"),
    "tom": ("thomas",), "tommy": ("thomas",), "tony": ("anthony", "antonio"), "zack": ("zachary",), "zach": ("zachary",),
}


def _short_form(q: str, a: str) -> bool:
    """Whether given name `q` is a common short form of the listed `a`: a prefix of 3+ letters ("Geoff" ~
    "Geoffrey") or an entry of SHORT_FORMS ("Mike" ~ "Michael"); both keep the initial."""
    return q != a and q[:1] == a[:1] and ((len(q) >= 3 and a.startswith(q)) or a in SHORT_FORMS.get(q, ()))


def name_matches(query: str | tuple[str, ...], author: str | tuple[str, ...], short_forms: bool = False) -> bool:
    """Whether a name as asked denotes an author as listed.

    Surnames must be equal; a given first name must match the listed first name or its initial
    (`short_forms`: or be a common short form of it, "Geoff" for "Geoffrey"); middle names and
    middle initials are ignored (pages drop or add them). A surname alone matches every author of
    that surname.
    """
    q = name_tokens(query) if isinstance(query, str) else query
    a = name_tokens(author) if isinstance(author, str) else author
    if not q or not a or q[-1] != a[-1]:
        return False
    if len(q) == 1:
        return True
    return len(a) > 1 and (_given_match(q[0], a[0]) or (short_forms and _short_form(q[0], a[0])))


@dataclass(frozen=True)
class Lookup:
    """A structured query; every given field must hold (authors: every name must be a co-author)."""

    authors: tuple[str, ...] = ()
    award: str | None = None  # a label ("Outstanding Paper"), "any", or "none" (no award)
    tier: str | None = None  # a key of TIERS; several joined by "|" match any of them ("top 5%|top 25%")
    presentation: str | None = None  # one of PRESENTATIONS
    session: str | None = None  # a session name as listed
    room: str | None = None  # a room as its page names it ("Auditorium")
    page: str | None = None  # a page id
    poster: str | None = None  # "#57"
    poster_range: tuple[int, int] | None = None  # posters #lo to #hi, inclusive
    poster_extremes: bool = False  # the lowest and the highest poster number
    paper: str | None = None  # one paper, named by its title in the question (its id)
    min_authors: int | None = None  # papers with at least this many listed authors
    solo: bool = False  # single-author papers
    n_authors: int | None = None  # papers with exactly this many listed authors
    multi_page: bool = False  # papers listed on more than one page
    multi_author: bool = False  # papers with two or more listed authors
    shared_author: bool = False  # papers with an author who has another paper here
    most_authors: bool = False  # the paper(s) with the longest author list

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def describe(self, pages: dict[str, str] | None = None) -> str:
        """The lookup in words, for answers: "by Sewoong Oh, rated top 5%" (`pages`: page id -> name)."""
        parts = []
        if self.authors:
            parts.append("by " + " and ".join(self.authors))
        if self.award:
            parts.append({"any": "with an award", "none": "without an award"}.get(self.award, f"with the {self.award} award"))
        if self.tier:
            parts.append(" or ".join(f"rated {t}" if t != "poster accept" else "accepted as regular posters" for t in self.tier.split("|")))
        if self.presentation:
            parts.append({"oral": "presented as orals", "poster": "presented as posters", "virtual": "presented virtually",
                          "in-person": "presented in person"}[self.presentation])
        if self.session:
            parts.append(f"in {self.session}")
        if self.room:
            parts.append(f"presented in {self.room}")
        if self.page:
            parts.append(f"listed on {(pages or {}).get(self.page, 'page ' + self.page)}")
        if self.poster:
            parts.append(f"poster {self.poster}")
        if self.poster_range:
            parts.append(f"at posters #{self.poster_range[0]} to #{self.poster_range[1]}")
        if self.poster_extremes:
            parts.append("at the lowest and the highest poster number")
        if self.min_authors:
            parts.append(f"with {self.min_authors} or more authors")
        if self.solo:
            parts.append("with a single author")
        if self.n_authors:
            parts.append(f"with exactly {self.n_authors} authors")
        if self.multi_page:
            parts.append("listed on more than one page")
        if self.multi_author:
            parts.append("with more than one listed author")
        if self.shared_author:
            parts.append("with an author who has more than one paper here")
        if self.most_authors:
            parts.append("with the most authors")
        return ", ".join(parts) or "in the collection"


@dataclass(frozen=True)
class PageSummary:
    """One listing page as its records describe it."""

    page: str
    ordinal: int  # 1-based position among the pages (sorted by page id)
    papers: int
    session: str | None
    kind: str  # "oral session", "poster session" or "paper listing"
    has_authors: bool

    @property
    def name(self) -> str:
        """"page 2 (Poster Session 3)"."""
        return f"page {self.ordinal} ({self.session or self.kind})"

    @property
    def label(self) -> str:
        """"Poster Session 3 (page 2 of 5)"-style name without the count."""
        return f"{self.session or self.kind} (page {self.ordinal})"


class Listings:
    """The listing metadata of a collection, indexed for exact lookups."""

    def __init__(self, papers: Iterable[Paper]):
        self.papers: list[Paper] = list(papers)
        self.by_id = {p.paper_id: p for p in self.papers}
        self._speller: Speller | None = None
        self._acronyms: Acronyms | None = None
        pages: dict[str, list[Paper]] = {}
        for p in self.papers:
            for page in p.pages:
                pages.setdefault(page, []).append(p)
        self.pages: list[PageSummary] = []
        for n, page in enumerate(sorted(pages), 1):
            members = pages[page]
            # A page's session and kind are those of most of its papers: a paper listed on a session page
            # and on a plain listing carries the session's metadata to both.
            sessions = [p.session for p in members if p.session]
            session = max(set(sessions), key=sessions.count) if len(sessions) * 2 > len(members) else None
            shown = [(p.presentation or "").lower() for p in members if p.presentation]
            kind = "paper listing" if len(shown) * 2 <= len(members) else (
                "oral session" if all(s.startswith("oral") for s in shown) else "poster session")
            self.pages.append(PageSummary(page, n, len(members), session, kind,
                                          sum(bool(p.authors) for p in members) * 2 > len(members)))
        self.page_by_id = {s.page: s for s in self.pages}
        self.page_names = {s.page: s.name for s in self.pages}
        self.authors: dict[str, list[str]] = {}  # name as listed -> paper ids
        for p in self.papers:
            for a in p.authors:
                self.authors.setdefault(a, []).append(p.paper_id)
        self._tokens = {a: name_tokens(a) for a in self.authors}
        self.by_surname: dict[str, list[str]] = {}
        for a, toks in self._tokens.items():
            if toks:
                self.by_surname.setdefault(toks[-1], []).append(a)
        self.awards = sorted({p.award for p in self.papers if p.award})
        numbers = [int(p.poster_number.lstrip("#")) for p in self.papers if (p.poster_number or "").lstrip("#").isdigit()]
        self._poster_extremes = {min(numbers), max(numbers)} if numbers else set()
        self.poster_bounds = (min(numbers), max(numbers)) if numbers else None
        # Words of the titles and abstracts: a listed surname that is none of them cannot be a topic word.
        self.text_words = {w for p in self.papers for w in name_tokens(f"{p.title} {p.abstract}")}
        self.titles = {" ".join(name_tokens(p.title)): p.paper_id for p in self.papers if len(name_tokens(p.title)) >= 2}
        # A paper's own name, the head of a "Name: subtitle" title ("TimesNet", "Mamba-ND", "Codebook Features"):
        # one or two words with a capital letter, kept only when a single paper has it.
        heads: dict[str, list[str]] = {}
        for p in self.papers:
            head = p.title.split(":")[0].strip() if ":" in p.title else ""
            if head and len(head.split()) <= 2 and any(ch.isupper() for ch in head):
                heads.setdefault(head, []).append(p.paper_id)
        self.names = {h: ids[0] for h, ids in heads.items() if len(set(ids)) == 1}
        self.sessions = sorted({p.session for p in self.papers if p.session})
        self.rooms = sorted({p.room for p in self.papers if p.room})
        self.tiers = [k for k, v in TIERS.items() if any(v in (p.presentation or "") for p in self.papers)]

    @property
    def speller(self) -> "Speller":
        """Typo correction against these papers' titles and abstracts (rag.spelling), built on first use."""
        if self._speller is None:
            from .spelling import Speller

            self._speller = Speller(f"{p.title} {p.abstract}" for p in self.papers)
        return self._speller

    @property
    def acronyms(self) -> Acronyms:
        """The acronyms these papers write only in full (rag.acronyms), built on first use."""
        if self._acronyms is None:
            from .acronyms import Acronyms

            self._acronyms = Acronyms(f"{p.title} {p.abstract}" for p in self.papers)
        return self._acronyms

    def written(self, text: str) -> str:
        """`text` with its chat shorthand and the acronyms these papers write only in full written out
        (rag.shorthand, `acronyms`), then its typos corrected to these papers' words (`speller`): what
        `correct_typos` retrieves with, judges and hands the writer."""
        from .shorthand import expand

        return self.speller.correct(self.acronyms.expand(expand(text)))

    def named_paper(self, text: str, strict: bool = False) -> str | None:
        """The paper whose own name (see `names`) the text holds as a word, exactly as written; the
        longest name when several ("Is Sequencer a top-25% paper?" -> the Sequencer paper).
        `strict`: a two-word name ("Representation Learning") only as "the <name> paper"."""
        words = [w.strip(".,;!?\"'()[]") for w in text.split()]
        found = [(len(c), c) for n in (2, 1) for i in range(len(words) - n + 1) if (c := " ".join(words[i:i + n])) in self.names]
        if strict:
            found = [(n, c) for n, c in found if " " not in c or re.search(rf"\b{re.escape(c)}\s+paper\b", text)]
        return self.names[max(found)[1]] if found else None

    # ---- authors --------------------------------------------------------------------------------
    def authors_named(self, name: str) -> list[str]:
        """Authors of the collection (as listed) that `name` denotes, e.g. "S. Oh" -> ["Sewoong Oh"]."""
        q = name_tokens(name)
        if not q:
            return []
        same = self.by_surname.get(q[-1], [])
        # A short form ("Geoff Hinton") is tried only when the name as written matches no one.
        return [a for a in same if name_matches(q, self._tokens[a])] or \
            [a for a in same if name_matches(q, self._tokens[a], short_forms=True)]

    def suggest(self, name: str) -> str | None:
        """The listed author closest to a name that matches none ("Sewong Oh" -> "Sewoong Oh"), if any is close."""
        key = " ".join(name_tokens(name))
        keys = {" ".join(t): a for a, t in self._tokens.items()}
        close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.8)
        return keys[close[0]] if close else None

    @property
    def pages_without_authors(self) -> list[PageSummary]:
        return [s for s in self.pages if not s.has_authors]

    # ---- lookups --------------------------------------------------------------------------------
    def page_for(self, ref: str) -> PageSummary | None:
        """A page from its id, id prefix ("002"), 1-based position ("3") or session name."""
        ref = ref.strip()
        if ref.isdigit() and len(ref) < 3 and 1 <= int(ref) <= len(self.pages):
            return self.pages[int(ref) - 1]
        low = ref.lower()
        for s in self.pages:
            if s.page == ref or s.page.startswith(ref) or (s.session and s.session.lower() == low):
                return s
        return None

    def matches(self, paper: Paper, lookup: Lookup) -> bool:
        pres = (paper.presentation or "").lower()
        if lookup.authors and not all(set(self.authors_named(n)) & set(paper.authors) for n in lookup.authors):
            return False
        if lookup.award == "none":
            if paper.award:
                return False
        elif lookup.award and not (paper.award and (lookup.award == "any" or lookup.award.lower() in paper.award.lower())):
            return False
        if lookup.tier and not any(TIERS[t] in pres for t in lookup.tier.split("|")):
            return False
        if lookup.paper and paper.paper_id != lookup.paper:
            return False
        number = int(paper.poster_number.lstrip("#")) if (paper.poster_number or "").lstrip("#").isdigit() else None
        if lookup.poster_range and not (number is not None and lookup.poster_range[0] <= number <= lookup.poster_range[1]):
            return False
        if lookup.poster_extremes and (number is None or number not in self._poster_extremes):
            return False
        if lookup.min_authors and len(paper.authors) < lookup.min_authors:
            return False
        if lookup.presentation == "oral" and not pres.startswith("oral"):
            return False
        if lookup.presentation == "poster" and "poster" not in pres:
            return False
        if lookup.presentation in ("virtual", "in-person") and not pres.startswith(lookup.presentation):
            return False
        if lookup.session and (paper.session or "").lower() != lookup.session.lower():
            return False
        if lookup.room and (paper.room or "").lower() != lookup.room.lower():
            return False
        if lookup.page and lookup.page not in paper.pages:
            return False
        if lookup.poster and (paper.poster_number or "").lstrip("#") != lookup.poster.lstrip("#"):
            return False
        if lookup.solo and len(paper.authors) != 1:
            return False
        if lookup.n_authors and len(paper.authors) != lookup.n_authors:
            return False
        if lookup.multi_page and len(paper.pages) < 2:
            return False
        if lookup.multi_author and len(paper.authors) < 2:
            return False
        if lookup.shared_author and not any(len(self.authors.get(a, ())) > 1 for a in paper.authors):
            return False
        if lookup.most_authors and len(paper.authors) < max((len(p.authors) for p in self.papers), default=0):
            return False
        return True

    def find(self, lookup: Lookup) -> list[Paper]:
        """Every paper the lookup matches, in listing order (complete: no ranking, no cut)."""
        return [p for p in self.papers if self.matches(p, lookup)]

    def search(self, author: str | None = None, award: str | None = None, tier: str | None = None,
               page: str | None = None, presentation: str | None = None, session: str | None = None,
               poster: str | None = None) -> list[Paper]:
        """`find` with loosely written values, as the CLI and the API take them ("top-5", "3", "outstanding")."""
        lookup = Lookup(authors=tuple(a.strip() for a in (author or "").split(";") if a.strip()),
                        award=("any" if (award or "").strip().lower() in ("any", "yes", "*") else award) or None,
                        tier=normalize_tier(tier) if tier else None,
                        presentation=(presentation or "").strip().lower() or None,
                        session=self._session_for(session) if session else None, poster=poster or None)
        if tier and lookup.tier is None:
            raise ValueError(f"unknown tier {tier!r}; use one of: {', '.join(TIERS)}")
        if lookup.presentation and lookup.presentation not in PRESENTATIONS:
            raise ValueError(f"unknown presentation {presentation!r}; use one of: {', '.join(PRESENTATIONS)}")
        if page:
            found = self.page_for(page)
            if found is None:
                raise ValueError(f"no page {page!r}; pages are 1-{len(self.pages)} or their ids: "
                                 + ", ".join(s.page for s in self.pages))
            lookup = replace(lookup, page=found.page)
        return self.find(lookup)

    def _session_for(self, text: str) -> str:
        low = text.strip().lower()
        return next((s for s in self.sessions if low in s.lower()), text.strip())

    def prolific(self) -> dict[str, int]:
        """Authors listed on more than one paper, with their paper counts, most first."""
        many = {a: len(ids) for a, ids in self.authors.items() if len(ids) > 1}
        return dict(sorted(many.items(), key=lambda kv: (-kv[1], kv[0])))

    # ---- describing the collection ----------------------------------------------------------------
    def describe(self, short: bool = False) -> str:
        """The collection in one line, from its records (`short`: session names cut at their colon).

        e.g. "525 papers from 5 listing pages: Oral 6 Track 5: ... (8), Poster Session 3 (135), 3 paper listings (264, 77, 56)"
        """
        named = [f"{(s.session.split(':')[0] if short else s.session)} ({s.papers})" for s in self.pages if s.session]
        plain = [s for s in self.pages if not s.session]
        if plain:
            counts = ", ".join(str(s.papers) for s in plain)
            named.append(f"{len(plain)} paper listing{'s' if len(plain) > 1 else ''} ({counts})")
        pages = f"{len(self.pages)} listing page{'s' if len(self.pages) != 1 else ''}"
        return f"{len(self.papers):,} papers from {pages}: " + ", ".join(named)

    def metadata_line(self, paper: Paper) -> str:
        """What the listing says about a paper, as one cited passage ("Authors: ... Presentation: ...")."""
        from .corpus import iter_fields

        parts = [f"{label}: {value}." for label, value in iter_fields(paper)]
        if paper.room:  # said in answers' passages, kept out of the indexed metadata chunk (retrieval stays as it was)
            parts.append(f"Room: {paper.room}.")
        listed = "; ".join(self.page_by_id[p].label for p in paper.pages if p in self.page_by_id)
        return " ".join(parts + ([f"Listed on: {listed}."] if listed else []))


def normalize_tier(text: str) -> str | None:
    """"top-5", "Top 5%", "top five percent" -> "top 5%"; "poster accept" as is; else None."""
    low = text.strip().lower().replace("-", " ")
    if re.search(r"\b(5|five)\b", low) and "25" not in low:
        return "top 5%"
    if re.search(r"\b(25|twenty five)\b", low):
        return "top 25%"
    if "accept" in low or "regular" in low:
        return "poster accept"
    return None


__all__ = ["Listings", "Lookup", "PageSummary", "TIERS", "name_matches", "name_tokens", "normalize_tier"]
