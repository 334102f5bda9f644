"""`rag` on the command line: index, search, ask, papers, settings, eval.

Thin: parses flags (generated from the Settings fields), calls the public API, prints. A RagError
becomes one line on stderr and exit status 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from typing import Any, Callable, get_args, get_origin

from .errors import RagError
from .settings import Settings

FILTER_FLAGS = ("page", "presentation", "award", "author")


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per Settings field, described by the field's description."""
    group = parser.add_argument_group("settings (also RAG_<NAME> environment variables)")
    for name, info in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        ann = info.annotation
        choices = None
        if get_origin(ann) is list:
            group.add_argument(flag, dest=f"set_{name}", action="append", metavar="PATH", help=info.description)
            continue
        args = [a for a in get_args(ann) if a is not type(None)] or [ann]
        if get_origin(args[0]) is not None and str(get_origin(args[0])).endswith("Literal"):
            choices = list(get_args(args[0]))
        elif str(ann).startswith("typing.Literal"):
            choices = list(get_args(ann))
        if ann is bool:
            group.add_argument(flag, dest=f"set_{name}", action=argparse.BooleanOptionalAction, default=None, help=info.description)
            continue
        kind = args[0] if args[0] in (int, float) else str
        group.add_argument(flag, dest=f"set_{name}", type=kind, choices=choices, default=None,
                           metavar=None if choices else name.upper(), help=info.description)


def _settings_from(args: argparse.Namespace) -> Settings:
    from .settings import load_settings

    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}
    settings = load_settings(**overrides)
    # `rag ask --model X`, or a server backend chosen by flag or environment, means "answer with that model",
    # unless a generator is named (by flag or RAG_GENERATOR).
    if (getattr(args, "command", None) == "ask" and "generator" not in settings.model_fields_set
            and (overrides.get("llm_model") or settings.llm_backend == "openai")):
        settings = settings.with_options(generator="llm")
    return settings


def _filters_from(args: argparse.Namespace) -> dict[str, str] | None:
    filters = {f: getattr(args, f) for f in FILTER_FLAGS if getattr(args, f, None)}
    return filters or None


