"""User collections: JSONL and CSV records -> `Listing`s, streamed one line at a time.

A record's id comes from `id`, `_id`, `doc_id` or `paper_id` (or the field named in settings), its
abstract from `abstract`, `text`, `content` or `summary` (or the named field); a BEIR `corpus.jsonl`
reads as it is. An unusable row becomes a warning naming file:line; nothing is guessed.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import CorpusError

AUTHOR_SEP = " · "
ID_FIELDS = ("id", "_id", "doc_id", "paper_id")
ABSTRACT_FIELDS = ("abstract", "text", "content", "summary")


@dataclass
class Listing:
    """One appearance of a paper on one page (before merging)."""

    title: str
    abstract: str
    page: str
    line: int
    authors: tuple[str, ...] = ()
    session: str | None = None
    presentation: str | None = None
    poster_number: str | None = None
    award: str | None = None
    year: int | None = None
    url: str | None = None
    venue: str | None = None
    room: str | None = None
    paper_id: str | None = None  # the record's own id (JSONL/CSV), kept as the paper id



def split_authors(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Author list from " · ", ";" or "," separated text, or from a list."""
    if value is None:
        return ()
    if isinstance(value, str):
        sep = AUTHOR_SEP.strip() if AUTHOR_SEP.strip() in value else (";" if ";" in value else ",")
        parts: Iterable[str] = value.split(sep)
    else:
        parts = value
    return tuple(" ".join(str(p).split()) for p in parts if str(p).strip())


def _pick(rec: dict, names: tuple[str, ...], named: str | None) -> tuple[str | None, object]:
    """(field name, value) of the named field, else of the first of `names` present and non-empty."""
    if named:
        key = named.strip().lower()
        return key, rec.get(key)
    for key in names:
        if rec.get(key) not in (None, ""):
            return key, rec[key]
    return None, None


def _record_to_listing(rec: dict, page: str, line: int, id_field: str | None = None, abstract_field: str | None = None) -> Listing:
    """A listing from a JSON/CSV record; raises ValueError with the reason when it is unusable."""
    if not isinstance(rec, dict):
        raise ValueError("not an object")
    rec = {str(k).strip().lower(): v for k, v in rec.items() if k is not None}
    _, raw_id = _pick(rec, ID_FIELDS, id_field)
    paper_id = " ".join(str(raw_id).split()) if raw_id not in (None, "") else None
    abstract_key, raw_abstract = _pick(rec, ABSTRACT_FIELDS, abstract_field)
    abstract = " ".join(str(raw_abstract or "").split())
    title = " ".join(str(rec.get("title") or "").split())
    if not abstract:
        wanted = repr(abstract_field) if abstract_field else "'abstract' (or 'text', 'content', 'summary')"
        raise ValueError(f"missing {wanted}")
    if not title:
        if not paper_id:
            raise ValueError("missing 'title' (and no id to name the paper by)")
        words = abstract.split()  # a BEIR record may have an empty title: its first words stand in
        title = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
    year = rec.get("year")
    if year not in (None, ""):
        try:
            year = int(str(year).strip())
        except ValueError:
            raise ValueError(f"'year' is not a number: {year!r}") from None
    else:
        year = None
    return Listing(
        title=title, abstract=abstract, page=page, line=line, authors=split_authors(rec.get("authors") or None),
        year=year, url=(str(rec["url"]).strip() or None) if rec.get("url") else None,
        venue=(str(rec["venue"]).strip() or None) if rec.get("venue") else None, paper_id=paper_id,
    )


def _read_jsonl(lines: Iterable[str], page: str, path: Path, id_field: str | None = None,
                abstract_field: str | None = None) -> Iterator[tuple[Listing | None, str | None]]:
    """(listing, None) or (None, warning) per non-empty line, one line in memory at a time."""
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield _record_to_listing(json.loads(line), page, no, id_field, abstract_field), None
        except json.JSONDecodeError as exc:
            yield None, f"{path}:{no}: not valid JSON ({exc.msg}); skipped"
        except ValueError as exc:
            yield None, f"{path}:{no}: {exc}; skipped"


def _read_csv(lines: Iterable[str], page: str, path: Path, id_field: str | None = None,
              abstract_field: str | None = None) -> Iterator[tuple[Listing | None, str | None]]:
    reader = csv.DictReader(lines)
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    abstract_ok = ({abstract_field.strip().lower()} if abstract_field else set(ABSTRACT_FIELDS)) & fields
    if "title" not in fields and not (fields & set(ID_FIELDS)) or not abstract_ok:
        need = f"'{abstract_field}'" if abstract_field else "'abstract' (or 'text', 'content', 'summary')"
        raise CorpusError(f"{path}: a CSV corpus needs a header with 'title' and {need} columns (found: {sorted(fields) or 'none'})")
    for rec in reader:
        no = reader.line_num
        try:
            if None in rec:  # more cells than header columns
                raise ValueError(f"{len(rec[None])} extra cell(s) beyond the header")
            yield _record_to_listing(rec, page, no, id_field, abstract_field), None
        except ValueError as exc:
            yield None, f"{path}:{no}: {exc}; skipped"
