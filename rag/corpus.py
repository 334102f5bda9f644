"""Corpus files -> one `Paper` record per distinct paper.

Reads three listing-page layouts (ICLR oral session, ICLR poster session, paper-listing pages) and
user collections in JSONL or CSV (a BEIR `corpus.jsonl` as it is: `_id`, `title`, `text`), streaming
them line by line. A record's `id` (or `_id`, `doc_id`, `paper_id`, or the field named in settings)
is kept as the paper id; the abstract comes from `abstract`, `text`, `content` or `summary` (or the
named field).

Records merge only when they are the same paper: the same id, or (without ids) the same title and
the same abstract (equal once case, punctuation and markup are ignored, or >= 95% the same
characters: one text rendered twice, e.g. LaTeX and plain). A merged paper keeps every page and the
listing metadata (session, presentation, poster number, award); every merge is reported in
`Corpus.merges`. Same title with another abstract stays two papers (with a warning). Page chrome
("Subscribe", "Mar 20", ...) never reaches a record.

Does not: fetch pages, parse HTML, or guess metadata a page does not state.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .errors import CorpusError
from .records import ABSTRACT_FIELDS, AUTHOR_SEP, ID_FIELDS, Listing, _read_csv, _read_jsonl, split_authors  # noqa: F401
from .types import Paper

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")
SAME_TEXT_RATIO = 0.95

# Lines of page furniture seen on the listing pages; compared case-insensitively after stripping.
CHROME_LINES = {
    "skip to yearly menu bar skip to main content",
    "abstract:",
    "chat is not available.",
    "new",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
    "subscribe",
    "byak and the research community",
}
DATE_RE = re.compile(r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(, \d{4})?$", re.I)
PRESENTATION_RE = re.compile(r"^(?P<line>.*\bpresentation\s*/\s*.+)$", re.I)
POSTER_NUMBER_RE = re.compile(r"^#\d+$")
AWARD_RE = re.compile(r"^(outstanding paper|honorable mention|best paper|runner[- ]up)\b.*$", re.I)
# "SubscribeSpinNet: ..." - the chrome word glued to the first title of a page.
GLUED_CHROME_RE = re.compile(r"^Subscribe(?=[A-Z0-9])")


@dataclass
class PageInfo:
    """What was read from one corpus file."""

    page: str
    path: str
    layout: str
    listings: int
    session: str | None = None


@dataclass
class Corpus:
    """The distinct papers of a collection, plus what was read and what was skipped."""

    papers: list[Paper]
    pages: list[PageInfo]
    warnings: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)  # one line per record merged into an earlier one

    def __post_init__(self) -> None:
        self.by_id: dict[str, Paper] = {p.paper_id: p for p in self.papers}

    def __len__(self) -> int:
        return len(self.papers)

    @property
    def listings(self) -> int:
        return sum(p.listings for p in self.pages)

    @property
    def fingerprint(self) -> str:
        """Hash of every record: changes whenever a paper's text or metadata changes."""
        h = hashlib.sha256()
        for paper in sorted(self.papers, key=lambda p: p.paper_id):
            h.update(json.dumps(paper.to_dict(), sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# titles and ids

def normalize_title(title: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to match listings of one paper.

    >>> normalize_title("Few-shot Backdoor Attacks via Neural Tangent Kernels")
    'few shot backdoor attacks via neural tangent kernels'
    """
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


def paper_id_for(title: str) -> str:
    """Stable, readable id from the normalized title: a slug plus a short hash.

    >>> paper_id_for("Language Modelling with Pixels")
    'language-modelling-with-pixels-6ae7bb1d'
    """
    norm = normalize_title(title)
    slug = "-".join(norm.split())[:48].rstrip("-") or "paper"
    return f"{slug}-{hashlib.sha1(norm.encode()).hexdigest()[:8]}"


# --------------------------------------------------------------------------------------------
# listing pages

def _is_chrome(line: str) -> bool:
    return line.lower() in CHROME_LINES or bool(DATE_RE.match(line))


def _looks_like_abstract(line: str) -> bool:
    """Prose rather than a title or an author list (author lists can be longer than abstracts)."""
    if AUTHOR_SEP in line:
        return False
    # Titles can hold "?" or "..." (one is 171 characters long), so short lines need several sentences.
    sentences = len(re.findall(r"[.!?]\s+[A-Z]", line))
    return len(line) >= 300 or (len(line) >= 120 and sentences >= 3)


def _clean_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, stripped line) for non-empty, non-chrome lines; unglues 'Subscribe'."""
    out = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if not line or _is_chrome(line):
            continue
        out.append((no, GLUED_CHROME_RE.sub("", line)))
    return out


def detect_layout(text: str) -> str:
    """'iclr-poster', 'iclr-oral' or 'listing', from the page's own markers."""
    lines = [l for _, l in _clean_lines(text)]
    if any(PRESENTATION_RE.match(l) for l in lines):
        return "iclr-poster"
    if lines and lines[0].lower() == "session" and any(AUTHOR_SEP in l for l in lines[:8]):
        return "iclr-oral"
    return "listing"


def _session_header(lines: list[tuple[int, str]]) -> tuple[str | None, str | None, int]:
    """Session name, room and index of the first line after the header ('Session', name, room)."""
    if lines and lines[0][1].lower() == "session" and len(lines) > 2:
        return lines[1][1], lines[2][1], 3
    return None, None, 0


def _paper_from_group(group: list[tuple[int, str]], abstract: str, page: str, warnings: list[str], path: Path) -> Listing | None:
    """Build a listing from the lines before an abstract: [#NN] [award] title [authors...]."""
    poster = award = None
    if group and POSTER_NUMBER_RE.match(group[0][1]):
        poster = group.pop(0)[1]
    if len(group) >= 2 and AWARD_RE.match(group[0][1]):
        award = group.pop(0)[1]
    if not group:
        warnings.append(f"{path}: an abstract without a title ({abstract[:40]!r}...); skipped")
        return None
    line_no, title = group[0]
    author_lines = [l for _, l in group[1:]]
    if len(author_lines) > 1:
        warnings.append(f"{path}:{line_no}: {len(author_lines)} lines between title and abstract; read as authors")
    authors = split_authors(" · ".join(author_lines)) if author_lines else ()
    return Listing(title=title, abstract=abstract, page=page, line=line_no, authors=authors, poster_number=poster, award=award)


def parse_page(text: str, page: str, path: Path | None = None) -> tuple[list[Listing], PageInfo, list[str]]:
    """Listings of one page, its description, and warnings about blocks that were skipped."""
    path = path or Path(page)
    layout = detect_layout(text)
    lines = _clean_lines(text)
    warnings: list[str] = []
    listings: list[Listing] = []
    session, room, start = _session_header(lines) if layout != "listing" else (None, None, 0)
    body = lines[start:]

    if layout == "iclr-poster":
        # Blocks start at a presentation line; the abstract is the block's last line.
        blocks: list[tuple[str, list[tuple[int, str]]]] = []
        for no, line in body:
            if PRESENTATION_RE.match(line):
                blocks.append((line, []))
            elif blocks:
                blocks[-1][1].append((no, line))
            else:
                warnings.append(f"{path}:{no}: text before the first presentation line; skipped")
        for presentation, block in blocks:
            if len(block) < 2:
                warnings.append(f"{path}:{block[0][0] if block else '?'}: incomplete poster block; skipped")
                continue
            listing = _paper_from_group(block[:-1], block[-1][1], page, warnings, path)
            if listing:
                listing.presentation = presentation
                listings.append(listing)
    else:
        group: list[tuple[int, str]] = []
        for no, line in body:
            if not _looks_like_abstract(line):
                group.append((no, line))
                continue
            if not group:
                warnings.append(f"{path}:{no}: abstract without a title; skipped")
                continue
            if layout == "listing" and len(group) > 1:
                for skipped_no, skipped in group[:-1]:
                    warnings.append(f"{path}:{skipped_no}: line without an abstract ({skipped[:40]!r}); skipped")
                group = group[-1:]
            listing = _paper_from_group(group, line, page, warnings, path)
            group = []
            if listing:
                if layout == "iclr-oral":
                    listing.presentation = "Oral presentation"
                listings.append(listing)
        for no, line in group:
            warnings.append(f"{path}:{no}: title without an abstract ({line[:40]!r}); skipped")

    for listing in listings:
        listing.session, listing.room = session, room
    return listings, PageInfo(page=page, path=str(path), layout=layout, listings=len(listings), session=session), warnings


# --------------------------------------------------------------------------------------------
# loading and merging

def corpus_files(paths: Iterable[Path]) -> list[Path]:
    """Every corpus file named, folders expanded; a missing path is an error naming it."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file())
            if not found:
                raise CorpusError(f"no corpus files (.txt, .jsonl, .csv) in folder {path}")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise CorpusError(f"{path}: unsupported corpus file type; use .txt listing pages, .jsonl or .csv")
            files.append(path)
        else:
            raise CorpusError(f"corpus path not found: {path}")
    return files


def iter_file(path: Path, id_field: str | None = None, abstract_field: str | None = None,
              warnings: list[str] | None = None) -> Iterator[Listing]:
    """Listings of one corpus file, streamed (JSONL and CSV line by line); skipped rows go to `warnings`.

    Unreadable files raise `CorpusError` naming the path; so does a file with no usable record.
    """
    warnings = warnings if warnings is not None else []
    suffix = path.suffix.lower()
    found = 0
    first_warning = len(warnings)
    try:
        if suffix in (".jsonl", ".csv"):
            with path.open(encoding="utf-8-sig", newline="" if suffix == ".csv" else None) as f:
                rows = (_read_jsonl if suffix == ".jsonl" else _read_csv)(f, path.stem, path, id_field, abstract_field)
                for listing, warning in rows:
                    if listing is None:
                        warnings.append(warning or "")
                    else:
                        found += 1
                        yield listing
        else:
            listings, _, page_warnings = parse_page(path.read_text(encoding="utf-8-sig"), path.stem, path)
            warnings.extend(page_warnings)
            found = len(listings)
            yield from listings
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not UTF-8 text; save it as UTF-8 (listing page .txt, .jsonl or .csv)") from None
    except OSError as exc:
        raise CorpusError(f"cannot read corpus file {path}: {exc.strerror or exc}") from None
    if not found:
        skipped = warnings[first_warning:]
        detail = f" ({len(skipped)} rows skipped, first: {skipped[0]})" if skipped else ""
        raise CorpusError(f"{path}: no papers found{detail}")


def read_file(path: Path, id_field: str | None = None, abstract_field: str | None = None) -> tuple[list[Listing], PageInfo, list[str]]:
    """Listings of one corpus file with its description and warnings (see `iter_file`)."""
    warnings: list[str] = []
    listings = list(iter_file(path, id_field, abstract_field, warnings))
    return listings, _page_info(path, listings), warnings


def _page_info(path: Path, listings: list[Listing]) -> PageInfo:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".csv"):
        return PageInfo(page=path.stem, path=str(path), layout=suffix[1:], listings=len(listings))
    session = listings[0].session if listings else None
    return PageInfo(page=path.stem, path=str(path), layout=detect_layout(path.read_text(encoding="utf-8-sig")),
                    listings=len(listings), session=session)


def _same_text(a: str, b: str) -> bool:
    """Two abstracts of one paper: equal ignoring case, punctuation and markup, or >= 95% the same."""
    if normalize_title(a) == normalize_title(b):
        return True
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return m.real_quick_ratio() >= SAME_TEXT_RATIO and m.quick_ratio() >= SAME_TEXT_RATIO and m.ratio() >= SAME_TEXT_RATIO


class _Merger:
    """Groups listings into papers as they stream in: by id, else by title and abstract."""

    def __init__(self) -> None:
        self.groups: list[list[Listing]] = []
        self.by_id: dict[str, int] = {}
        self.by_title: dict[str, list[int]] = {}
        self.merges: list[str] = []
        self.warnings: list[str] = []

    def add(self, listing: Listing) -> None:
        where = f"{listing.page}:{listing.line}"
        if listing.paper_id:
            g = self.by_id.get(listing.paper_id)
            if g is None:
                self.by_id[listing.paper_id] = len(self.groups)
                self.groups.append([listing])
            else:
                first = self.groups[g][0]
                self.merges.append(f"{where}: record {listing.paper_id!r} merged into the one at {first.page}:{first.line} (same id)")
                self.groups[g].append(listing)
            return
        key = normalize_title(listing.title)
        same_title = self.by_title.setdefault(key, [])
        for g in same_title:
            first = self.groups[g][0]
            if _same_text(first.abstract, listing.abstract):
                self.merges.append(f"{where}: {listing.title[:60]!r} merged into the listing at {first.page}:{first.line} (same title and abstract)")
                self.groups[g].append(listing)
                return
        if same_title:
            first = self.groups[same_title[0]][0]
            self.warnings.append(f"{where}: {listing.title[:60]!r} has the title of {first.page}:{first.line} but another abstract; kept as a separate paper")
        same_title.append(len(self.groups))
        self.groups.append([listing])

    def papers(self) -> list[Paper]:
        papers, used = [], set()
        for group in self.groups:
            paper = _merge_group(group)
            if paper.paper_id in used:  # same title, other abstract: the second one's id also hashes its text
                norm = normalize_title(paper.title) + "\n" + normalize_title(paper.abstract)
                paper = Paper(**{**paper.to_dict(), "paper_id": f"{paper.paper_id}-{hashlib.sha1(norm.encode()).hexdigest()[:6]}"})
            used.add(paper.paper_id)
            papers.append(paper)
        return papers


def _merge_group(group: list[Listing]) -> Paper:
    first = group[0]
    # Prefer the spelling of a page that also names the authors (the ICLR pages), else the first.
    title = next((l.title for l in group if l.authors), first.title)

    def pick(attr: str):
        return next((getattr(l, attr) for l in group if getattr(l, attr)), None)

    return Paper(
        paper_id=first.paper_id or paper_id_for(title), title=title,
        abstract=max((l.abstract for l in group), key=len),
        authors=pick("authors") or (),
        pages=tuple(dict.fromkeys(l.page for l in group)),
        session=pick("session"), presentation=pick("presentation"), poster_number=pick("poster_number"),
        award=pick("award"), year=pick("year"), url=pick("url"), venue=pick("venue"), room=pick("room"),
    )


def merge_listings(listings: Iterable[Listing]) -> list[Paper]:
    """One Paper per distinct paper (same id, or same title and abstract), in order of first appearance."""
    merger = _Merger()
    for listing in listings:
        merger.add(listing)
    return merger.papers()


def load_corpus(paths: Iterable[Path], id_field: str | None = None, abstract_field: str | None = None) -> Corpus:
    """Read every corpus file, streaming, and merge the records into distinct papers."""
    merger = _Merger()
    pages: list[PageInfo] = []
    warnings: list[str] = []
    for path in corpus_files(paths):
        count = 0
        session = None
        for listing in iter_file(path, id_field, abstract_field, warnings):
            merger.add(listing)
            count += 1
            session = session or listing.session
        layout = path.suffix.lower()[1:] if path.suffix.lower() in (".jsonl", ".csv") else detect_layout(path.read_text(encoding="utf-8-sig"))
        pages.append(PageInfo(page=path.stem, path=str(path), layout=layout, listings=count, session=session))
    papers = merger.papers()
    return Corpus(papers=papers, pages=pages, warnings=warnings + merger.warnings, merges=merger.merges)


def iter_fields(paper: Paper) -> Iterator[tuple[str, str]]:
    """(label, value) pairs of the listing metadata a page gave, for display and indexing."""
    if paper.authors:
        yield "Authors", ", ".join(paper.authors)
    for label, value in (("Session", paper.session), ("Presentation", paper.presentation), ("Poster", paper.poster_number),
                         ("Award", paper.award), ("Venue", paper.venue), ("Year", paper.year)):
        if value:
            yield label, str(value)


__all__ = ["Corpus", "Listing", "PageInfo", "iter_file", "load_corpus", "merge_listings", "normalize_title", "paper_id_for", "parse_page", "read_file"]