def _progress_bar() -> Callable[[str, int, int], None]:
    """One tqdm bar on stderr: papers done of all, with chunks per second beside papers per second and the ETA."""
    state: dict[str, Any] = {"chunks": 0}

    def update(stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage == "chunks":
            state["chunks"] = done
            return
        bar = state.get("bar")
        if bar is None:
            if total == 0:
                return
            bar = state["bar"] = tqdm(total=total, desc="indexing", unit="paper", file=sys.stderr, leave=False, dynamic_ncols=True)
        elapsed = bar.format_dict.get("elapsed") or 0.0
        if elapsed > 0:
            bar.set_postfix_str(f"{state['chunks']:,} chunks, {state['chunks'] / elapsed:.0f} chunks/s", refresh=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.refresh()
            bar.close()

    return update


class _OursOnly(logging.Filter):
    """Console lines from rag and eval only; other libraries' records (e.g. bm25s' "Building index
    from tokens", which bm25s logs at DEBUG after setting its own logger to DEBUG on import) stay
    off, unless -v or they are errors."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name.split(".")[0] in ("rag", "eval", "__main__")
        return ours or record.levelno >= logging.ERROR or (self.verbose and record.levelno >= logging.INFO)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("rag: %(message)s"))
    handler.addFilter(_OursOnly(verbose))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def cmd_index(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    settings = _settings_from(args)
    assistant = Assistant(settings)
    report = assistant.index(rebuild=args.rebuild, progress=_progress_bar() if settings.progress else None)
    # The corpus warnings were logged by Assistant.index (as "rag: ..."): not printed a second time here.
    if not report.unchanged:  # every merge is reported, once, when it shapes the index
        for merge in report.merges:
            print(f"merged: {merge}", file=sys.stderr)
        if args.verbose and report.timings:
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.timings.items(), key=lambda kv: -kv[1]))
            print(f"build stages: {stages}", file=sys.stderr)
    if args.json:
        print(json.dumps({**report.__dict__, "path": str(report.path)}, indent=2))
    else:
        print(report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    hits = Assistant(_settings_from(args)).search(args.query, k=args.k, filters=_filters_from(args))
    if args.json:
        print(json.dumps({"query": args.query, "results": [h.to_dict() for h in hits]}, indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("no papers match")
    for h in hits:
        authors = ", ".join(h.paper.authors[:4]) + (" et al." if len(h.paper.authors) > 4 else "")
        print(f"{h.rank:>2}. {h.title}  (score {h.score:.4f})")
        if authors:
            print(f"    {authors}")
        if h.passages:
            print(textwrap.fill(h.passages[0].text, width=100, initial_indent="    > ", subsequent_indent="      ", max_lines=3))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    settings = _settings_from(args)
    answer = Assistant(settings).ask(args.question, filters=_filters_from(args))
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    for warning in answer.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in answer.text.split("\n"):  # list answers keep one paper per line
        print(textwrap.fill(line, width=100, subsequent_indent="    " if line.startswith("[") else ""))
    if answer.citations:
        print("\nReferences")
        for c in answer.citations:
            print(f"[{c.number}] {c.title}")
            print(textwrap.fill(c.passage, width=100, initial_indent="    \"", subsequent_indent="     ",
                                max_lines=2 if answer.generator == "listing" else 4) + "\"")
    elif answer.abstained and answer.hits:
        print("\nClosest papers (not cited: they do not answer the question)")
        for h in answer.hits[:3]:
            print(f"  - {h.title}")
    label = answer.written_by
    if answer.generator == "extractive" and settings.generator == "llm":  # the model did not answer: the reason is on stderr
        label += " (fallback: see the warning above)"
    print(f"\n({label}; {answer.timings.get('total_ms', 0):.0f} ms)")
    return 0


def cmd_papers(args: argparse.Namespace) -> int:
    """The records matching listing fields (exact and complete; see rag.listings)."""
    from .assistant import Assistant
    from .errors import QuestionError

    listings = Assistant(_settings_from(args)).listings()
    try:
        papers = listings.search(author=args.author, award=args.award, tier=args.tier, page=args.page,
                                 presentation=args.presentation, session=args.session, poster=args.poster)
    except ValueError as exc:
        raise QuestionError(str(exc)) from None
    if args.json:
        print(json.dumps({"count": len(papers), "collection": listings.describe(), "papers": [p.to_dict() for p in papers]},
                         indent=2, ensure_ascii=False))
        return 0
    from .listed import item_line

    print(f"{len(papers)} of {listings.describe()}")
    for i, p in enumerate(papers, 1):
        print(textwrap.fill(item_line(i, p), width=100, subsequent_indent="    "))
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    data = json.loads(settings.model_dump_json())
    data["resolved"] = {"corpus_paths": [str(p) for p in settings.corpus_paths], "corpus_name": settings.resolved_corpus_name,
                        "index_dir": str(settings.resolved_index_dir), "embed_backend": settings.resolved_embed_backend,
                        "model_cache_dir": str(settings.resolved_model_cache_dir),
                        "vector_store": f"chroma server {settings.chroma_host}:{settings.chroma_port}" if settings.server_mode else "local chroma"}
    print(json.dumps(data, indent=2))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score question files with each run of a config (default: the configured settings); see eval/runner.py."""
    if args.beir:
        from eval.beir import markdown, run_beir

        section = run_beir(args.beir, settings=_settings_from(args), out=args.out, progress=not args.quiet)
        print(markdown(section))
        return 0
    from eval.report import readme_table
    from eval.runner import run_eval

    results = run_eval(questions=args.questions, config=args.config, out=args.out, settings=_settings_from(args),
                       fresh=args.fresh, judge_model=args.judge_model, progress=not args.quiet)
    print(readme_table(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Citation-first research assistant over ML paper abstracts.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index (embeds only new or changed chunks)")
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _settings_flags(p)
    p.set_defaults(func=cmd_index)

    for name, func, helptext in (("search", cmd_search, "rank papers for a query"), ("ask", cmd_ask, "answer a question with citations")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("query" if name == "search" else "question", help="the query" if name == "search" else "the question")
        if name == "search":
            p.add_argument("-k", type=int, default=10, help="how many papers (default 10)")
        else:
            p.add_argument("--model", dest="set_llm_model", metavar="NAME_OR_PATH",
                           help="generator model (hub name or local folder, or the server's model name with "
                                "--llm-backend openai); implies --generator llm")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        for f in FILTER_FLAGS:
            p.add_argument(f"--{f}", help=f"only papers whose {f} contains this text")
        _settings_flags(p)
        p.set_defaults(func=func)

    p = sub.add_parser("papers", help="list the papers whose listing metadata matches (exact, complete)")
    p.add_argument("--author", help="a co-author's name (accents, case, initials and middle names tolerated; "
                                    "several joined by ';' must all be co-authors)")
    p.add_argument("--award", help="an award label (e.g. 'Outstanding Paper'), or 'any'")
    p.add_argument("--tier", help="'top 5%%', 'top 25%%' or 'poster accept'")
    p.add_argument("--page", help="a listing page: its position (1-5), id or id prefix")
    p.add_argument("--presentation", help="oral, poster, virtual or in-person")
    p.add_argument("--session", help="part of a session name, e.g. 'Poster Session 3'")
    p.add_argument("--poster", help="a poster number, e.g. 57 or #57")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    _settings_flags(p)
    p.set_defaults(func=cmd_papers)

    p = sub.add_parser("eval", help="score answers on question files (default: eval/questions dev and test)")
    p.add_argument("--questions", action="append", metavar="FILE", help="a JSONL question file (repeatable; default: dev and test)")
    p.add_argument("--config", metavar="FILE", help="runs to compare side by side (TOML or JSON, e.g. eval/configs/default.toml)")
    p.add_argument("--out", metavar="DIR", help="report folder (default: eval/results/<config name>); re-using it resumes")
    p.add_argument("--fresh", action="store_true", help="score every question again instead of resuming")
    p.add_argument("--judge-model", metavar="NAME_OR_PATH", help="model that grades answers 1-5 (optional LLM judge; a server model with --llm-backend openai)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--beir", metavar="DIR", help="score retrieval on a BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): "
                   "nDCG@10, recall@10/100 and MRR for each retriever beside plain BM25")
    _settings_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("settings", help="print the effective settings as JSON")
    _settings_flags(p)
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
