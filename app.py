"""The chat UI: ask questions about the indexed papers and read cited answers in a browser.

    python app.py                      # http://127.0.0.1:7860 on the shipped corpus
    python app.py --host 0.0.0.0 --port 8080 --model /models/qwen2.5-0.5b-instruct
    python app.py --llm-backend openai --llm-base-url http://127.0.0.1:11434/v1 --model qwen2.5:0.5b   # a model server
    RAG_UI_USERNAME=me RAG_UI_PASSWORD=secret python app.py     # with a login page

A thin Gradio layer over the library's public API (`rag.Assistant`): answers stream in as they are
written; [n] markers open the cited paper in the sources panel with the cited passage highlighted;
earlier turns shape the retrieval of follow-up questions (`history=`); the named API endpoints
`/ask`, `/search` and `/papers` (listing-metadata lookups) serve `gradio_client`. A list answer (an
author's papers, the top-5% posters, a count) renders as a numbered list, each item with its [n]. The index is built or loaded once, on a start-up thread,
with its progress on the console and in the page; questions asked before it is ready wait for it.

Gradio is imported inside the functions that need it, so `python app.py --help` answers at once.
"""
from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from rag.citations import MARKER  # the library's [n] pattern: the UI links exactly what the library cites
from rag.types import EXTRACTIVE_LABEL, LISTING_LABEL  # the library's labels (Answer.written_by)

if TYPE_CHECKING:  # pragma: no cover
    import gradio as gr

    from rag import Answer, Assistant, Citation, Paper, Settings

log = logging.getLogger("rag.app")

USER_ENV, PASSWORD_ENV = "RAG_UI_USERNAME", "RAG_UI_PASSWORD"
EXAMPLES = [
    "What attack success rate do the NTK-designed poisons reach?",
    "What does PIXEL reconstruct during pretraining instead of predicting tokens?",
    "Which poster won an Outstanding Paper award?",
    "How many GPUs were used to train PIXEL?",
]
ANY = ""  # the "no filter" choice of a dropdown
# Seconds a question waits for the start-up indexing before it is answered with an error.
READY_WAIT_S = 600.0


# ---- start-up: the shared assistant ----------------------------------------------------------------
class Backend:
    """The one Assistant every session shares, loaded on a start-up thread with visible progress."""

    def __init__(self, settings: "Settings", models: Sequence[str] = (), warm_generator: str | None = None):
        from rag import Assistant

        self.settings = settings
        self.models = list(dict.fromkeys(m for m in models if m))
        self.warm_generator = warm_generator
        self.assistant: Assistant = Assistant(settings, progress=self._on_progress)
        self.ready = threading.Event()
        self.error: str | None = None
        self.status = "starting"
        self.started = time.perf_counter()
        self.ready_s: float | None = None
        self._last_print = 0.0
        self.page_labels: dict[str, str] = {}

    # progress(stage, done, total) from the index build: one console line, updated in place
    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "chunks":  # the papers stage carries the same step; one line is enough
            return
        unit = "papers" if stage == "papers" else "passages"
        self.status = f"building the index: embedding {unit} {done:,}/{total:,}"
        now = time.perf_counter()
        if now - self._last_print > 0.5 or done >= total:
            self._last_print = now
            end = "\n" if done >= total else ""
            print(f"\r[rag] {self.status}", end=end, file=sys.stderr, flush=True)

    def _say(self, text: str) -> None:
        self.status = text
        print(f"[rag] {text}", file=sys.stderr, flush=True)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._load, name="rag-startup", daemon=True)
        thread.start()
        return thread

    def _load(self) -> None:
        from rag import RagError

        try:
            self._say("checking the index (built on first start: about a minute)")
            report = self.assistant.index()
            self._say(report.summary())
            self._say("loading the embedder and the retrievers")
            self.assistant.search("warm-up query", k=1)  # opens the index and loads the embedder now, not on the first question
            if self.warm_generator:
                self._say(f"loading the language model {self.warm_generator}")
                # min_confidence=1: the model is loaded but not asked (the warm-up is not a real question)
                answer = self.assistant.ask("warm-up question about attacks", generator="llm", llm_model=self.warm_generator,
                                            min_confidence=1.0)
                for warning in answer.warnings:
                    self._say(f"warning: {warning}")
            papers = self.assistant.papers()
            self.ready_s = time.perf_counter() - self.started
            self._say(f"ready: {len(papers):,} papers in {self.ready_s:.1f} s")
        except RagError as exc:
            self.error = str(exc)
            self._say(f"error: {exc}")
        except Exception as exc:  # a bug: keep serving, show it, log the traceback for us
            log.exception("start-up failed")
            self.error = f"the index could not be loaded ({type(exc).__name__}: {exc})"
            self._say(f"error: {self.error}")
        finally:
            self.ready.set()

    def wait(self, timeout: float = READY_WAIT_S) -> "Assistant":
        """The assistant once it is loaded; a RagError saying why when start-up failed."""
        from rag import RagError

        if not self.ready.wait(timeout):
            raise RagError(f"the index is still being prepared ({self.status}); try again in a minute")
        if self.error:
            raise RagError(f"{self.error}. Fix it and restart the app")
        return self.assistant

    def status_html(self) -> str:
        if self.error:
            return f'<div class="rag-status rag-status-error">Start-up failed: {esc(self.error)}</div>'
        if not self.ready.is_set():
            return f'<div class="rag-status rag-status-busy"><span class="rag-spinner"></span>Preparing: {esc(self.status)} …</div>'
        papers = self.assistant.papers()
        return (f'<div class="rag-status rag-status-ok">{len(papers):,} papers indexed · ready in {self.ready_s or 0:.1f} s</div>')


