"""Answers that are lists of papers: metadata lookups, and topic matches within a lookup or a count.

    metadata_answer(...)  "Sewoong Oh co-authored 1 paper here:\n[1] Few-shot Backdoor Attacks ... "
    ListWriter            a generator (the `stream(question, hits)` interface of rag.extractive) that
                          lists the retrieved papers clearing the stated relevance bar: used for mixed
                          list questions ("Which top-5% posters are about graphs?") and content counts
                          ("How many papers are about diffusion?").

Every listed paper is cited once, in order, as [n]; a metadata citation quotes the paper's listing
line (span None), a topic citation its best matching passage. The lead sentence says how the list
was made: an exact lookup, or retrieval with the bar spelled out (so a count over content says it
is an estimate).

Does not: decide the route (rag.routing) or look anything up itself (rag.listings).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

from .citations import numbered_on
from .comparison import Sides, comparison
from .conversation import referent_titles
from .coverage import content_stems
from .extractive import Draft, last_draft
from .framing import subject
from .index import bm25_query_tokens
from .listings import Listings, Lookup, name_tokens
from .retrieve import Filters
from .question_parts import question_parts
from .routing import ATTRIBUTE, COUNT, FIELD, Route, route
from .settings import Settings
from .types import Answer, Citation, Hit, Paper

# Whether a short question with no reference word stays on the given papers (ids): rag.assistant
# measures how it fits them on its index (rag.conversation.Fit) and decides.
Stays = Callable[[str, Sequence[str]], bool]
# A follow-up that points back ("Which session was it in?") is about the earlier answer's paper,
# not a lookup over the listings.
ANAPHORA = re.compile(r"\b(it|its|it's|they|them|their|this paper|that paper|this one|that one)\b", re.I)
# A listing field asked of the paper a follow-up points back at ("Who wrote it?", "Which poster session was it in?").
FOLLOW_UP_FIELD = re.compile(FIELD.pattern + r"|\b(?:which|what)\s+(?:poster\s+|oral\s+)?session\b", re.I)

# A paper is about a topic when its title or abstract holds the topic as a phrase (its words in
# order, stemmed as BM25 indexes them, stop words skipped), or when a passage of it has at least
# this cosine similarity to the topic. The phrase test is exact; the cosine catches abbreviations
# and paraphrases ("LLMs"). 0.50 was chosen on the dev split of eval/questions/metadata.jsonl: at
# 0.45 "contrastive learning" took in a diffusion paper (0.46), at 0.50 the Bellman-score paper
# still counts for "reinforcement learning" (0.55).
DENSE_BAR = 0.50  # the default of Settings.topic_bar


def bar_text(bar: float) -> str:
    """The relevance bar in words, as list and count answers over content state it."""
    return f"papers whose title or abstract contains the topic's words in order, or with a passage at cosine similarity {bar:.2f} or more to it"


BAR_TEXT = bar_text(DENSE_BAR)
AUTHORS_SHOWN = 4


def _has_phrase(tokens: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether the stemmed `phrase` occurs as consecutive tokens ("contrastive learning", not "in contrast ... learning")."""
    n = len(phrase)
    return n > 0 and any(list(tokens[i:i + n]) == list(phrase) for i in range(len(tokens) - n + 1))


def _plural(n: int, word: str = "paper") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def item_line(number: int, paper: Paper) -> str:
    """One list item: "[1] Title — A, B, C et al. · top 5% paper · poster #31"."""
    bits = []
    if paper.authors:
        bits.append(", ".join(paper.authors[:AUTHORS_SHOWN]) + (" et al." if len(paper.authors) > AUTHORS_SHOWN else ""))
    if paper.presentation:  # the tier alone for the usual in-person poster, the whole line otherwise ("Virtual presentation / ...")
        usual = "in-person poster presentation /"
        bits.append(paper.presentation[len(usual):].strip() if paper.presentation.lower().startswith(usual) else paper.presentation)
    if paper.poster_number:
        bits.append(f"poster {paper.poster_number}")
    if paper.award:
        bits.append(paper.award)
    return f"[{number}] {paper.title}" + (f" — {' · '.join(bits)}" if bits else "")


