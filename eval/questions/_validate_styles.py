"""Checks for the answerability question sets in eval/questions/styles/<style>.jsonl.

Stdlib only, and like _validate.py independent of rag (it reuses that file's second parser of the
seed pages). Run through `_validate.py --styles FILE ...`; tests/test_eval_questions.py runs it on the
shipped files and on bad items.

Each item is written in one `style` (long, terse, conversational) and split (dev, test). Answerable
items are checked as in _validate.py (gold titles exist exactly, key facts occur in a gold abstract or
its listing line and in the answer, no run of 6+ words copied from a gold abstract). Unanswerable items
carry an `unanswerable_kind`, and the claim behind each kind is checked against every title and
abstract, as far as a program can:

- absent: every `absent_terms` entry occurs in no title or abstract of the collection;
- unjoined: each of the two `concepts` (lists of surface forms) occurs in some abstract, and no single
  paper's title + abstract holds a form of both;
- unstated: no `detail_terms` entry occurs in the near paper's title + abstract (the paper the question
  targets, `near_titles`); other abstracts that hold every detail term are reported as warnings to read.

"Occurs" is a whole-word phrase match on lowercased words with hyphens split and a plural "s" folded
("Vision-Transformers" matches "vision transformer"). It cannot see synonyms: a topic present under
another name passes this check, which is why every absence was also searched by hand by its writer.
"""
from __future__ import annotations

import collections
import json
import os
import re

# Hard word-count bounds per style. "student", "practitioner", "factcheck", "nonnative", "newcomer", "chat",
# "skeptic", "request", "constraint", "spoken", "yesno", "citeseek" and "howto" are fitted styles (dev and test parts, in styles/); "novice",
# "expert", "reviewer", "outsider", "informal", "teacher", "agent" and "followup" are held-out styles of eval/questions/heldout/
# (test only, never fitted on); a "followup" item carries `history`, the earlier question it follows.
STYLES = {"long": (20, 80), "terse": (2, 10), "conversational": (6, 40), "student": (6, 45),
          "practitioner": (8, 55), "factcheck": (6, 45), "nonnative": (5, 40),
          "outsider": (8, 55), "reviewer": (6, 45), "informal": (3, 35),
          "newcomer": (8, 55), "chat": (3, 35), "skeptic": (6, 45),
          "request": (4, 50), "constraint": (8, 50), "spoken": (5, 45), "yesno": (5, 40),
          "citeseek": (8, 60), "howto": (4, 40),
          "novice": (6, 40), "expert": (4, 40), "teacher": (6, 50), "agent": (3, 40), "followup": (2, 20)}
TARGET_WORDS = {"long": (30, 60), "terse": (3, 8), "conversational": (10, 30), "student": (8, 35),
                "practitioner": (12, 40), "factcheck": (8, 30), "nonnative": (8, 30),
                "outsider": (10, 40), "reviewer": (8, 30), "informal": (4, 20),
                "newcomer": (10, 40), "chat": (4, 20), "skeptic": (8, 30),
                "request": (6, 30), "constraint": (12, 35), "spoken": (8, 30), "yesno": (8, 28),
                "citeseek": (12, 40), "howto": (6, 25),
                "novice": (8, 35), "expert": (6, 25), "teacher": (8, 35), "agent": (4, 25), "followup": (3, 16)}  # outside: a warning
KINDS = {"absent", "unjoined", "unstated"}
TYPES = {"factoid", "which_paper", "multi_paper", "metadata", "unanswerable"}
REQUIRED = ["id", "style", "split", "type", "question", "gold_titles", "answer", "key_facts"]
OPTIONAL = ["unanswerable_kind", "near_titles", "missing", "concepts", "absent_terms", "detail_terms", "notes", "history"]
HISTORY_WORDS = (6, 45)  # each earlier question of a follow-up item ("followup": the follow-up itself is short)
MIN_UNANSWERABLE_SHARE = 0.40
MIN_TOTAL, MIN_STYLES = 400, 3


def norm_tokens(text: str) -> list[str]:
    """Lowercased words, hyphens and punctuation as breaks, a plural 's' folded: 'GANs-based' -> ['gan', 'based']."""
    out = []
    for w in re.findall(r"[a-z0-9%]+", text.lower()):
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def occurs(phrase: str, tokens_text: str) -> bool:
    """Whole-word phrase match; `tokens_text` is ' '.join(norm_tokens(text)) padded with spaces."""
    p = " ".join(norm_tokens(phrase))
    return bool(p) and f" {p} " in tokens_text


def _padded(text: str) -> str:
    return " " + " ".join(norm_tokens(text)) + " "