# ---- rendering: answers, sources, errors --------------------------------------------------------------
def esc(text: Any) -> str:
    """Corpus and user text as HTML text (never markup)."""
    return html.escape(str(text), quote=True)


def generator_label(answer: "Answer", model: str | None = None) -> str:
    """Who wrote the answer: Answer.model (the model, and the server's host for a server model), else `model`."""
    return answer.writer_label(model)


def fallback_reason(answer: "Answer") -> str | None:
    """Why a language model asked for did not write the answer (the warning the library labels so), or None."""
    from rag.chat_generator import FALLBACK  # the library's "answered with the extractive generator" label

    if answer.generator != "extractive":
        return None
    return next((w for w in answer.warnings if w.endswith(FALLBACK)), None)


def _ms(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _link_markers(escaped: str, turn: int) -> str:
    """[n] (and [1, 3], [1-3]) markers in escaped text become links that open source n of this turn."""
    def one(match: re.Match[str]) -> str:
        inner = re.sub(r"\d+", lambda m: f'<a class="rag-cite" href="#cite-{turn}-{m.group(0)}" title="Open source {m.group(0)}">{m.group(0)}</a>',
                       match.group(0)[1:-1])
        return f'<span class="rag-marker">[{inner}]</span>'

    return MARKER.sub(one, escaped)


def _mark_sentences(escaped: str, sentences: Sequence[str], css: str, title: str) -> str:
    for sentence in dict.fromkeys(s for s in sentences if s and s.strip()):
        target = esc(sentence.strip())
        if target in escaped:
            escaped = escaped.replace(target, f'<span class="{css}" title="{esc(title)}">{target}</span>', 1)
    return escaped


def render_answer(answer: "Answer", turn: int, model: str | None = None) -> str:
    """The finished answer as one HTML block: linked markers, the no-answer look, weak sentences, the footer."""
    footer = [f'<span class="rag-gen">{esc(generator_label(answer, model))}</span>']
    fallback = fallback_reason(answer)
    if fallback:  # the model (e.g. a server that is down) did not answer: say why in the footer, not only above it
        reason = fallback.rsplit(";", 1)[0]  # drop the trailing "answered with the extractive generator"
        footer.append(f'<span class="rag-fallback">fallback: {esc(reason)}</span>')
    t = answer.timings
    footer.append(f'<span class="rag-time" title="retrieval {_ms(t.get("retrieve_ms"))}, first words after {_ms(t.get("first_token_ms"))}">'
                  f'{_ms(t.get("total_ms"))} · first words {_ms(t.get("first_token_ms"))}</span>')
    if answer.query and answer.query != answer.question:
        footer.append(f'<span class="rag-followup" title="{esc(answer.query)}">follow-up: searched with the earlier turn</span>')
    warnings = "".join(f'<div class="rag-warning">⚠ {esc(w)}</div>' for w in answer.warnings if w != fallback)
    foot = f'<div class="rag-footer">{" · ".join(footer)}</div>'
    if answer.abstained and answer.missing:  # a partial answer: what the collection has, and what it lacks
        missing = ", ".join(esc(m) for m in answer.missing)
        body = ('<div class="rag-partial"><div class="rag-partial-title">Partly covered by the collection</div>'
                f'<div class="rag-text">{_link_markers(esc(answer.text), turn)}</div>'
                f'<div class="rag-partial-missing">Missing here: {missing}</div></div>')
        return f'<div class="rag-answer rag-answer-partial">{body}{warnings}{foot}</div>'
    if answer.abstained:
        body = ('<div class="rag-abstain"><div class="rag-abstain-title">Not answered by the collection</div>'
                f'<div>{esc(answer.text)}</div>'
                '<div class="rag-abstain-hint">No indexed abstract covers this question well enough to quote. '
                'Try other words, or check the filters in Settings.</div></div>')
        return f'<div class="rag-answer rag-answer-abstained">{body}{warnings}{foot}</div>'
    if answer.generator == "listing":
        text = render_list(answer.text, turn)
    else:
        text = esc(answer.text)
        text = _mark_sentences(text, answer.weak, "rag-weak", "Weakly supported: the cited passage barely covers this sentence; check the source")
        text = _mark_sentences(text, answer.uncited, "rag-uncited", "Cites no source")
        text = _link_markers(text, turn).replace("\n", "<br>")  # one HTML block: a blank line would end it in Markdown
    hint = '<div class="rag-hint">Click a [n] to read the source.</div>' if answer.citations else ""
    return f'<div class="rag-answer"><div class="rag-text">{text}</div>{warnings}{hint}{foot}</div>'


LIST_ITEM = re.compile(r"^\[(\d+)\]\s+(.*)$")


def render_list(text: str, turn: int) -> str:
    """A list answer (lead line, "[n] item" lines, notes) as a lead paragraph, an <ol> and notes, one HTML block."""
    lead, items, notes = [], [], []
    for line in text.split("\n"):
        m = LIST_ITEM.match(line)
        if m:
            items.append(f'<li value="{m.group(1)}">{_link_markers(esc(f"[{m.group(1)}]"), turn)} {esc(m.group(2))}</li>')
        elif items:
            notes.append(f'<div class="rag-list-note">{_link_markers(esc(line), turn)}</div>')
        else:
            lead.append(_link_markers(esc(line), turn))
    body = f'<div class="rag-list-lead">{" ".join(lead)}</div>'
    if items:
        body += f'<ol class="rag-list">{"".join(items)}</ol>'
    return body + "".join(notes)


def render_partial(text: str) -> str:
    """The answer while it is being written: plain escaped text and a cursor."""
    shown = esc(text).replace("\n", "<br>")
    return f'<div class="rag-answer rag-streaming"><div class="rag-text">{shown}<span class="rag-cursor">▍</span></div></div>'


def render_error(message: str) -> str:
    return (f'<div class="rag-answer rag-error"><div class="rag-error-title">Could not answer</div>'
            f'<div>{esc(message)}</div></div>')


def render_user(question: str) -> str:
    shown = esc(question).replace("\n", "<br>")
    return f'<div class="rag-question">{shown}</div>'


def _page_names(paper: "Paper", labels: dict[str, str]) -> str:
    return "; ".join(labels.get(p, p) for p in paper.pages)


def render_source(answer: "Answer", number: int, paper: "Paper", labels: dict[str, str], turn: int) -> str:
    """One cited paper: its listing details and its abstract with the cited passage highlighted."""
    citation = next((c for c in answer.citations if c.number == number), None)
    if citation is None:
        return render_sources(answer, turn, labels, note=f"This answer has no source [{number}].")
    listed_on = _page_names(paper, labels)
    rows = [("Authors", ", ".join(paper.authors) or "—"), ("Listed on", listed_on or "—")]
    session = paper.session if paper.session and paper.session not in listed_on else None
    for label, value in (("Presentation", paper.presentation), ("Session", session), ("Room", paper.room), ("Poster", paper.poster_number),
                         ("Award", paper.award), ("Venue", paper.venue), ("Year", paper.year)):
        if value:
            rows.append((label, str(value)))
    meta = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    abstract = paper.abstract
    if citation.span:
        body = _highlight(abstract, citation.span, _quoted_parts(answer.text))
        cited_note = "The highlighted passage is what the answer cites (quoted sentences darker)."
        listing = ""
    else:
        body = esc(abstract)
        cited_note = "The answer cites this paper's listing details:"
        listing = f'<div class="rag-cited-listing"><mark class="rag-cited">{esc(citation.passage)}</mark></div>'
    support = (f' · support {citation.support:.2f}' if citation.support is not None else "")
    award = f'<span class="rag-badge rag-badge-award">{esc(paper.award)}</span>' if paper.award else ""
    url = f'<a href="{esc(paper.url)}" target="_blank" rel="noopener">link</a>' if paper.url else ""
    others = _other_sources(answer, turn, current=number)
    return (f'<div class="rag-panel rag-source" data-turn="{turn}" data-number="{number}">'
            f'<div class="rag-source-head"><span class="rag-source-num">[{number}]</span>'
            f'<span class="rag-source-title">{esc(paper.title)}</span>{award}</div>'
            f'<table class="rag-meta">{meta}</table>'
            f'<div class="rag-source-note">{esc(cited_note)}{support} {url}</div>{listing}'
            f'<div class="rag-abstract">{body}</div>{others}</div>')


def _quoted_parts(text: str) -> list[str]:
    """The stretches of answer text between citation markers (what an extractive answer quotes)."""
    return [part.strip() for part in MARKER.split(text) if part and len(part.strip()) > 20]


def _highlight(abstract: str, span: tuple[int, int], quoted: Sequence[str]) -> str:
    """The abstract as HTML: the cited span in <mark>, the sentences the answer quotes inside it darker."""
    a, b = span
    cuts: list[tuple[int, int]] = []
    for part in quoted:
        at = abstract.find(part, a, b)
        if at >= 0 and not any(x < at + len(part) and at < y for x, y in cuts):
            cuts.append((at, at + len(part)))
    inner, pos = [], a
    for x, y in sorted(cuts):
        inner.append(esc(abstract[pos:x]))
        inner.append(f'<mark class="rag-quoted">{esc(abstract[x:y])}</mark>')
        pos = y
    inner.append(esc(abstract[pos:b]))
    return f'{esc(abstract[:a])}<mark class="rag-cited">{"".join(inner)}</mark>{esc(abstract[b:])}'


def _other_sources(answer: "Answer", turn: int, current: int | None = None) -> str:
    items = "".join(
        f'<li class="{"rag-current" if c.number == current else ""}"><a class="rag-cite" href="#cite-{turn}-{c.number}">[{c.number}]</a> '
        f'{esc(c.title)}</li>' for c in answer.citations)
    return f'<div class="rag-source-list"><div class="rag-source-list-title">Sources of this answer</div><ol>{items}</ol></div>' if items else ""


def render_sources(answer: "Answer | None", turn: int, labels: dict[str, str], note: str = "") -> str:
    """The sources panel before a citation is opened: the answer's sources, or a hint."""
    if answer is None:
        return ('<div class="rag-panel rag-source-empty"><b>Sources</b><br>Ask a question; each [n] in an answer opens '
                'the cited paper here, with the passage it quotes highlighted.</div>')
    if not answer.citations:
        return ('<div class="rag-panel rag-source-empty"><b>Sources</b><br>The last answer cites no paper'
                f'{" (the collection does not answer it)" if answer.abstained else ""}.</div>')
    head = f'<div class="rag-source-note">{esc(note)}</div>' if note else ""
    return f'<div class="rag-panel rag-source">{head}{_other_sources(answer, turn)}<div class="rag-source-note">Click a [n] to read it.</div></div>'


# ---- the app ------------------------------------------------------------------------------------------
def _page_choices(backend: Backend) -> list[tuple[str, str]]:
    """(label, page id) for the page filter, e.g. ("Poster Session 3 (135 papers)", "001_7c64...")."""
    try:
        pages = backend.assistant.corpus().pages
    except Exception as exc:  # the start-up thread reports corpus errors; the filter just stays empty
        log.warning("page list unavailable: %s", exc)
        return []
    choices = []
    for n, page in enumerate(pages, 1):
        kind = {"iclr-oral": "ICLR orals", "iclr-poster": "ICLR posters"}.get(page.layout, "paper listing")
        label = f"{page.session or kind} ({page.listings} papers, page {n})"
        backend.page_labels[page.page] = f"{page.session or kind} (page {n} of {len(pages)})"
        choices.append((label, page.page))
    return choices


def collection_heading(backend: Backend) -> str:
    """The page heading: what the indexed collection holds, from its records (pages and counts)."""
    from rag.listings import Listings

    try:
        described = Listings(backend.assistant.corpus().papers).describe(short=True)
    except Exception as exc:  # the start-up thread reports corpus errors; the heading stays generic
        log.warning("collection unavailable for the heading: %s", exc)
        described = "the indexed paper abstracts"
    return (f'<div class="rag-brand"><span class="rag-logo">rag</span> cited answers from '
            f'<span class="rag-collection">{esc(described)}</span></div>')


def _field_choices(backend: Backend, name: str) -> list[str]:
    try:
        papers = backend.assistant.corpus().papers
    except Exception:
        return []
    return sorted({getattr(p, name) for p in papers if getattr(p, name)})


def _options(backend: Backend, retriever: str, top_k: Any, generator: str, page: str, presentation: str, award: str,
             author: str) -> dict[str, Any]:
    """Per-question options for Assistant.ask_stream from the settings controls."""
    from rag import SettingsError

    settings = backend.settings
    options: dict[str, Any] = {"retriever": retriever or settings.retriever, "top_k": int(top_k or settings.top_k)}
    if not generator:  # the server's default
        generator = settings.llm_model if settings.generator == "llm" and settings.llm_model else "extractive"
    if generator == "extractive":
        options["generator"] = "extractive"
    elif generator in backend.models:  # only models the operator offered: a request cannot load any folder it names
        options.update(generator="llm", llm_model=generator)
    else:
        offered = ", ".join(["extractive", *backend.models])
        raise SettingsError(f"generator {generator!r} is not offered by this server; choose one of: {offered} "
                            "(the operator adds models with app.py --model)")
    filters = {"page": page or None, "presentation": presentation or None, "award": award or None,
               "author": (author or "").strip() or None}
    if any(filters.values()):
        options["filters"] = filters
    return options


def build_app(backend: Backend, concurrency: int = 4) -> "gr.Blocks":
    """The Gradio Blocks app over `backend` (queue enabled, not launched)."""
    import gradio as gr

    from rag import Answer, RagError
    from rag.server_backend import host_of

    settings = backend.settings
    where = f" @ {host_of(settings.llm_base_url)}" if settings.llm_backend == "openai" else ""
    generators = [("extractive (quotes, no model)", "extractive")] + [(f"LLM: {m}{where}", m) for m in backend.models]
    default_generator = settings.llm_model if settings.generator == "llm" and settings.llm_model in backend.models else "extractive"
    page_choices = [("any page", ANY)] + _page_choices(backend)
    presentations = [("any", ANY)] + [(p, p) for p in _field_choices(backend, "presentation")]
    awards = [("any", ANY)] + [(a, a) for a in _field_choices(backend, "award")]

    def ask_in_chat(message: str, chat: list[dict], turns: list, retriever: str, top_k: float, generator: str, page: str,
                    presentation: str, award: str, author: str) -> Iterator[tuple]:
        chat = list(chat or [])
        turns = list(turns or [])
        question = message or ""
        chat.append({"role": "user", "content": render_user(question) if question.strip() else render_user("(empty question)")})
        chat.append({"role": "assistant", "content": render_partial("")})
        yield chat, turns, "", gr.skip()
        try:
            if not backend.ready.is_set():
                while not backend.ready.wait(1.0):
                    chat[-1] = {"role": "assistant", "content": render_partial(f"(waiting for start-up: {backend.status})")}
                    yield chat, turns, "", gr.skip()
            assistant = backend.wait()
            options = _options(backend, retriever, top_k, generator, page, presentation, award, author)
            written = ""
            answer: Answer | None = None
            for piece in assistant.ask_stream(question, history=turns, **options):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    written += piece
                    chat[-1] = {"role": "assistant", "content": render_partial(written)}
                    yield chat, turns, "", gr.skip()
            assert answer is not None
            turns.append(answer)
            chat[-1] = {"role": "assistant", "content": render_answer(answer, len(turns) - 1, options.get("llm_model"))}
            yield chat, turns, "", render_sources(answer, len(turns) - 1, backend.page_labels)
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield chat, turns, question, gr.skip()
        except Exception as exc:  # a bug: the chat says so, the server keeps serving, the log has the traceback
            log.exception("question failed: %r", question)
            chat[-1] = {"role": "assistant", "content": render_error(
                f"Something went wrong on the server ({type(exc).__name__}); it is logged. Try again or rephrase the question.")}
            yield chat, turns, question, gr.skip()

    def open_source(key: str, turns: list) -> str:
        match = re.fullmatch(r"#?cite-(\d+)-(\d+)", (key or "").strip())
        if not match or int(match.group(1)) >= len(turns or []):
            return render_sources(None, 0, backend.page_labels)
        turn, number = int(match.group(1)), int(match.group(2))
        answer = turns[turn]
        citation = next((c for c in answer.citations if c.number == number), None)
        if citation is None:
            return render_sources(answer, turn, backend.page_labels, note=f"This answer has no source [{number}].")
        paper = next((h.paper for h in answer.hits if h.paper_id == citation.paper_id), None)
        if paper is None:
            try:
                paper = backend.wait().paper(citation.paper_id)
            except RagError as exc:
                return render_error(str(exc))
        return render_source(answer, number, paper, backend.page_labels, turn)

    def clear() -> tuple:
        return [], [], render_sources(None, 0, backend.page_labels)

    def status() -> tuple:
        done = backend.ready.is_set()
        return backend.status_html(), gr.Timer(active=not done)

    def api_ask(question: str, history: list | None = None, retriever: str = "", top_k: int = 0, generator: str = "",
                page: str = "", presentation: str = "", award: str = "", author: str = "") -> dict:
        """Answer a question with numbered citations (or abstain). Returns the Answer as JSON: text, abstained,
        generator ("extractive" or "llm", with the LLM's name in "model"), timings, citations (number, paper_id, title,
        passage, span), query, warnings, retrieved.
        `history`: earlier turns for a follow-up, e.g. the dicts earlier calls returned."""
        try:
            assistant = backend.wait()
            options = _options(backend, retriever, top_k, generator, page, presentation, award, author)
            answer = assistant.ask(question, history=history or None, **options)
            return answer.to_dict()  # "model": the model that wrote it (with the server's host), None when extractive
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_search(query: str, k: int = 10, retriever: str = "", page: str = "", presentation: str = "", award: str = "",
                   author: str = "") -> list:
        """Papers best first for a query: rank, paper_id, title, score, authors, pages, passages."""
        try:
            assistant = backend.wait()
            options = _options(backend, retriever, 1, "", page, presentation, award, author)
            options.pop("top_k"), options.pop("generator")
            return [h.to_dict() for h in assistant.search(query, k=int(k or 10), **options)]
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_papers(author: str = "", award: str = "", tier: str = "", page: str = "", presentation: str = "",
                   session: str = "", poster: str = "") -> dict:
        """Papers whose listing metadata matches every field given (exact and complete, in listing order): count,
        collection (its pages and counts), papers (paper_id, title, authors, pages, session, presentation,
        poster_number, award, abstract). author: a co-author's name (accents, case, initials tolerated; several
        joined by ';'); award: a label or "any"; tier: "top 5%", "top 25%" or "poster accept"; page: 1-5 or an id."""
        from rag import QuestionError

        try:
            listings = backend.wait().listings()
            try:
                papers = listings.search(author=author or None, award=award or None, tier=tier or None, page=page or None,
                                         presentation=presentation or None, session=session or None, poster=poster or None)
            except ValueError as exc:
                raise QuestionError(str(exc)) from None
            return {"count": len(papers), "collection": listings.describe(), "papers": [p.to_dict() for p in papers]}
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    with gr.Blocks(title="rag — cited answers from ML abstracts", analytics_enabled=False) as demo:
        turns = gr.State([])
        with gr.Row(elem_classes=["rag-header"]):
            gr.HTML(collection_heading(backend), elem_id="rag-heading")
            status_box = gr.HTML(backend.status_html(), elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(value=[], elem_id="rag-chat", height=640, show_label=False, latex_delimiters=[],
                                     sanitize_html=True, render_markdown=True, feedback_options=None,
                                     buttons=["copy_all"], placeholder="Ask about the papers in the collection. "
                                     "Answers quote the abstracts and cite them as [n].")
                with gr.Row():
                    message = gr.Textbox(placeholder="Ask a question about the papers …", show_label=False, scale=5,
                                         elem_id="rag-input", lines=1, max_lines=4, autofocus=True, submit_btn=False)
                    send = gr.Button("Send", variant="primary", scale=1, min_width=90, elem_id="rag-send")
                    new_chat = gr.Button("New chat", scale=1, min_width=90, elem_id="rag-clear")
                gr.Examples(EXAMPLES, inputs=[message], label="Examples")
            with gr.Column(scale=2, min_width=340):
                sources = gr.HTML(render_sources(None, 0, backend.page_labels), elem_id="rag-sources", padding=True)
                with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                    retriever = gr.Radio(["hybrid", "dense", "bm25"], value=settings.retriever, label="Retriever",
                                         info="hybrid = BM25 + MiniLM vectors")
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Papers to read (top-k)")
                    generator = gr.Dropdown(generators, value=default_generator, label="Generator",
                                            info="models offered with --model", elem_id="rag-generator")
                    page = gr.Dropdown(page_choices, value=ANY, label="Listing page")
                    presentation = gr.Dropdown(presentations, value=ANY, label="Presentation type")
                    award = gr.Dropdown(awards, value=ANY, label="Award")
                    author = gr.Textbox(label="Author", placeholder="part of a name, e.g. Hinton")
        cite_key = gr.Textbox(elem_id="rag-cite-key", elem_classes=["rag-hidden"], show_label=False, container=False)
        cite_open = gr.Button("open source", elem_id="rag-cite-open", elem_classes=["rag-hidden"])
        timer = gr.Timer(1.0, active=not backend.ready.is_set())

        inputs = [message, chatbot, turns, retriever, top_k, generator, page, presentation, award, author]
        outputs = [chatbot, turns, message, sources]
        for event in (message.submit, send.click):
            event(ask_in_chat, inputs, outputs, api_visibility="private", show_progress="hidden")
        new_chat.click(clear, None, [chatbot, turns, sources], api_visibility="private", queue=False)
        chatbot.clear(clear, None, [chatbot, turns, sources], api_visibility="private", queue=False)
        # A click on a [n] link (anywhere) stores its key and clicks the hidden button (script in HEAD).
        cite_open.click(open_source, [cite_key, turns], [sources], api_visibility="private", show_progress="hidden",
                        js="(key, turns) => [window.ragCiteKey || key, turns]")
        timer.tick(status, None, [status_box, timer], api_visibility="private", show_progress="hidden", queue=False)
        demo.load(status, None, [status_box, timer], api_visibility="private", show_progress="hidden", queue=False)
        gr.api(api_ask, api_name="ask")
        gr.api(api_search, api_name="search")
        gr.api(api_papers, api_name="papers")
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo


ASSETS = Path(__file__).resolve().parent / "assets"


def _asset(name: str) -> str:
    """The text of a file in assets/ (the page's CSS and script live there, not in this module)."""
    return (ASSETS / name).read_text(encoding="utf-8")





def theme() -> Any:
    """Gradio's default theme in indigo and slate, with system fonts (nothing fetched from a font service)."""
    import gradio as gr

    sans = ["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica Neue", "Arial", "Liberation Sans", "DejaVu Sans", "sans-serif"]
    return gr.themes.Default(primary_hue="indigo", secondary_hue="indigo", neutral_hue="slate", font=sans,
                             font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


# ---- command line -------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py", description="Serve the rag chat UI (cited answers from the indexed abstracts).",
        epilog=f"Login: set {USER_ENV} and {PASSWORD_ENV} to require a user name and password. "
               "Other settings come from RAG_* environment variables (see `rag settings`), e.g. RAG_INDEX_DIR.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--model", action="append", default=[], metavar="PATH_OR_NAME",
                        help="an LLM the generator menu offers (repeatable; a local folder or hub name, or the server's "
                             "model name with --llm-backend openai); the first is the default generator")
    parser.add_argument("--llm-backend", choices=["transformers", "openai"], default=None,
                        help="where the --model LLMs run: transformers (in this process) or openai (an OpenAI-compatible "
                             "server at --llm-base-url); default RAG_LLM_BACKEND or transformers")
    parser.add_argument("--llm-base-url", default=None, metavar="URL",
                        help="the server's API base URL for --llm-backend openai, e.g. http://127.0.0.1:11434/v1 "
                             "(default RAG_LLM_BASE_URL)")
    parser.add_argument("--generator", choices=["extractive", "llm"], default=None,
                        help="default generator (default: llm when --model is given, else RAG_GENERATOR or extractive)")
    parser.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default=None, help="default retriever")
    parser.add_argument("--top-k", type=int, default=None, help="default number of papers read per question")
    parser.add_argument("--concurrency", type=int, default=4, help="questions answered at the same time (default 4)")
    parser.add_argument("--no-warmup", action="store_true", help="do not load the language model before serving")
    return parser.parse_args(argv)


def _login() -> tuple[str, str] | None:
    user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    if bool(user) != bool(password):
        raise SystemExit(f"app.py: set both {USER_ENV} and {PASSWORD_ENV} for a login, or neither")
    return (user, password) if user else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[%(name)s] %(message)s")
    auth = _login()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

    from rag import RagError, load_settings

    overrides: dict[str, Any] = {"progress": False}
    if args.retriever:
        overrides["retriever"] = args.retriever
    if args.top_k:
        overrides["top_k"] = args.top_k
    if args.llm_backend:
        overrides["llm_backend"] = args.llm_backend
    if args.llm_base_url:
        overrides["llm_base_url"] = args.llm_base_url
    models = list(args.model)
    try:
        settings = load_settings(**overrides)
        if settings.llm_model and settings.llm_model not in models and (settings.generator == "llm" or not models):
            models.insert(0, settings.llm_model)  # RAG_LLM_MODEL is offered too
        generator = args.generator or ("llm" if args.model else settings.generator)
        if generator == "llm":
            if not models:
                raise RagError("--generator llm needs a model: add --model PATH_OR_NAME (or set RAG_LLM_MODEL)")
            settings = settings.with_options(generator="llm", llm_model=models[0])
        else:
            settings = settings.with_options(generator="extractive")
    except RagError as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 2

    backend = Backend(settings, models, warm_generator=None if args.no_warmup or generator != "llm" else models[0])
    backend.start()
    demo = build_app(backend, concurrency=max(1, args.concurrency))
    try:
        demo.launch(server_name=args.host, server_port=args.port, auth=auth, share=False, inbrowser=False, ssr_mode=False,
                    show_error=False, quiet=True, footer_links=["api"], css=_asset("app.css"),
                    head=f"<script>\n{_asset('app.js')}</script>", theme=theme(),
                    auth_message="Sign in to ask questions about the indexed papers." if auth else None,
                    prevent_thread_lock=True)
    except OSError as exc:
        print(f"app.py: cannot serve on {args.host}:{args.port} ({exc}); pick another port with --port", file=sys.stderr)
        return 2
    print(f"[rag] serving on http://{args.host}:{args.port}{' (login required)' if auth else ''}", file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