def _no_author_note(listings: Listings) -> str:
    pages = listings.pages_without_authors
    if not pages:
        return ""
    nums = [str(s.ordinal) for s in pages]
    which = f"Page {nums[0]} lists" if len(nums) == 1 else f"Pages {', '.join(nums[:-1])} and {nums[-1]} list"
    missing = sum(1 for p in listings.papers if not p.authors)
    return f"{which} no authors ({missing} papers have none listed), so papers there cannot be matched by author."


def listing_passage(listings: Listings, paper: Paper) -> str:
    """The passage a list item cites: its title and its whole listing line, so it holds every word the item states."""
    return f"{paper.title}. {listings.metadata_line(paper)}"


def _hits(papers: Sequence[Paper]) -> tuple[Hit, ...]:
    return tuple(Hit(paper_id=p.paper_id, title=p.title, score=1.0, rank=i, passages=(), paper=p) for i, p in enumerate(papers, 1))


def metadata_answer(question: str, route: Route, listings: Listings, papers: list[Paper], elapsed_ms: float,
                    filtered: bool = False) -> Answer:
    """The answer to a metadata question from the papers its lookup found (`filtered`: the user's filters applied too)."""
    lookup = route.lookup
    note = _no_author_note(listings) if (lookup.authors or lookup.solo or route.unknown_authors) else ""
    timings = {"retrieve_ms": elapsed_ms, "generate_ms": 0.0, "first_token_ms": elapsed_ms, "total_ms": elapsed_ms}
    common = dict(question=question, generator="listing", timings=timings, route=route.name, query=question)
    if route.unknown_authors:
        names = " or ".join(route.unknown_authors)
        text = f"No paper by {names} is in the collection's author lists."
        close = [s for s in (listings.suggest(n) for n in route.unknown_authors) if s]
        if close:
            text += f" Did you mean {' or '.join(dict.fromkeys(close))}?"
        if note:
            text += " " + note
        return Answer(text=text, citations=(), abstained=True, evidence=0.0, **common)
    if lookup.paper and papers:
        return _paper_answer(question, route, listings, papers[0], common)
    what = lookup.describe(listings.page_names)
    if filtered:
        what += " (and the filters set)"
    if not papers:
        text = f"No paper {what} is in the collection."
        if note:
            text += " " + note
        return Answer(text=text, citations=(), abstained=True, evidence=0.0, **common)
    matched = ""
    if lookup.authors:
        listed = {n: listings.authors_named(n) for n in lookup.authors}
        shown = [", ".join(v) for n, v in listed.items() if v and v != [n]]
        matched = f" (listed as {'; '.join(shown)})" if shown else ""
    only_authors = lookup.authors and lookup == type(lookup)(authors=lookup.authors)
    n = len(papers)
    if route.form == "count":
        lead = f"There {'is' if n == 1 else 'are'} exactly {_plural(n)} {what}{matched} (counted in the listing metadata):"
    elif only_authors and not filtered:
        who = " and ".join(lookup.authors)
        lead = f"{who}{matched} co-authored {_plural(n)} here{' together' if len(lookup.authors) > 1 else ''}:"
    elif lookup.poster and n == 1:
        lead = f"Poster {lookup.poster} is:"
    elif lookup.shared_author and not lookup.authors:
        names = [a for a in listings.prolific() if any(a in p.authors for p in papers)]
        shown = ", ".join(f"{a} ({len(listings.authors[a])})" for a in names)
        lead = f"{len(names)} authors have more than one paper here: {shown}. Their {_plural(n)}{matched}:"
    elif lookup.most_authors and n >= 1:
        lead = f"The longest author list here has {len(papers[0].authors)} authors:"
    else:
        lead = f"{_plural(n)} {what}{matched}:"
    rooms = list(dict.fromkeys(p.room for p in papers if p.room))
    if ROOM_ASKED.search(question) and not lookup.room:  # "Where was the oral session held?"
        lead = lead.rstrip(":") + (f" — the listing names the room: {', '.join(rooms)}:" if rooms else
                                   " — the listing names no room for them:")
    citations = tuple(Citation(number=i, paper_id=p.paper_id, title=p.title, passage=listing_passage(listings, p), span=None)
                      for i, p in enumerate(papers, 1))
    lines = [lead] + [item_line(i, p) for i, p in enumerate(papers, 1)] + ([note] if note else [])
    return Answer(text="\n".join(lines), citations=citations, abstained=False, evidence=1.0, hits=_hits(papers), **common)


