"""Train the answerability model on the DEV parts of the question sets, and report the leave-one-style-out runs.

    python -m eval.train_answerability            # writes rag/models/answerability.json and eval/results/answerability/

Training questions: the dev part of every question file (eval/questions/dev.jsonl is style
"original"; eval/questions/styles/<style>.jsonl items carry `style` and `split`, and only
split == "dev" is fitted). Test parts are read only to report, never to fit or choose anything.
Questions the metadata router answers from the listings, comparisons judged side by side (one
decision per side, rag.comparison) and questions about a named paper as a whole ("What does NeuroNER
do?") are not judged on their own text in `ask` (Assistant.gated is False), so they are neither
fitted nor scored here.

The model: scikit-learn logistic regression on standardized rag.answerability.FEATURES (a
probability that is calibrated by construction of the log-loss fit, and a file of a few numbers).
One feature, `sem_pair`, is itself learned: the log-odds of a pair head (a second, strongly
regularized logistic regression over question vector * the top paper's best passage vector,
rag.answer_model.PairHead). The main model is fitted on out-of-fold head scores, and every
cross-validation fold refits the head on its own training part, so no score it is judged on came
from a head that saw that question's label.
The threshold maximizes abstention F1 with at most MAX_WRONG_REFUSALS wrong refusals, on
out-of-fold probabilities of the dev items (5-fold cross-validation), so it is not chosen on the
very predictions it was fitted to. The model file holds the weights, the feature list, the
threshold, the sha256 of every training file and a pinned case (a question, its features and its
probability) that the tests recompute.

Leave-one-style-out (LOSO): for each style, the same procedure fitted on the dev parts of the
other styles only, scored on the held-out style's test part. Each question's decision is a pure
function of its features (rag.answerability.Answerability.judge), so scoring the features is the
same decision the Assistant makes with that model file; the files are written too
(eval/results/answerability/loso-<style>.json) to run `rag eval` with RAG_ANSWERABILITY_MODEL.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from rag import Assistant, load_settings
from rag.answer_model import PAIR_FEATURE
from rag.answerability import DEFAULT_FOLLOWUP_MODEL, DEFAULT_MODEL, FEATURES, MODEL_FORMAT, file_sha256

from . import metrics as M
from .harness import EVAL_DIR

MAX_WRONG_REFUSALS = 0.04  # a little under the 5% target: the threshold is chosen on dev, reported on test
C = 0.03  # inverse regularization strength: dev LOSO (worst-style AUC and F1, with the pair head) preferred 0.03 over 0.01 and 0.1
PAIR_C = 0.01  # the pair head's (384 inputs, a few hundred questions): dev LOSO with the 183 second-writer items preferred 0.01 over 0.001
PAIR_COL = FEATURES.index(PAIR_FEATURE)
OUT_DIR = EVAL_DIR / "results" / "answerability"
ORIGINAL = {"dev": EVAL_DIR / "questions" / "dev.jsonl", "test": EVAL_DIR / "questions" / "test.jsonl"}
STYLES_DIR = EVAL_DIR / "questions" / "styles"


def load_items(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every question with its style and part: the shipped splits ("original") and the style files."""
    items: list[dict[str, Any]] = []
    if paths is None:
        for part, path in ORIGINAL.items():
            items += [{**q, "style": "original", "split": part, "_file": str(path)} for q in _read(path)]
        paths = sorted(STYLES_DIR.glob("*.jsonl")) if STYLES_DIR.exists() else []
    for path in paths:
        for q in _read(path):
            items.append({**q, "style": q.get("style") or path.stem, "split": q.get("split") or path.stem, "_file": str(path)})
    return items


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def featurize(items: list[dict[str, Any]], assistant: Assistant, say=print) -> tuple[np.ndarray, np.ndarray]:
    """The features (sem_pair 0: the pair head is fitted here) and the pair vectors of every question."""
    started = time.perf_counter()
    rows, pairs = [], []
    for i, q in enumerate(items, 1):
        sig = assistant.answerability_inputs(q["question"])
        rows.append([sig.features[n] for n in FEATURES])
        pairs.append(sig.pair)
        if i % 100 == 0:
            say(f"  features: {i}/{len(items)} ({time.perf_counter() - started:.0f} s)")
    dim = next((len(p) for p in pairs if p is not None), 1)
    P = np.stack([np.zeros(dim) if p is None else np.asarray(p, dtype=np.float64) for p in pairs]) if pairs else np.zeros((0, 1))
    return np.asarray(rows, dtype=np.float64), P


