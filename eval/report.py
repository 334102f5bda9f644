"""The eval report: results.json (figures + provenance), report.md (for a person) and PNG charts."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import EvalConfig
from .harness import TYPES, Question

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "numpy", "chromadb", "bm25s", "onnxruntime", "tokenizers", "transformers", "torch",
            "sentence-transformers", "llama-index-core", "llama-index-embeddings-huggingface",
            "llama-index-vector-stores-chroma", "matplotlib")
# (key, label) of the summary table and the chart, in reading order.
HEADLINE = (("hit@1", "hit@1"), ("hit@5", "hit@5"), ("mrr", "MRR"), ("ndcg@10", "nDCG@10"),
            ("key_fact_recall", "key facts"), ("citation_precision", "cited papers gold"),
            ("sentence_recall", "sentences supported"), ("abstain_f1", "abstain F1"))
DETAIL = ("hit@1", "hit@5", "recall@5", "recall@10", "mrr", "ndcg@10", "key_fact_recall", "key_fact_recall_all",
          "token_f1", "rouge_l", "semantic_similarity", "citation_precision", "citation_recall", "passage_precision",
          "sentence_recall", "count_exact", "abstain_precision", "abstain_recall", "abstain_f1", "abstain_false_abstain_rate",
          "partial_named", "partial_answers", "confidence_brier",
          "correctness", "groundedness", "judge_unparseable", "latency_p50_ms", "latency_p95_ms", "search_p50_ms", "search_p95_ms")
MAX_FAILURES = 25  # per run and split in report.md; every row is in rows/*.jsonl


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when missing)."""
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {name: version(name) for name in names}