AUTHORS_ASKED = re.compile(r"\bwho\b|\bauthors?\b|\bwrote\b|\bwritten\b", re.I)
ROOM_ASKED = re.compile(r"\b(?:which|what)\s+room\b|\bwhere\b|\blocation\b", re.I)


def _paper_answer(question: str, route: Route, listings: Listings, paper: Paper, common: dict[str, Any]) -> Answer:
    """A listing field of one paper named by its title: its authors, their number, or its listing line."""
    text, citations, abstained = paper_field(question, route, listings, paper)
    return Answer(text=text, citations=citations, abstained=abstained, evidence=0.0 if abstained else 1.0,
                  hits=() if abstained else _hits([paper]), **common)


def paper_field(question: str, route: Route, listings: Listings, paper: Paper, named: str = "") -> tuple[str, tuple[Citation, ...], bool]:
    """(text, citations, abstained) answering the listing field `question` asks of `paper`.

    `named`: how the question named the paper when not by its title (the answer says which paper matched)."""
    pages = " and ".join(listings.page_by_id[p].name for p in paper.pages if p in listings.page_by_id)
    which = f"\u201c{paper.title}\u201d" + (f" (the paper best matching \u201c{named}\u201d)" if named else "")

    def lacks(field: str, says: str, verb: str = "give") -> tuple[str, tuple[Citation, ...], bool]:
        return (f"{which} is listed on {pages}, which {verb}{'s' if len(paper.pages) == 1 else ''} no {field}: "
                f"the collection does not say {says}.", (), True)

    if AUTHORS_ASKED.search(question) and not paper.authors:
        return lacks("authors", "who wrote it", verb="list")
    if ROOM_ASKED.search(question) and not paper.room:
        return lacks("room", "where it was presented")
    citation = Citation(number=1, paper_id=paper.paper_id, title=paper.title, passage=listing_passage(listings, paper), span=None)
    if route.form == "yesno" and route.lookup:
        what = route.lookup.describe(listings.page_names)
        for plural, one in _SINGULAR.items():
            what = what.replace(plural, one)
        has = listings.matches(paper, route.lookup)
        if not has and _unlisted(route.lookup, paper):
            return lacks("such field", f"whether it is {what}")
        return (f"{'Yes' if has else 'No'}: {which} is {'' if has else 'not '}{what} [1]. Its listing: "
                f"{listings.metadata_line(paper)} [1]", (citation,), False)
    if route.form == "count" and AUTHORS_ASKED.search(question):
        text = f"{which} has exactly {_plural(len(paper.authors), 'listed author')}: {', '.join(paper.authors)} [1]."
    elif ROOM_ASKED.search(question):
        text = f"{which} was presented in {paper.room} ({paper.session or pages}) [1]."
    else:
        text = f"{which}: {listings.metadata_line(paper)} [1]"
    return text, (citation,), False


# A lookup in words for one paper ("presented as orals" -> "presented as an oral").
_SINGULAR = {"as orals": "as an oral", "as posters": "as a poster", "as regular posters": "as a regular poster",
             "with an award": "given an award", "with the ": "given the "}