def validate_styles(paths, papers, longest_shared_run, metadata_strings, out=None):
    """Check style files against parsed `papers`; returns (errors, warnings)."""
    say = (lambda *a: print(*a, file=out)) if out else (lambda *a: None)
    by_title = collections.defaultdict(list)
    for p in papers:
        by_title[p["title"]].append(p)
        if " ".join(p["title"].split()) != p["title"]:  # a no-break space in a title ("Differential\u00a0Mechanism") also as a space
            by_title[" ".join(p["title"].split())].append(p)
    texts = {p["title"]: _padded(p["title"] + " " + p["abstract"]) for p in papers}
    errors, warnings = [], []
    seen_ids = set()
    counts = collections.Counter()
    per_file = {}
    use = collections.Counter()
    for path in paths:
        if not os.path.exists(path):
            errors.append(f"missing {path}")
            continue
        styles_here = set()
        fc = collections.Counter()
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{os.path.basename(path)}:{n}"
                try:
                    q = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f"{where}: bad JSON ({e})")
                    continue
                if not isinstance(q, dict):
                    errors.append(f"{where}: expected a JSON object")
                    continue
                missing = [k for k in REQUIRED if k not in q]
                if missing:
                    errors.append(f"{where}: missing field(s) {missing}")
                    continue
                extra = set(q) - set(REQUIRED) - set(OPTIONAL)
                if extra:
                    errors.append(f"{where}: unknown field(s) {sorted(extra)}")
                where = f"{where} ({q['id']})"
                errs = _check_item(q, where, by_title, texts, longest_shared_run, metadata_strings, warnings)
                errors += errs
                if q["id"] in seen_ids:
                    errors.append(f"{where}: duplicate id")
                seen_ids.add(q["id"])
                styles_here.add(q["style"])
                kind = q.get("unanswerable_kind") or q["type"]
                fc[(q["split"], kind)] += 1
                counts[(q["style"], q["split"], kind)] += 1
                for t in q["gold_titles"] + (q.get("near_titles") or []):
                    use[(os.path.basename(path), t)] += 1
        if len(styles_here) > 1:
            errors.append(f"{path}: one style per file, found {sorted(styles_here)}")
        per_file[path] = fc
        total = sum(fc.values())
        unans = sum(v for (_, k), v in fc.items() if k in KINDS)
        if total and unans / total < MIN_UNANSWERABLE_SHARE:
            errors.append(f"{path}: {unans / total:.0%} unanswerable (< {MIN_UNANSWERABLE_SHARE:.0%})")
        # A file with one split only is a held-out set (test only, never fitted on): each kind in that split.
        splits = [sp for sp in ("dev", "test") if any(n for (s_, _), n in fc.items() if s_ == sp)] or ["dev", "test"]
        for kind in sorted(KINDS):
            for split in splits:
                if total and not fc[(split, kind)]:
                    errors.append(f"{path}: no {kind} item in the {split} split")
        say(f"\n{path}: {total} items, {unans} unanswerable ({unans / max(total, 1):.0%})")
        kinds = sorted({k for _, k in fc})
        say(f"  {'kind':14s}   dev  test")
        for k in kinds:
            say(f"  {k:14s} {fc[('dev', k)]:5d} {fc[('test', k)]:5d}")
    for (name, t), c in use.items():
        if c > 3:
            warnings.append(f"{name}: paper used {c} times (more than 3): {t!r}")
    total = sum(counts.values())
    if len(paths) > 1:
        styles = {s for s, _, _ in counts}
        say(f"\nall style files: {total} items in {len(styles)} styles")
        if total < MIN_TOTAL:
            errors.append(f"only {total} items in the style files (< {MIN_TOTAL})")
        if len(styles) < MIN_STYLES:
            errors.append(f"only {len(styles)} styles (< {MIN_STYLES})")
    return errors, warnings