def _standardized(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    return (X - mean) / scale, mean, scale


def fit_head(P: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The pair head: a logistic regression over the standardized pair vectors."""
    from sklearn.linear_model import LogisticRegression

    Z, mean, scale = _standardized(P)
    lr = LogisticRegression(C=PAIR_C, max_iter=3000).fit(Z, y)
    return {"mean": mean, "scale": scale, "coef": lr.coef_[0], "intercept": float(lr.intercept_[0])}


def head_score(head: dict[str, Any], P: np.ndarray) -> np.ndarray:
    return ((P - head["mean"]) / head["scale"]) @ head["coef"] + head["intercept"]


def _with_head(X: np.ndarray, scores: np.ndarray) -> np.ndarray:
    X = X.copy()
    X[:, PAIR_COL] = scores
    return X


def head_oof(P: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Out-of-fold pair-head scores: the main model is fitted on scores the head did not see the labels of."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed + 1).split(P, y):
        out[te] = head_score(fit_head(P[tr], y[tr]), P[te])
    return out


def fit(X: np.ndarray, y: np.ndarray, P: np.ndarray | None = None, seed: int = 0, C: float = C) -> dict[str, Any]:
    """Standardize, fit the logistic regression (and the pair head, with P), choose the threshold on
    out-of-fold probabilities (the head refitted inside every fold: nothing of a held-out fold is seen)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    if P is not None:
        X = _with_head(X, head_oof(P, y, seed))
    Z, mean, scale = _standardized(X)
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(Z, y):
        if P is None:
            Ztr, Zte = Z[tr], Z[te]
        else:  # the fold's own head: out-of-fold scores inside it, fitted scores on its held-out part
            Ztr = (_with_head(X[tr], head_oof(P[tr], y[tr], seed)) - mean) / scale
            Zte = (_with_head(X[te], head_score(fit_head(P[tr], y[tr]), P[te])) - mean) / scale
        oof[te] = LogisticRegression(C=C, max_iter=2000).fit(Ztr, y[tr]).predict_proba(Zte)[:, 1]
    lr = LogisticRegression(C=C, max_iter=2000).fit(Z, y)
    return {"mean": mean, "scale": scale, "coef": lr.coef_[0], "intercept": float(lr.intercept_[0]),
            "threshold": choose_threshold(oof, y), "oof": oof, "head": fit_head(P, y) if P is not None else None}


def choose_threshold(prob: np.ndarray, answerable: np.ndarray, max_wrong: float = MAX_WRONG_REFUSALS) -> float:
    """The probability cut (abstain below it) with the best abstention F1 among those with few wrong refusals.

    choose_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) -> 0.5 (midway between 0.2 and 0.8)
    """
    values = np.unique(prob)
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])] + [1.0]
    best = (-1.0, 0.5)
    for t in cuts:
        ab = M.abstention(list(prob < t), list(answerable == 0))
        if ab["false_abstain_rate"] <= max_wrong and (ab["f1"], -abs(t - 0.5)) > (best[0], -abs(best[1] - 0.5)):
            best = (ab["f1"], float(t))
    return best[1]


def served(model: dict[str, Any], X: np.ndarray, P: np.ndarray | None) -> np.ndarray:
    """The features as the shipped file computes them: sem_pair is the fitted head's score."""
    return X if model.get("head") is None or P is None else _with_head(X, head_score(model["head"], P))