def _unlisted(lookup: Lookup, paper: Paper) -> bool:
    """Whether the paper's page gives none of the fields a yes/no check asks (a paper listing has no
    tier, award or session), so a "No" could not be told from "not listed"."""
    return bool(((lookup.tier or lookup.presentation or lookup.award) and not paper.presentation)
                or ((lookup.session or lookup.room) and not (paper.session or paper.room)))


class FieldWriter:
    """Answers a listing field of the one paper a question names by its content (Route.field_of):
    the best retrieved paper's listing line. The Assistant's answerability decision, made on the
    content words (`judged`), decides first whether the collection has such a paper at all."""

    name = "field"  # its own writer name, so the CLI and the UI label it (Answer.written_by): not a list
    judged = True

    def __init__(self, route: Route, listings: Listings):
        self.route, self.listings = route, listings

    def stream(self, question: str, hits: Sequence[Hit], settings: Settings | None = None) -> Iterator[str | Draft]:
        if hits:
            text, citations, abstained = paper_field(question, self.route, self.listings, hits[0].paper, named=self.route.topic)
        else:
            text, citations, abstained = f"No paper about \u201c{self.route.topic}\u201d is in the collection.", (), True
        yield text
        yield Draft(text=text, citations=list(citations), abstained=abstained, evidence=0.0 if abstained else 1.0, generator="field")


class FieldAndContent:
    """"Who wrote the PIXEL paper and what does it do?": the listing field from the paper's listing
    (FieldWriter), then the rest of the question (`asked`, the paper's name for "it") quoted from that
    paper's abstract by `quoter` (an extractive generator: the listing answer uses no language model
    either), on its own line, the citations numbered on."""

    name = "field"
    judged = True

    def __init__(self, field: FieldWriter, quoter: Any, asked: str):
        self.field, self.quoter, self.asked = field, quoter, asked

    def stream(self, question: str, hits: Sequence[Hit], settings: Settings | None = None) -> Iterator[str | Draft]:
        first = last_draft(self.field.stream(question, hits, settings))
        second = None if first.abstained or not hits else last_draft(self.quoter.stream(self.asked, hits[:1], settings))
        if second is None or second.abstained:
            yield first.text
            yield first
            return
        (a, b), citations = numbered_on([first.text, second.text], [first.citations, second.citations])
        text = f"{a}\n{b}"
        yield text
        yield Draft(text=text, citations=citations, abstained=False, evidence=second.evidence, uncited=second.uncited,
                    weak=second.weak, generator="field")


class ListWriter:
    """Lists the retrieved papers that clear the relevance bar for the route's topic (see DENSE_BAR)."""

    name = "listing"

    def __init__(self, route: Route, listings: Listings, pool: int | None, bar: float = DENSE_BAR):
        self.route, self.listings, self.pool, self.bar = route, listings, pool, bar  # pool: papers in the lookup (None: all)

    def relevant(self, hits: Sequence[Hit]) -> list[Hit]:
        """The hits that clear the bar, in retrieval order."""
        topic = bm25_query_tokens(self.route.topic)
        out = []
        for h in hits:
            words = bool(topic) and _has_phrase(bm25_query_tokens(h.paper.title), topic) or \
                _has_phrase(bm25_query_tokens(h.paper.abstract), topic)
            dense = max((p.dense_score or 0.0 for p in h.passages), default=0.0)
            if words or dense >= self.bar:
                out.append(h)
        return out

    def stream(self, question: str, hits: Sequence[Hit], settings: Settings | None = None) -> Iterator[str | Draft]:
        route, topic = self.route, self.route.topic
        chosen = self.relevant(hits)
        bar = bar_text(self.bar)
        scope = (f"of the {_plural(self.pool)} {route.lookup.describe(self.listings.page_names)}" if self.pool is not None
                 else "in the collection")
        n = len(chosen)
        if not chosen:
            text = (f"None {scope} is about \u201c{topic}\u201d by the relevance bar ({bar}).")
            yield text
            yield Draft(text=text, citations=[], abstained=True, evidence=0.0, generator="listing")
            return
        if route.form == "count":
            exact = "the lookup is exact; " if self.pool is not None else ""
            lead = (f"About {_plural(n)} {scope} are about \u201c{topic}\u201d — {exact}the topic count is an estimate "
                    f"from retrieval, counting {bar}:")
        else:
            lead = f"{_plural(n)} {scope} {'is' if n == 1 else 'are'} about \u201c{topic}\u201d ({bar}):"
        citations = []
        lines = [lead]
        for i, h in enumerate(chosen, 1):
            best = next((p for p in h.passages if p.kind == "abstract"), None)
            # the item states the listing line; the best abstract passage shows why it is about the topic
            passage = listing_passage(self.listings, h.paper) + (f" {best.text}" if best else "")
            citations.append(Citation(number=i, paper_id=h.paper_id, title=h.title, passage=passage, span=None))
            lines.append(item_line(i, h.paper))
        text = "\n".join(lines)
        yield text
        yield Draft(text=text, citations=citations, abstained=False, evidence=1.0, generator="listing")