def _check_item(q, where, by_title, texts, longest_shared_run, metadata_strings, warnings):
    errors = []
    style, t, kind = q["style"], q["type"], q.get("unanswerable_kind")
    if style not in STYLES:
        errors.append(f"{where}: unknown style {style!r}; use one of {sorted(STYLES)}")
    if q["split"] not in ("dev", "test"):
        errors.append(f"{where}: split must be dev or test, got {q['split']!r}")
    if t not in TYPES:
        errors.append(f"{where}: unknown type {t!r}")
    question = q["question"]
    if not isinstance(question, str) or not question.strip():
        return errors + [f"{where}: empty question"]
    words = len(question.split())
    lo, hi = STYLES.get(style, (1, 1000))
    if not lo <= words <= hi:
        errors.append(f"{where}: {words} words is outside the {style} style's {lo}-{hi}")
    else:
        tlo, thi = TARGET_WORDS.get(style, (1, 1000))
        if not tlo <= words <= thi:
            warnings.append(f"{where}: {words} words (the {style} style aims at {tlo}-{thi})")
    history = q.get("history")
    if history is not None:
        if not isinstance(history, list) or not history or not all(isinstance(h, str) and h.strip() for h in history):
            errors.append(f"{where}: history must be a non-empty list of earlier questions")
        else:
            for h in history:
                if not HISTORY_WORDS[0] <= len(h.split()) <= HISTORY_WORDS[1]:
                    errors.append(f"{where}: an earlier question of {len(h.split())} words is outside {HISTORY_WORDS[0]}-{HISTORY_WORDS[1]}")
    elif style == "followup":
        errors.append(f"{where}: a followup item needs its history (the earlier question it follows)")
    for field in ("gold_titles", "key_facts"):
        if not isinstance(q[field], list):
            return errors + [f"{where}: {field} must be a list"]
    near = q.get("near_titles") or []
    for title in q["gold_titles"] + near:
        if title not in by_title:
            errors.append(f"{where}: unknown title {title!r}")
    known = [p for title in q["gold_titles"] + near for p in by_title.get(title, [])]
    for p in known:  # paraphrase rule, for the question and the earlier questions it follows
        for text in [question] + [h for h in (history or []) if isinstance(h, str)]:
            run = longest_shared_run(text, p["abstract"])
            if len(run) > 5:
                errors.append(f"{where}: question copies {len(run)} consecutive words from {p['title']!r}: {' '.join(run)!r}")
    if t != "unanswerable":
        if kind:
            errors.append(f"{where}: unanswerable_kind is set on a {t} item")
        if not q["gold_titles"]:
            errors.append(f"{where}: no gold titles")
        if not str(q["answer"]).strip():
            errors.append(f"{where}: empty answer")
        if not 1 <= len(q["key_facts"]) <= 3:
            errors.append(f"{where}: expected 1-3 key facts, got {len(q['key_facts'])}")
        if t == "multi_paper" and not 2 <= len(q["gold_titles"]) <= 5:
            errors.append(f"{where}: multi_paper needs 2-5 gold titles")
        golds = [p for title in q["gold_titles"] for p in by_title.get(title, [])]
        for kf in q["key_facts"]:
            if not 1 <= len(str(kf).split()) <= 6:
                errors.append(f"{where}: key fact {kf!r} should be 1-6 words")
            hay = [h.lower() for p in golds for h in [p["abstract"], p["title"], *metadata_strings(p)]]
            if not any(str(kf).lower() in h for h in hay):
                errors.append(f"{where}: key fact {kf!r} not found in a gold paper's abstract, title or listing line")
            if str(kf).lower() not in str(q["answer"]).lower():
                errors.append(f"{where}: answer does not contain key fact {kf!r}")
        return errors
    # ---- unanswerable
    if q["gold_titles"] or q["key_facts"] or str(q["answer"]).strip():
        errors.append(f"{where}: unanswerable items have empty gold_titles, answer and key_facts (use near_titles)")
    if kind not in KINDS:
        return errors + [f"{where}: unanswerable_kind must be one of {sorted(KINDS)}, got {kind!r}"]
    if not isinstance(q.get("missing"), list) or not q["missing"] or not all(isinstance(m, str) and m.strip() for m in q["missing"]):
        errors.append(f"{where}: 'missing' must list the concept(s) the collection lacks")
    if kind == "absent":
        terms = q.get("absent_terms")
        if not isinstance(terms, list) or not 1 <= len(terms) <= 3:
            return errors + [f"{where}: absent items need 1-3 absent_terms"]
        for term in terms:
            hits = [title for title, text in texts.items() if occurs(term, text)]
            if hits:
                errors.append(f"{where}: absent term {term!r} occurs in {len(hits)} paper(s), e.g. {hits[0]!r}")
    elif kind == "unjoined":
        concepts = q.get("concepts")
        if (not isinstance(concepts, list) or len(concepts) != 2
                or not all(isinstance(c, list) and c and all(isinstance(f, str) and f.strip() for f in c) for c in concepts)):
            return errors + [f"{where}: unjoined items need 'concepts': two lists of surface forms"]
        holders = [{title for title, text in texts.items() if any(occurs(f, text) for f in forms)} for forms in concepts]
        for forms, held in zip(concepts, holders):
            if not held:
                errors.append(f"{where}: concept {forms!r} occurs in no abstract (then it is 'absent', not 'unjoined')")
        both = holders[0] & holders[1]
        if both:
            errors.append(f"{where}: {len(both)} paper(s) hold both concepts, e.g. {sorted(both)[0]!r}")
        for title in near:
            if title in texts and not any(title in h for h in holders):
                warnings.append(f"{where}: near paper {title!r} holds neither concept's surface forms")
    else:  # unstated
        terms = q.get("detail_terms")
        if not isinstance(terms, list) or not 1 <= len(terms) <= 3:
            return errors + [f"{where}: unstated items need 1-3 detail_terms"]
        if not near:
            errors.append(f"{where}: unstated items name the paper they target in near_titles")
        for title in near:
            for term in terms:
                if title in texts and occurs(term, texts[title]):
                    errors.append(f"{where}: detail term {term!r} occurs in the near paper {title!r}")
        others = [title for title, text in texts.items() if title not in near and all(occurs(t_, text) for t_ in terms)]
        if others:
            warnings.append(f"{where}: {len(others)} other paper(s) hold every detail term (read them): {others[:2]!r}")
    return errors