def probability(model: dict[str, Any], X: np.ndarray, P: np.ndarray | None = None) -> np.ndarray:
    X = served(model, X, P)
    z = ((X - model["mean"]) / model["scale"]) @ model["coef"] + model["intercept"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def figures(prob: np.ndarray, items: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Abstention figures of the decisions `prob < threshold` on `items` (decision only; `rag eval` scores answers)."""
    pred = list(prob < threshold)
    unans = [q["type"] == "unanswerable" for q in items]
    ab = M.abstention(pred, unans)
    brier = float(np.mean((prob - (~np.array(unans)).astype(float)) ** 2)) if len(prob) else None
    by_kind = {}
    for kind in ("absent", "unjoined", "unstated"):
        sel = [p for p, q in zip(pred, items) if q.get("unanswerable_kind") == kind]
        if sel:
            by_kind[kind] = sum(sel) / len(sel)
    return {"n": len(items), "unanswerable": sum(unans), "abstain_f1": ab["f1"], "abstain_precision": ab["precision"],
            "abstain_recall": ab["recall"], "wrong_refusals": ab["false_abstain_rate"], "brier": brier, "abstained_by_kind": by_kind}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", nargs="*", type=Path, help="question files (default: the shipped splits and eval/questions/styles/*.jsonl)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="model file to write")
    parser.add_argument("--report", type=Path, default=OUT_DIR, help="folder for the LOSO report and model files")
    parser.add_argument("--dev-only", action="store_true", help="for feature work: read no test item; LOSO scores the held-out style's dev part")
    parser.add_argument("--follow-up-out", type=Path, default=DEFAULT_FOLLOWUP_MODEL, help="follow-up model file to write")
    parser.add_argument("--follow-ups", action="store_true", help="fit the follow-up model alone, against the main model at --out")
    parser.add_argument("--no-follow-ups", action="store_true", help="fit the main model alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.follow_ups:
        return _follow_ups(args, say)
    items = load_items(args.questions)
    if args.dev_only:
        items = [q for q in items if q["split"] == "dev"]
    assistant = Assistant(load_settings(progress=False))
    assistant.answerability_inputs("warm-up question")  # no model file needed: the rebuild works when it is missing or stale
    # Questions the metadata router answers itself never reach the decision in `ask`: not fitted, not scored.
    routed = [q for q in items if not assistant.gated(q["question"])]
    items = [q for q in items if assistant.gated(q["question"])]
    styles = sorted({q["style"] for q in items})
    say(f"{len(items)} questions, styles {', '.join(styles)}; dev: {sum(q['split'] == 'dev' for q in items)}; "
        f"{len(routed)} answered by the metadata router left out")
    X, P = featurize(items, assistant, say)
    y = np.array([q["type"] != "unanswerable" for q in items], dtype=int)
    dev = np.array([q["split"] == "dev" for q in items])
    style = np.array([q["style"] for q in items])

    args.report.mkdir(parents=True, exist_ok=True)
    np.savez(args.report / "features.npz", X=X, P=P, y=y, dev=dev, style=style, ids=np.array([q["id"] for q in items]),
             kind=np.array([q.get("unanswerable_kind") or "" for q in items]), names=np.array(FEATURES))
    model = fit(X[dev], y[dev], P[dev])
    report: dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "features": list(FEATURES),
                              "threshold": model["threshold"], "dev_out_of_fold": figures(model["oof"], [q for q, d in zip(items, dev) if d], model["threshold"]),
                              "test": {}, "loso": {}, "loso_part": "dev" if args.dev_only else "test"}
    for s in styles:
        sel = (style == s) & ~dev
        if sel.any():
            report["test"][s] = figures(probability(model, X[sel], P[sel]), [q for q, k in zip(items, sel) if k], model["threshold"])
    sel = ~dev
    if sel.any():
        report["test"]["all"] = figures(probability(model, X[sel], P[sel]), [q for q, k in zip(items, sel) if k], model["threshold"])
    args.report.mkdir(parents=True, exist_ok=True)
    for s in styles:
        train = dev & (style != s)
        held = (style == s) & (dev if args.dev_only else ~dev)
        if not held.any() or len(set(y[train])) < 2:
            continue
        m = fit(X[train], y[train], P[train])
        report["loso"][s] = {**figures(probability(m, X[held], P[held]), [q for q, k in zip(items, held) if k], m["threshold"]),
                             "threshold": m["threshold"], "trained_on": int(train.sum())}
        _write_model(args.report / f"loso-{s}.json", m, items, train, served(m, X, P), {"loso_held_out": s})
    files = sorted({q["_file"] for q, d in zip(items, dev) if d})
    _write_model(args.out, model, items, dev, served(model, X, P), {})
    (args.report / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (args.report / "report.md").write_text(markdown(report), encoding="utf-8")
    say(markdown(report))
    say(f"model: {args.out} (trained on {int(dev.sum())} dev questions of {len(files)} file(s)); report: {args.report / 'report.md'}")
    assistant.close()
    if not args.no_follow_ups:
        _follow_ups(args, say)


def _follow_ups(args: argparse.Namespace, say: Any) -> None:
    """The follow-up model (eval.train_followup), its sem_pair scored by the main model at args.out."""
    from . import train_followup as F

    # The earlier turns are asked with the main model judging every turn, a second earlier follow-up too:
    # the follow-up model being fitted cannot judge its own training questions (the paper they resolve to is the same).
    settings = load_settings(progress=False).with_options(answerability_model=args.out, followup_model=args.out)
    args.report.mkdir(parents=True, exist_ok=True)
    part = F.train(settings, args.follow_up_out, say, features_out=args.report / "features-followup.npz")
    path = args.report / "report.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    report["follow_up"] = part
    path.write_text(json.dumps(report, indent=1), encoding="utf-8")
    (args.report / "report-followup.md").write_text(F.markdown(part), encoding="utf-8")
    say(F.markdown(part))
    say(f"follow-up model: {args.follow_up_out}")


def _write_model(path: Path, m: dict[str, Any], items: list[dict[str, Any]], train: np.ndarray, X: np.ndarray, extra: dict[str, Any]) -> None:
    from importlib.metadata import version

    files = sorted({q["_file"] for q, t in zip(items, train) if t})
    first = int(np.flatnonzero(train)[0])
    pinned_p = float(probability(m, X[first:first + 1])[0])  # X: the served features (sem_pair from the head)
    data = {"format": MODEL_FORMAT, "kind": "logistic_regression", "features": list(FEATURES),
            "mean": m["mean"].tolist(), "scale": m["scale"].tolist(), "coef": m["coef"].tolist(), "intercept": m["intercept"],
            "threshold": m["threshold"],
            "training": {"command": "python -m eval.train_answerability", "parts": "dev", "questions": int(train.sum()),
                         "by_style": {s: sum(1 for q, t in zip(items, train) if t and q["style"] == s) for s in sorted({q["style"] for q in items})},
                         "files": training_files(files),
                         "max_wrong_refusals": MAX_WRONG_REFUSALS, "C": C, "pair_C": PAIR_C, "scikit_learn": version("scikit-learn"),
                         # the vector features move a little with these (the pinned case's tolerance); retrain after upgrading them
                         "embedding_stack": {p: version(p) for p in ("onnxruntime", "transformers", "tokenizers", "sentence-transformers")},
                         "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
            "pinned": {"question": items[first]["question"], "features": dict(zip(FEATURES, X[first].tolist())), "probability": pinned_p},
            **extra}
    if m.get("head") is not None:
        data["pair_head"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in m["head"].items()}
    write_json(path, data)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A model file, written whole or not at all (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def training_files(files: list[str]) -> list[dict[str, str]]:
    """Each training file's path (relative to the repository when inside it) and sha256."""
    root = EVAL_DIR.parent
    return [{"path": str(Path(f).resolve().relative_to(root)) if Path(f).resolve().is_relative_to(root) else f,
             "sha256": file_sha256(Path(f))} for f in files]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Answerability: decision figures by style", "",
             f"Threshold {report['threshold']:.3f} (chosen on out-of-fold dev probabilities). Test parts only; "
             f"LOSO: fitted on the other styles' dev parts, scored on the held-out style's {report.get('loso_part', 'test')} part.", "",
             "| run | style | n | unanswerable | abstain F1 | wrong refusals | abstained: absent / unjoined / unstated | Brier |",
             "|---|---|---|---|---|---|---|---|"]
    def row(name: str, style: str, f: dict[str, Any]) -> str:
        k = f["abstained_by_kind"]
        kinds = " / ".join(_pct(k.get(x)) for x in ("absent", "unjoined", "unstated"))
        return (f"| {name} | {style} | {f['n']} | {f['unanswerable']} | {f['abstain_f1']:.3f} | {_pct(f['wrong_refusals'])} | "
                f"{kinds} | {f['brier']:.3f} |")
    lines.append(row("dev (out-of-fold)", "all", report["dev_out_of_fold"]))
    for s, f in report["test"].items():
        lines.append(row("shipped model, test", s, f))
    for s, f in report["loso"].items():
        lines.append(row("LOSO, " + report.get("loso_part", "test"), s, f))
    styles = [s for s in report["test"] if s != "all"]
    if styles:
        worst = min(styles, key=lambda s: report["test"][s]["abstain_f1"])
        lines += ["", f"Worst style (shipped model, test): **{worst}**, abstain F1 {report['test'][worst]['abstain_f1']:.3f}."]
    if report["loso"]:
        worst = min(report["loso"], key=lambda s: report["loso"][s]["abstain_f1"])
        lines.append(f"Worst LOSO run: **{worst}** held out, abstain F1 {report['loso'][worst]['abstain_f1']:.3f}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