@dataclass
class Plan:
    """How Assistant.ask_stream answers a question: a finished metadata answer, or retrieval with what to change."""

    route: Route
    answer: Answer | None = None  # metadata route: the answer, nothing to retrieve
    settings: Settings | None = None  # per-question settings for the retrieval (more papers for a list)
    filters: Filters | None = None  # the user's filters, plus the lookup's papers for a mixed question
    query: str | None = None  # what to retrieve with (the topic of a list question)
    writer: Any = None  # a ListWriter replacing the generator for list and count answers
    about: tuple[str, ...] = ()  # a follow-up's papers (their titles): it is answered, and judged, on these alone
    asked: str | None = None  # ... and the follow-up as it is judged: its shorthand written out, its typos corrected
    sides: Sides | None = None  # a comparison's two sides (rag.comparison): retrieved and judged one by one
    named: str | None = None  # the paper the question names by its own name ("the Sequencer paper"): ranked first
    whole_paper: bool = False  # ... and asks nothing but what it is or does ("What does NeuroNER do?"): its abstract answers
    also: str | None = None  # a field-of question's content part ("... and what does it do?"): quoted after the field

    @property
    def gated(self) -> bool:
        """Whether the Assistant's answerability decision runs: not for a metadata answer or a list or
        count writer (those decide themselves), nor for a question about a named paper as a whole; yes for
        retrieval and for a writer that asks for it (FieldWriter.judged, judged on the plan's query)."""
        return self.answer is None and not self.whole_paper and (self.writer is None or getattr(self.writer, "judged", False))

    def judged(self, question: str, query: str, follow_up: bool) -> str | None:
        """The text the answerability decision judges (None: it does not run), with `query` what was
        retrieved with: a follow-up about the earlier answer's papers (`about`) as asked, against those
        papers alone; a field-of writer on its content words (the query); any other follow-up ("Which
        session was it in?") on the query, the earlier turn in front, since the bare question names
        nothing the collection could hold; a question in a request frame on its subject (rag.framing);
        anything else as asked."""
        if not self.gated:
            return None
        if self.about:
            return self.asked or question
        return query if (self.writer or follow_up or self.query) else question


def _referred(question: str, history: Any, listings: Listings, filters: Filters | None, r: Route,
              stays: Stays | None) -> tuple[str, ...] | None:
    """The ids of the earlier answer's papers a follow-up points back at ("Does it also work on speech?"),
    within the user's filters; None when it points at none (rag.conversation.referent_titles). With
    `stays`, a short retrieval question that names no other paper and stays on them is about them too
    ("error rate on MNIST?"; rag.conversation.Fit)."""
    if not history:
        return None

    def ids_of(titles: tuple[str, ...]) -> tuple[str, ...]:
        ids = [listings.titles.get(" ".join(name_tokens(t))) for t in titles]
        return tuple(i for i in dict.fromkeys(ids) if i and (not filters or filters.matches(listings.by_id[i])))  # paper_ids too

    def fits(titles: tuple[str, ...]) -> bool:
        named = _named(listings, question, filters)  # "What does the Sequencer paper show?": another paper, by its name
        ids = ids_of(titles)
        if r.name != "retrieval" or stays is None or not ids or (named and named not in ids):
            return False
        return stays(question, ids)

    # A bare listing-field question ("Who are the authors?", "Which session?") is about the earlier paper too.
    return ids_of(referent_titles(question, history, bare=bool(FOLLOW_UP_FIELD.search(question)), stays=fits)) or None


