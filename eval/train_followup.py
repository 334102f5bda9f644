"""Train the follow-up answerability model on the DEV follow-up sets (eval/questions/followups/).

    python -m eval.train_answerability                 # the main model, then this one
    python -m eval.train_answerability --follow-ups    # this one alone, against the shipped main model

A follow-up about the earlier answer's papers ("which benchmarks did they use?", "is there a JAX
implementation?") is judged against those papers alone (rag.listed, Plan.about). Its words name
little of their own, so the main model, fitted on self-contained questions, refused two answerable
follow-ups in three (README "Follow-ups"). This model weighs the same features apart: a standardized
logistic regression over rag.answerability.FOLLOWUP_FEATURES (the main model's FEATURES and
`lack_titled`), with `sem_pair` scored by the main model's pair head (no head of its own: a few
hundred follow-ups cannot fit 384 weights).

Each item's earlier questions are asked first with the real assistant, as `rag eval` and the chat do,
and the follow-up is featurized with that history (Assistant.answerability_inputs(history=...)). Only
follow-ups the assistant resolves to the earlier answer's papers (`Signals.follow_up`) are fitted:
the others are judged by the main model in `ask`. The threshold is chosen as the main model's is, on
out-of-fold probabilities. The report adds leave-one-set-out runs: fitted on the other writers' sets,
scored on the held-out writer's.

First, the file's resolution head is fitted (`fit_resolution`): which short questions with no
reference word are about the earlier answer's papers (rag.conversation.Fit), on the dev follow-ups
(1) against the dev self-contained questions, each asked after the answer to a random question
about another paper (0); its threshold takes no more of those for follow-ups, out of fold, than the
hand-set rule (rag.conversation.stays_on) does. The decision is then fitted on the follow-ups as the
head resolves them.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rag import Assistant, Settings
from rag.answer_model import RESOLUTION_FEATURES, ResolutionHead, load_model, model_to_dict
from rag.answerability import FOLLOWUP_FEATURES, MODEL_FORMAT
from rag.conversation import Fit, stays_on

from . import metrics as M
from . import train_answerability as T
from .harness import EVAL_DIR

FOLLOWUP_DIR = EVAL_DIR / "questions" / "followups"
# Inverse regularization. Ten dev sets (u and x added: a non-native writer and a voice transcript), with
# spoken fillers, elliptic comparisons and unknown acronyms handled, leave-one-set-out pooled: 0.03 F1
# 0.783 / 4.0% (worst set 0.613), 0.1 0.783 / 4.4%, 0.3 0.775 / 4.0% (worst 0.576), 1.0 0.772 / 4.0%: within
# noise of each other. Chosen on the validation sets instead (the twelve earlier held-out follow-up sets
# b-t and four new ones, v, w, y, z; 1,426 follow-ups about the earlier paper, never fitted on): 0.3, F1
# 0.810 / 4.0% (0.03: 0.805 / 4.6%, 0.1: 0.808 / 4.1%, 1.0: 0.807 / 4.0%; the previous release 0.810 /
# 6.3%); after the second step (tho and other fillers, guesses, "any code?") 0.3 again, 0.818 / 3.1%.
# Eight sets, before: 0.3 (0.828 / 3.2%; 0.03: 0.810 / 4.3%).
FOLLOWUP_C = 0.3
# The resolution head (which short follow-ups with no reference word are about the earlier paper): its
# C. Its threshold takes, out of fold, no more dev self-contained questions (each asked after a random
# earlier answer) for follow-ups than the hand-set rule (rag.conversation.stays_on) takes on the same
# rows. Chosen by cross-validation over the four writers' sets: C 0.1 over 1.0, five features over nine
# (the frequency order of plain words added nothing).
RESOLUTION_C = 0.1
C_GRID = (0.03, 0.1, 0.3, 1.0)


def load_follow_ups(paths: list[Path] | None = None) -> list[dict[str, Any]]:
    """The dev follow-up items (with `history`) of eval/questions/followups/*.jsonl, or of `paths`."""
    import json

    paths = paths if paths is not None else sorted(FOLLOWUP_DIR.glob("*.jsonl"))
    items = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                if q.get("split") == "dev" and q.get("history"):
                    items.append({**q, "_file": str(path)})
    return items


def featurize(items: list[dict[str, Any]], assistant: Assistant, say: Callable[[str], None] = print
              ) -> tuple[np.ndarray, np.ndarray]:
    """(features as served, sem_pair from the main model's head; whether each item is a follow-up about given papers)."""
    main = assistant.settings.answerability_model
    head = load_model(main)
    rows, about = [], []
    for i, q in enumerate(items, 1):
        prior: list[Any] = []
        for earlier in q["history"]:  # asked first, as the chat and `rag eval` ask them
            prior.append(assistant.ask(earlier, history=list(prior)))
        sig = assistant.answerability_inputs(q["question"], history=prior)
        served = head.complete(sig.features, sig.pair)
        rows.append([served[n] for n in FOLLOWUP_FEATURES])
        about.append(sig.follow_up)
        if i % 50 == 0:
            say(f"  follow-up features: {i}/{len(items)}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FOLLOWUP_FEATURES)), np.asarray(about, dtype=bool)


def fit(X: np.ndarray, y: np.ndarray, C: float = FOLLOWUP_C, seed: int = 0) -> dict[str, Any]:
    """The main model's fit (eval.train_answerability.fit: standardized logistic regression, the threshold
    on out-of-fold probabilities), without a pair head, at the follow-up model's C."""
    return {**T.fit(X, y, seed=seed, C=C), "C": C}


def probability(m: dict[str, Any], X: np.ndarray) -> np.ndarray:
    return T.probability(m, X)


def figures(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    ab = M.abstention(list(prob < threshold), list(y == 0))
    return {"n": int(len(y)), "unanswerable": int((y == 0).sum()), "abstain_f1": ab["f1"],
            "wrong_refusals": ab["false_abstain_rate"], "abstain_recall": ab["recall"]}


def leave_one_set_out(X: np.ndarray, y: np.ndarray, sets: np.ndarray, C: float) -> dict[str, Any]:
    """Fitted on the other writers' sets, scored on each held-out one (the threshold chosen on the rest);
    "pooled": every held-out decision together."""
    out: dict[str, Any] = {}
    refused, labels = [], []
    for s in sorted(set(sets)):
        train, held = sets != s, sets == s
        if len(set(y[train])) < 2 or not held.any():
            continue
        m = fit(X[train], y[train], C)
        prob = probability(m, X[held])
        out[Path(s).name] = {**figures(prob, y[held], m["threshold"]), "threshold": m["threshold"]}
        refused += list(prob < m["threshold"])
        labels += list(y[held])
    if out:
        out["pooled"] = figures(np.where(refused, 0.0, 1.0), np.asarray(labels), 0.5)
    return out


def resolution_rows(items: list[dict[str, Any]], others: list[dict[str, Any]], assistant: Assistant, seed: int = 0,
                    say: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray]:
    """The resolution head's rows: each dev follow-up after its earlier questions (1: about the earlier
    paper), and each dev self-contained question after the answer to a random question about another
    paper (0), where a Fit is measured (a short question with no reference word; Assistant.resolution_inputs)."""
    rng = np.random.default_rng(seed)
    firsts = [q for q in others if q["type"] != "unanswerable" and q.get("gold_titles")]
    answers: dict[str, Any] = {}
    rows, labels = [], []
    for label, pool in ((1, items), (0, others)):
        for q in pool:
            if label:
                prior: list[Any] = []
                for earlier in q["history"]:
                    prior.append(assistant.ask(earlier, history=list(prior)))
            else:
                first = firsts[int(rng.integers(len(firsts)))]
                while first.get("gold_titles") == q.get("gold_titles"):
                    first = firsts[int(rng.integers(len(firsts)))]
                if first["question"] not in answers:
                    answers[first["question"]] = assistant.ask(first["question"])
                prior = [answers[first["question"]]]
            f = assistant.resolution_inputs(q["question"], history=prior)
            if f is not None:
                rows.append([f[n] for n in RESOLUTION_FEATURES])
                labels.append(label)
        say(f"  resolution rows: {len(labels)} ({sum(labels)} follow-ups)")
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(RESOLUTION_FEATURES)), np.asarray(labels, dtype=int)


def rule_stays(X: np.ndarray) -> np.ndarray:
    """The hand-set rule (rag.conversation.stays_on) on resolution rows."""
    return np.array([stays_on(Fit(int(w), bool(f), int(n), b, t)) for w, f, n, b, t in X], dtype=bool).reshape(len(X))


def fit_resolution(X: np.ndarray, y: np.ndarray, C: float = RESOLUTION_C, seed: int = 0) -> dict[str, Any]:
    """Standardized logistic regression; the threshold takes no more self-contained questions for
    follow-ups, out of fold, than the hand-set rule takes on the same rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    rule = rule_stays(X)
    cap = float(rule[y == 0].mean()) if (y == 0).any() else 0.0
    Z, mean, scale = T._standardized(X)
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(Z, y):
        oof[te] = LogisticRegression(C=C, max_iter=3000).fit(Z[tr], y[tr]).decision_function(Z[te])
    negatives = np.sort(oof[y == 0])[::-1]
    k = int(round(cap * len(negatives)))
    threshold = float((negatives[k] + negatives[k - 1]) / 2) if 0 < k < len(negatives) else float(negatives[0] + 1e-9)
    lr = LogisticRegression(C=C, max_iter=3000).fit(Z, y)
    stays = oof >= threshold
    return {"mean": mean, "scale": scale, "coef": lr.coef_[0], "intercept": float(lr.intercept_[0]), "threshold": threshold,
            "out_of_fold": {"follow_ups": int((y == 1).sum()), "kept": int(stays[y == 1].sum()),
                            "self_contained": int((y == 0).sum()), "taken_for_follow_ups": int(stays[y == 0].sum()),
                            "rule_kept": int(rule[y == 1].sum()), "rule_taken": int(rule[y == 0].sum())}}


def train(settings: Settings, out: Path, say: Callable[[str], None] = print,
          paths: list[Path] | None = None, features_out: Path | None = None) -> dict[str, Any]:
    """Fit the resolution head, then featurize the dev follow-ups as it resolves them and fit the
    decision; write the model file to `out` (and the fitted rows to `features_out`, for analysis);
    returns the report's part."""
    items = load_follow_ups(paths)
    if not items:
        raise SystemExit(f"no dev follow-up items in {FOLLOWUP_DIR}: nothing to fit the follow-up model on")
    others = [q for q in T.load_items() if q["split"] == "dev"]
    assistant = Assistant(settings)  # follow-ups resolved by the hand-set rule here: the Fit does not depend on it
    try:
        R, r = resolution_rows(items, others, assistant, say=say)
    finally:
        assistant.close()
    resolution = fit_resolution(R, r)
    # An interim file: the main model's weights as the follow-up decision (a follow-up being fitted never
    # judges its own earlier turns), with the new resolution head, so follow-ups are resolved as they will be.
    main = load_model(settings.answerability_model)
    interim = out.with_suffix(".interim.json")
    T.write_json(interim, {**model_to_dict(replace(main, pair_head=None)), "resolution": _resolution_dict(resolution)})
    assistant = Assistant(settings.with_options(followup_model=interim))
    try:
        X, about = featurize(items, assistant, say)
    finally:
        assistant.close()
        interim.unlink(missing_ok=True)
    items = [q for q, a in zip(items, about) if a]
    X = X[about]
    y = np.array([q["type"] != "unanswerable" for q in items], dtype=int)
    sets = np.array([q["_file"] for q in items])
    say(f"{len(items)} of {len(about)} dev follow-ups are about the earlier answer's papers: fitted")
    if features_out is not None:
        np.savez(features_out, X=X, y=y, sets=sets, ids=np.array([q["id"] for q in items]),
                 kind=np.array([q.get("unanswerable_kind") or "" for q in items]), names=np.array(FOLLOWUP_FEATURES))
    by_c = {str(c): leave_one_set_out(X, y, sets, c) for c in C_GRID} if len(set(sets)) > 1 else {}
    m = fit(X, y)
    report = {"resolution": {"C": RESOLUTION_C, "threshold": resolution["threshold"], **resolution["out_of_fold"]},
              "questions": len(items), "resolved": int(about.sum()), "items": int(len(about)), "C": m["C"],
              "threshold": m["threshold"], "out_of_fold": figures(m["oof"], y, m["threshold"]),
              "leave_one_set_out": by_c.get(str(m["C"]), {}),
              "leave_one_set_out_by_C": {c: v.get("pooled") for c, v in by_c.items()}}
    write_model(out, m, items, X, settings, resolution)
    return report


def _resolution_dict(r: dict[str, Any]) -> dict[str, Any]:
    head = ResolutionHead(r["mean"], r["scale"], r["coef"], r["intercept"], r["threshold"])
    return {**head.to_dict(), "C": RESOLUTION_C, "out_of_fold": r["out_of_fold"]}


def write_model(path: Path, m: dict[str, Any], items: list[dict[str, Any]], X: np.ndarray, settings: Settings,
                resolution: dict[str, Any] | None = None) -> None:
    """The model file (rag.answer_model's format), with its training files' hashes, a pinned case and
    the resolution head."""
    from importlib.metadata import version

    main = Path(settings.answerability_model) if settings.answerability_model else None
    files = sorted({q["_file"] for q in items})
    data = {"format": MODEL_FORMAT, "kind": "logistic_regression", "features": list(FOLLOWUP_FEATURES),
            "mean": m["mean"].tolist(), "scale": m["scale"].tolist(), "coef": m["coef"].tolist(),
            "intercept": m["intercept"], "threshold": m["threshold"],
            "training": {"command": "python -m eval.train_answerability", "parts": "dev", "questions": len(items),
                         "judges": "follow-ups about the earlier answer's papers",
                         "files": T.training_files(files),
                         "sem_pair_from": str(main.name) if main else "answerability.json", "C": m["C"],
                         "scikit_learn": version("scikit-learn"),
                         "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
            "pinned": {"question": items[0]["question"], "history": items[0]["history"],
                       "features": dict(zip(FOLLOWUP_FEATURES, X[0].tolist())), "probability": float(probability(m, X[:1])[0])}}
    if resolution is not None:
        data["resolution"] = _resolution_dict(resolution)
    T.write_json(path, data)


def markdown(report: dict[str, Any]) -> str:
    f = report["out_of_fold"]
    lines = ["", "## Follow-ups about the earlier answer's papers (rag/models/answerability-followup.json)", "",
             f"{report['questions']} of {report['items']} dev follow-ups resolved to the earlier answer's papers; "
             f"C {report['C']}, threshold {report['threshold']:.3f}.", "",
             "| run | n | unanswerable | abstain F1 | wrong refusals |", "|---|---|---|---|---|",
             f"| out-of-fold | {f['n']} | {f['unanswerable']} | {f['abstain_f1']:.3f} | {100 * f['wrong_refusals']:.1f}% |"]
    for name, r in report["leave_one_set_out"].items():
        lines.append(f"| held-out set {name} | {r['n']} | {r['unanswerable']} | {r['abstain_f1']:.3f} | {100 * r['wrong_refusals']:.1f}% |")
    if report["leave_one_set_out_by_C"]:
        lines += ["", "Leave-one-set-out, pooled, by C: " + ", ".join(
            f"{c}: F1 {v['abstain_f1']:.3f} / {100 * v['wrong_refusals']:.1f}%" for c, v in report["leave_one_set_out_by_C"].items() if v)]
    return "\n".join(lines) + "\n"


__all__ = ["FOLLOWUP_C", "FOLLOWUP_DIR", "featurize", "fit", "load_follow_ups", "markdown", "train", "write_model"]