def machine() -> dict[str, Any]:
    """CPU model and count, platform and Python version (also recorded by bench/run.py)."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu_model": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def provenance(cfg: EvalConfig, base: Any, files: list[Path], judge: Any, baseline: dict[str, Any]) -> dict[str, Any]:
    """What makes a run reproducible: config, settings per run, versions, commit, question hashes, machine."""
    import hashlib

    status = _git("status", "--porcelain")
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {"source": cfg.source, "raw": cfg.raw, "bootstrap": cfg.bootstrap, "seed": cfg.seed},
        "run_settings": {s.name: {"overrides": s.overrides, "baseline": s.baseline,
                                  "settings": s.settings.model_dump(mode="json") if s.settings else None} for s in cfg.runs},
        "questions": [{"path": str(f), "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                       "count": sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())} for f in files],
        "git": {"commit": _git("rev-parse", "HEAD"), "dirty": bool(status)},
        "packages": package_versions(),
        "machine": {**machine(), "loadavg_at_end": list(os.getloadavg())},  # other processes' load skews the latency figures
        "judge": {"model": cfg.judge_model, "error": getattr(judge, "error", None)} if judge else {"model": None, "note": "skipped: no judge_model"},
        "baseline": baseline,
    }


def _f(value: Any, pct: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{100 * value:.1f}%" if pct else f"{value:.3f}"
    return str(value)


def readme_table(results: dict[str, Any], order: tuple[str, ...] = ("test", "dev")) -> str:
    """Markdown: one row per run, each cell "test / dev" (splits in `order` that exist)."""
    runs = results["runs"]
    splits = [s for s in order if any(s in r for r in runs.values())] or sorted({s for r in runs.values() for s in r})
    cols = list(HEADLINE) + [("abstain_false_abstain_rate", "wrong abstains"), ("latency_p50_ms", "ask p50 ms"),
                             ("search_p50_ms", "search p50 ms")]
    head = "| run (" + " / ".join(splits) + ") | " + " | ".join(label for _, label in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for name, per_split in runs.items():
        cells = []
        for key, _ in cols:
            vals = [per_split.get(s, {}).get("overall", {}).get(key) for s in splits]
            if key.endswith("_ms"):
                cells.append(" / ".join("–" if v is None else f"{v:.0f}" for v in vals))
            else:
                cells.append(" / ".join(_f(v, pct=key.endswith("rate")) for v in vals))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


STYLE_COLS = (("questions", "n"), ("hit@1", "hit@1"), ("key_fact_recall", "key facts"), ("citation_precision", "cited papers gold"),
              ("abstain_f1", "abstain F1"), ("abstain_false_abstain_rate", "wrong refusals"), ("partial_named", "missing named"),
              ("confidence_brier", "Brier"), ("latency_p50_ms", "ask p50 ms"))


def style_table(results: dict[str, Any]) -> str:
    """Markdown: one row per run, question file (part) and style, with the answerability figures; then the worst style."""
    lines = ["| run | questions | style | " + " | ".join(label for _, label in STYLE_COLS) + " |", "|---" * (len(STYLE_COLS) + 3) + "|"]
    worst: dict[str, tuple[float, str]] = {}
    for name, per_split in results["runs"].items():
        for split, res in per_split.items():
            for style, agg in res.get("by_style", {}).items():
                cells = []
                for key, _ in STYLE_COLS:
                    v = agg.get(key)
                    cells.append("–" if v is None else f"{v:.0f}" if key.endswith("_ms") or key == "questions" else _f(v, pct=key.endswith("rate")))
                lines.append(f"| {name} | {split} | {style} | " + " | ".join(cells) + " |")
                f1 = agg.get("abstain_f1")
                if f1 is not None and "dev" not in split and (name not in worst or f1 < worst[name][0]):
                    worst[name] = (f1, f"{style} ({split})")
    for name, (f1, where) in worst.items():
        lines.append(f"\n**{name}**: worst style outside dev: {where}, abstain F1 {f1:.3f}")
    return "\n".join(lines)


def _ci_cell(overall: dict[str, Any], key: str) -> str:
    v = overall.get(key)
    ci = overall.get("ci", {}).get(key)
    if isinstance(v, float) and key.endswith("_ms"):
        return f"{v:.1f}"
    return _f(v) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def markdown(results: dict[str, Any], cfg: EvalConfig, questions: dict[str, list[Question]], papers: dict[str, Any]) -> str:
    git = results["git"]
    out = [f"# Eval report ({results['created']})", "",
           f"Config `{cfg.source}`; commit `{(git['commit'] or '?')[:10]}`{' (uncommitted changes)' if git['dirty'] else ''}; "
           f"{results['machine']['cpu_model']} x{results['machine']['cpu_count']} (load average at the end "
           f"{results['machine']['loadavg_at_end'][1]:.1f}); {results['seconds']['total']:.1f} s in all. "
           f"Intervals: 95% percentile bootstrap over questions ({cfg.bootstrap} resamples, seed {cfg.seed}). "
           "Metric definitions: README, \"Answer-quality eval\".", "",
           "Runs: " + "; ".join(f"**{s.name}**: {s.describe()}" for s in cfg.runs), "",
           "## Summary", "", readme_table(results), "", "## By style", "",
           "Answerability per style (a partial answer counts as an abstention; \"missing named\": share of unjoined/unstated "
           "questions abstained on with the missing concept named).", "", style_table(results), ""]
    if results["judge"]["model"] is None:
        out += ["LLM judge: skipped (no `judge_model` configured).", ""]
    for split, qs in questions.items():
        runs = [n for n in results["runs"] if split in results["runs"][n]]
        out += [f"## {split} ({len(qs)} questions)", "", f"![chart](chart_{split}.png)", "",
                "| metric | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
        for key in DETAIL:
            cells = [_ci_cell(results["runs"][n][split]["overall"], key) for n in runs]
            if any(c != "–" for c in cells):
                out.append(f"| {key} | " + " | ".join(cells) + " |")
        for n in runs:
            # "listing" and "field" write the router's answers whatever generator was asked for (rag.listed): not a fallback
            gens = [g for g in results["runs"][n][split]["overall"].get("generators") or [] if g not in ("listing", "field")]
            if gens and cfg.runs and any(s.name == n and s.overrides.get("generator", "extractive") not in gens for s in cfg.runs):
                out.append(f"\n**{n}**: asked for {next(s.overrides.get('generator', 'extractive') for s in cfg.runs if s.name == n)}, answered by "
                           f"{', '.join(gens)} (the model did not load: see `warnings` in the rows)")
        out += ["", "### By question type", "", "| run | type | n | hit@1 | MRR | key facts | cited papers gold | abstained |",
                "|---|---|---|---|---|---|---|---|"]
        for n in runs:
            for t, agg in results["runs"][n][split]["by_type"].items():
                abst = agg.get("abstain_recall") if t == "unanswerable" else agg.get("abstain_false_abstain_rate")
                out.append(f"| {n} | {t} | {agg['questions']} | {_f(agg.get('hit@1'))} | {_f(agg.get('mrr'))} | "
                           f"{_f(agg.get('key_fact_recall'))} | {_f(agg.get('citation_precision'))} | {_f(abst, pct=True)} |")
        out += ["", "### Failures", ""]
        for n in runs:
            rows = results["_rows"][split][n]
            bad = [r for r in rows if r.get("failures")]
            counts: dict[str, int] = {}
            for r in bad:
                for f in r["failures"]:
                    counts[f] = counts.get(f, 0) + 1
            out.append(f"**{n}**: {len(bad)} of {len(rows)} questions with a failure "
                       f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'})"
                       + (f"; the first {MAX_FAILURES} below, all in rows/{split}__{n}.jsonl" if len(bad) > MAX_FAILURES else ""))
            out.append("")
            for r in bad[:MAX_FAILURES]:
                title = lambda pid: papers[pid].title if pid in papers else pid  # noqa: E731
                gold = "; ".join(title(g) for g in r["gold"]) or "(none: unanswerable)"
                got = "; ".join(title(p) for p in r["ranked"][:3])
                line = f"- `{r['id']}` ({r['type']}) **{', '.join(r['failures'])}**: {r['question']}  \n  gold: {gold}  \n  retrieved: {got}"
                if "text" in r:
                    text = r["text"] if len(r["text"]) <= 300 else r["text"][:300] + " ..."
                    line += f"  \n  answer: {text}"
                out.append(line)
            out.append("")
    out += ["## Timings", "", "| part | seconds |", "|---|---|"] + [f"| {k} | {v:.1f} |" for k, v in results["seconds"].items()]
    return "\n".join(out) + "\n"


def chart(results: dict[str, Any], split: str, path: Path) -> None:
    """Grouped bars of the headline metrics per run (95% CI whiskers), and hit@1 / key facts by question type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = [n for n in results["runs"] if split in results["runs"][n]]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(1, len(runs))
    x = np.arange(len(HEADLINE))
    for i, n in enumerate(runs):
        o = results["runs"][n][split]["overall"]
        vals = [o.get(k) for k, _ in HEADLINE]
        ci = [o.get("ci", {}).get(k) for k, _ in HEADLINE]
        heights = [v if v is not None else np.nan for v in vals]
        err = np.array([[v - c[0], c[1] - v] if v is not None and c else [0, 0] for v, c in zip(vals, ci)]).T
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, heights, width, yerr=err, capsize=2, label=n)
    ax.set_xticks(x, [label for _, label in HEADLINE], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{split}: headline metrics (95% bootstrap CI)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    types = [t for t in TYPES if any(t in results["runs"][n][split]["by_type"] for n in runs)]
    tx = np.arange(len(types))
    for i, n in enumerate(runs):
        bt = results["runs"][n][split]["by_type"]
        # Answerable types: hit@1; unanswerable: share correctly abstained (retrieval has no gold there).
        vals = [(bt.get(t, {}).get("abstain_recall") if t == "unanswerable" else bt.get(t, {}).get("hit@1")) for t in types]
        bx.bar(tx + (i - (len(runs) - 1) / 2) * width, [v if v is not None else np.nan for v in vals], width, label=n)
    bx.set_xticks(tx, [t if t != "unanswerable" else "unanswerable\n(abstained)" for t in types], rotation=20, ha="right")
    bx.set_ylim(0, 1.05)
    bx.set_title(f"{split}: hit@1 by question type (unanswerable: share abstained)", fontsize=10)
    bx.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out_dir: Path, results: dict[str, Any], cfg: EvalConfig, files: dict[str, Path],
          questions: dict[str, list[Question]], papers: dict[str, Any]) -> None:
    """results.json, report.md and chart_<split>.png; rows are read back from rows/ for the failure lists."""
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for split, qs in questions.items():
        for name in results["runs"]:
            path = out_dir / "rows" / f"{split}__{name}.jsonl"
            by_id = {}
            for line in path.read_text(encoding="utf-8").splitlines()[1:]:
                r = json.loads(line)
                by_id[r["id"]] = r
            rows.setdefault(split, {})[name] = [by_id[q.id] for q in qs if q.id in by_id]
    tmp = out_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, out_dir / "results.json")
    for split in questions:
        chart(results, split, out_dir / f"chart_{split}.png")
    (out_dir / "report.md").write_text(markdown({**results, "_rows": rows}, cfg, questions, papers), encoding="utf-8")


__all__ = ["chart", "markdown", "provenance", "readme_table", "style_table", "write"]