def _follow_up(question: str, core: str, r: Route, ids: tuple[str, ...], listings: Listings, settings: Settings,
               filters: Filters | None, started: float) -> Plan:
    """A follow-up about the earlier answer's papers is answered from those papers only: a listing field
    of the one paper from its listing, anything else by retrieval narrowed to them, so a new word in the
    follow-up ("... for speech recognition?") cannot pull in another paper, and the answerability decision
    judges whether those papers answer it. `core`: the question without its request frame (rag.framing)."""
    reasons = r.reasons + (f"a follow-up about the earlier answer's {len(ids)} paper(s)",)
    if len(ids) == 1 and FOLLOW_UP_FIELD.search(question):
        field = Route("metadata", Lookup(paper=ids[0]), "count" if COUNT.search(question) else "other", "", (), reasons)
        answer = metadata_answer(question, field, listings, [listings.by_id[ids[0]]], (time.perf_counter() - started) * 1000)
        # Answer.query names the paper the follow-up was resolved to (the UI marks it as a follow-up)
        return Plan(field, answer=replace(answer, query=f"{question} | {listings.by_id[ids[0]].title}"))
    narrowed = Filters.narrowed(filters, ids)
    # Retrieved with the papers' titles in front of their passages; the earlier question is left out,
    # since those papers answer it and its words would make any follow-up look answered.
    titles = tuple(listings.by_id[i].title for i in ids)
    asked = listings.written(question) if settings.correct_typos else question  # "how many langs?", "top1 on in1k?"
    query = " | ".join([asked, *titles[:3]])
    if len(ids) == 1:  # "How does it compare with MetaFormer?": the earlier paper is one side
        name = titles[0].split(":")[0].strip()
        named = ANAPHORA.sub(lambda _: name, core, count=1)  # a function: a title's "\epsilon" is text, not a group reference
        sides = comparison(named)
        if sides is not None:
            return Plan(Route("retrieval", Lookup(), "other", "", (), reasons + ("a comparison with the earlier paper",)),
                        settings=settings, filters=filters, query=named, sides=sides)
    # "Summarize it in simple terms", "What does it do?": nothing asked but what those papers are
    whole = not content_stems(ANAPHORA.sub(" ", core))
    return Plan(Route("retrieval", Lookup(), "other", "", (), reasons), settings=settings, filters=narrowed, query=query,
                about=titles, asked=asked, whole_paper=whole)


# The words of the listing fields ("Was it a top 5% paper?", "presented in person or virtually?", "at which poster?").
_LISTING_TERMS = frozenset(bm25_query_tokens("author authors wrote written session poster posters presented presentation "
                                             "oral spotlight room award tier top virtual virtually person page listed"))


def _asks_field(part: str) -> bool:
    """Whether a part of a question asks for a listing field rather than for what the paper says."""
    return bool(FIELD.search(part) or ATTRIBUTE.search(part) or set(bm25_query_tokens(part)) & _LISTING_TERMS)


def _named(listings: Listings, text: str, filters: Filters | None, strict: bool = False) -> str | None:
    """The paper `text` names by its own name (Listings.named_paper), when the user's filters allow it."""
    named = listings.named_paper(text, strict=strict)
    return named if named and (not filters or filters.matches(listings.by_id[named])) else None


def plan(question: str, listings: Listings, settings: Settings, filters: Filters | None, history: Any = None,
         stays: Stays | None = None) -> Plan:
    """Route `question` (rag.routing) and prepare its answer: see Plan. `stays(question, ids)`: whether
    a short question with no reference word stays on those papers (the Assistant's index knows), which
    lets such a follow-up be about the earlier answer's papers."""
    started = time.perf_counter()
    core = subject(question)
    r = route(core, listings)  # "Explain what the oral papers do": the frame names no listing field
    referred = _referred(question, history, listings, filters, r, stays)
    if referred is not None:
        return _follow_up(question, core, r, referred, listings, settings, filters, started)
    if r.name != "retrieval" and history and ANAPHORA.search(question):
        r = replace(r, name="retrieval", reasons=r.reasons + ("a follow-up about the earlier answer",))
    if r.name == "retrieval":
        if r.field_of:  # "Who wrote the PIXEL paper?": retrieve the paper by its content, answer from its listing
            named = _named(listings, question, filters)  # "... the Sequencer paper": the paper of that name, not a near one
            if named:
                filters = Filters.narrowed(filters, (named,))
            # "... and what does it do?": a part that asks no listing field is answered from the abstract
            parts = question_parts(question)
            rest = [p.text for p in parts if not _asks_field(p.text)] if len(parts) > 1 else []
            also = ANAPHORA.sub(lambda _: r.topic, " and ".join(rest), count=1) if rest and r.topic else None
            return Plan(r, settings=settings, filters=filters, query=r.topic, writer=FieldWriter(r, listings), also=also)
        if r.form == "count" and r.topic:  # "How many papers are about diffusion?": an estimate from retrieval
            wide = settings.with_options(top_k=100, candidates=max(settings.candidates, 1000))
            return Plan(r, settings=wide, filters=filters, query=r.topic, writer=ListWriter(r, listings, None, settings.topic_bar))
        # "Explain X in simple terms": retrieve and judge X (rag.framing), its typos corrected (rag.spelling)
        core = listings.written(core) if settings.correct_typos else core  # "difusion", "params" (rag.spelling, rag.shorthand)
        if history:  # composed with the earlier turns, but a comparison names both its sides
            sides = comparison(core)
            return Plan(r, settings=settings, filters=filters, query=core if sides else None, sides=sides)
        # A paper's own name ("What problem does the Sequencer paper solve?") is a word the embedder does
        # not know and BM25 weighs against "solve" and "problem": that paper is put first.
        named = _named(listings, core, filters, strict=True)
        # Its question words aside, the question asks for nothing but the paper's name ("What problem does
        # the Sequencer paper solve?", "Summarize RobustFill"): an abstract says what its paper does.
        whole = bool(named) and content_stems(core) <= set(bm25_query_tokens(listings.by_id[named].title.split(":")[0]))
        return Plan(r, settings=settings, filters=Filters.narrowed(filters, (named,)) if whole else filters,
                    query=core if core != question else None, sides=comparison(core), named=named, whole_paper=whole)
    papers = listings.find(r.lookup) if not r.unknown_authors else []
    if filters:
        papers = [p for p in papers if filters.matches(p)]
    if r.name == "metadata" or not papers:
        answer = metadata_answer(question, r, listings, papers, (time.perf_counter() - started) * 1000, filtered=bool(filters))
        return Plan(r, answer=answer)
    ids = tuple(p.paper_id for p in papers)
    narrowed = Filters.narrowed(filters, ids)
    if not r.lists:  # "What does Kenneth Li's paper find?": the generator answers from the lookup's papers
        return Plan(r, settings=settings, filters=narrowed)
    wide = settings.with_options(top_k=min(100, len(ids)), candidates=max(settings.candidates, 1000))
    return Plan(r, settings=wide, filters=narrowed, query=r.topic, writer=ListWriter(r, listings, len(ids), settings.topic_bar))


__all__ = ["BAR_TEXT", "bar_text", "Plan", "plan", "DENSE_BAR", "ListWriter", "FieldWriter", "FieldAndContent", "paper_field", "item_line", "metadata_answer"]
