#!/usr/bin/env python3
"""Validate the held-out question set (dev.jsonl / test.jsonl) against the raw seed pages.

Stdlib only, and deliberately independent of rag.corpus (a second parser of the same pages, so a
parsing bug in the library cannot make a wrong gold title look right).

    python3 eval/questions/_validate.py [--seeds DIR] [--dir DIR] [--dump]
    python3 eval/questions/_validate.py --styles [FILE ...]   # the answerability sets (_validate_styles.py)

Rules checked (errors): fields and types; gold titles exist exactly; key facts (1-6 words) occur in
a gold abstract (or, for metadata questions, the listing metadata) and in the reference answer;
no question copies a run of 6+ consecutive words from a gold abstract (paraphrase rule); at least
150 items and at least 15% unanswerable. tests/test_eval_questions.py runs it on the shipped files.
"""
import argparse
import collections
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The shipped copy of the listing pages (the same files rag indexes by default).
DEFAULT_SEEDS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "data", "seeds")
MIN_ITEMS = 150
MIN_UNANSWERABLE_SHARE = 0.15
TYPES = {"factoid", "which_paper", "multi_paper", "metadata", "unanswerable"}
FIELDS = ["id", "type", "question", "gold_titles", "answer", "key_facts"]


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").rstrip("\r") for l in f]


def parse_oral(path):
    """000: 'Session' / session name / room, then title, authors, abstract triples."""
    L = [l for l in _lines(path) if l.strip()]
    assert L[0].strip() == "Session", path
    session, room = L[1].strip(), L[2].strip()
    body = L[3:]
    assert len(body) % 3 == 0, (path, len(body))
    papers = []
    for i in range(0, len(body), 3):
        title, authors, abstract = (x.strip() for x in body[i:i + 3])
        papers.append(dict(title=title, abstract=abstract,
                           authors=[a.strip() for a in authors.split(" · ")],
                           session=session, room=room, presentation="Oral",
                           poster=None, award=None, page=os.path.basename(path)))
    return papers


PRES_RE = re.compile(r"^(In-Person Poster presentation|Virtual presentation|Oral presentation)\b.*/")


def parse_poster(path):
    """001: header, then blocks: presentation line, #NN, [award], title, authors, abstract."""
    L = _lines(path)
    session = None
    for i, l in enumerate(L):
        if l.strip() == "Session":
            session = next(x.strip() for x in L[i + 1:] if x.strip())
            break
    starts = [i for i, l in enumerate(L) if PRES_RE.match(l.strip())]
    papers = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(L)
        blk = [x.strip() for x in L[s:e] if x.strip()]
        pres = blk[0]
        j = 1
        poster = None
        if j < len(blk) and re.fullmatch(r"#\d+", blk[j]):
            poster = blk[j]
            j += 1
        award = None
        if j < len(blk) and blk[j] in ("Outstanding Paper", "Honorable Mention"):
            award = blk[j]
            j += 1
        rest = blk[j:]
        assert len(rest) == 3, (path, s, rest[:2])
        title, authors, abstract = rest
        papers.append(dict(title=title, abstract=abstract,
                           authors=[a.strip() for a in authors.split(" · ")],
                           session=session, room=None, presentation=pres,
                           poster=poster, award=award, page=os.path.basename(path)))
    return papers


def parse_alternating(path):
    """002: two chrome lines then title/abstract alternating (first title glued to 'Subscribe')."""
    L = [l.strip() for l in _lines(path) if l.strip()]
    while L and L[0].startswith("Get trending papers"):
        L.pop(0)
    if L[0].startswith("Subscribe"):
        L[0] = L[0][len("Subscribe"):]
    assert len(L) % 2 == 0, (path, len(L))
    return [dict(title=L[i], abstract=L[i + 1], authors=[], session=None, room=None,
                 presentation=None, poster=None, award=None, page=os.path.basename(path))
            for i in range(0, len(L), 2)]


CHROME = {"new", "Get trending papers in your email inbox!", "Subscribe",
          "byAK and the research community"}
DATE_RE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}$")


def parse_blank_sep(path):
    """003/004: chrome lines, then title / blank / abstract / blank."""
    L = [l.strip() for l in _lines(path) if l.strip()]
    i = 0
    while i < len(L) and (L[i] in CHROME or DATE_RE.match(L[i])):
        i += 1
    L = L[i:]
    assert len(L) % 2 == 0, (path, len(L))
    return [dict(title=L[i], abstract=L[i + 1], authors=[], session=None, room=None,
                 presentation=None, poster=None, award=None, page=os.path.basename(path))
            for i in range(0, len(L), 2)]


def load_corpus(seeds):
    files = sorted(glob.glob(os.path.join(seeds, "*.txt")))
    papers = []
    for f in files:
        b = os.path.basename(f)
        if b.startswith("000_"):
            papers += parse_oral(f)
        elif b.startswith("001_"):
            papers += parse_poster(f)
        elif b.startswith("002_"):
            papers += parse_alternating(f)
        else:
            papers += parse_blank_sep(f)
    return papers


def metadata_strings(p):
    out = list(p["authors"])
    for k in ("session", "room", "presentation", "poster", "award", "page"):
        if p.get(k):
            out.append(p[k])
    if p.get("presentation"):  # e.g. "top 5% paper", "poster accept", "Virtual presentation"
        out += [x.strip() for x in p["presentation"].split("/")]
    return out


def _words(s):
    return re.findall(r"[a-z0-9%$.+-]+", s.lower())


def longest_shared_run(question, text):
    """Longest run of consecutive words of `question` that also occurs in `text`."""
    qw, tw = _words(question), " " + " ".join(_words(text)) + " "
    best = []
    for i in range(len(qw)):
        j = i + len(best) + 1
        while j <= len(qw) and (" " + " ".join(qw[i:j]) + " ") in tw:
            best = qw[i:j]
            j += 1
    return best


def validate(files, seeds=DEFAULT_SEEDS, min_items=MIN_ITEMS, out=None):
    """Check question files {split: path}; returns (errors, warnings). Prints a summary to `out`."""
    say = (lambda *a: print(*a, file=out)) if out else (lambda *a: None)
    papers = load_corpus(seeds)
    by_title = collections.defaultdict(list)
    for p in papers:
        by_title[p["title"]].append(p)
        if " ".join(p["title"].split()) != p["title"]:  # a no-break space in a title ("Differential\u00a0Mechanism") also as a space
            by_title[" ".join(p["title"].split())].append(p)
    per_page = collections.Counter(p["page"][:3] for p in papers)
    say("parsed papers per page:", dict(sorted(per_page.items())), "total", len(papers), "unique titles", len(by_title))

    errors = []
    warnings = []
    seen_ids = set()
    counts = collections.Counter()
    pages_used = collections.Counter()
    gold_use = collections.Counter()
    for split, path in files.items():
        if not os.path.exists(path):
            errors.append(f"missing {path}")
            continue
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{n}"
                try:
                    q = json.loads(line)
                except json.JSONDecodeError as e:
                    errors.append(f"{where}: bad JSON ({e})")
                    continue
                if not isinstance(q, dict):
                    errors.append(f"{where}: expected a JSON object")
                    continue
                for k in FIELDS:
                    if k not in q:
                        errors.append(f"{where}: missing field {k}")
                if set(q) - set(FIELDS):
                    errors.append(f"{where}: extra fields {set(q) - set(FIELDS)}")
                if any(k not in q for k in FIELDS):
                    continue
                where = f"{path}:{n} ({q['id']})"
                if q["id"] in seen_ids:
                    errors.append(f"{where}: duplicate id")
                seen_ids.add(q["id"])
                t = q["type"]
                if t not in TYPES:
                    errors.append(f"{where}: unknown type {t!r}")
                counts[(split, t)] += 1
                if not isinstance(q["question"], str) or not q["question"].strip():
                    errors.append(f"{where}: empty question")
                    continue
                if not isinstance(q["gold_titles"], list) or not isinstance(q["key_facts"], list):
                    errors.append(f"{where}: gold_titles/key_facts must be lists")
                    continue
                if t == "unanswerable":
                    if q["gold_titles"] or q["key_facts"] or q["answer"]:
                        errors.append(f"{where}: unanswerable must have empty gold/answer/key_facts")
                    continue
                if not q["gold_titles"]:
                    errors.append(f"{where}: no gold titles")
                if not q["answer"].strip():
                    errors.append(f"{where}: empty answer")
                if not 1 <= len(q["key_facts"]) <= 3:
                    errors.append(f"{where}: expected 1-3 key facts, got {len(q['key_facts'])}")
                for kf in q["key_facts"]:
                    if not 1 <= len(kf.split()) <= 6:
                        errors.append(f"{where}: key fact {kf!r} should be 1-6 words")
                if len(set(q["gold_titles"])) != len(q["gold_titles"]):
                    errors.append(f"{where}: duplicate gold title")
                golds = []
                for g in q["gold_titles"]:
                    if g not in by_title:
                        errors.append(f"{where}: unknown gold title {g!r}")
                    else:
                        golds += by_title[g]
                        pages_used[by_title[g][0]["page"][:3]] += 1
                        gold_use[g] += 1
                if t == "multi_paper" and not 2 <= len(q["gold_titles"]) <= 5:
                    errors.append(f"{where}: multi_paper needs 2-5 gold titles")
                for p in golds:  # paraphrase rule: no run of 6+ consecutive words copied from a gold abstract
                    run = longest_shared_run(q["question"], p["abstract"])
                    if len(run) > 5:
                        errors.append(f"{where}: question copies {len(run)} consecutive words from the abstract: "
                                      f"{' '.join(run)!r}; paraphrase it")
                    elif len(run) == 5:
                        warnings.append(f"{where}: question shares 5 consecutive words with the abstract: {' '.join(run)!r}")
                if t == "metadata" and not any(p["page"][:3] in ("000", "001") for p in golds):
                    errors.append(f"{where}: metadata question on a page without metadata")
                for kf in q["key_facts"]:
                    kl = kf.lower()
                    ok = False
                    for p in golds:
                        hay = [p["abstract"]] + (metadata_strings(p) if t == "metadata" else [])
                        if t == "metadata":
                            hay.append(p["title"])
                        if any(kl in h.lower() for h in hay):
                            ok = True
                            break
                    if not ok:
                        errors.append(f"{where}: key fact {kf!r} not found in gold paper text")
                # the reference answer must state every key fact (token F1 / ROUGE-L compare against it)
                for kf in q["key_facts"]:
                    if kf.lower() not in q["answer"].lower():
                        errors.append(f"{where}: answer does not contain key fact {kf!r}")

    total = sum(counts.values())
    unanswerable = sum(v for (_, t), v in counts.items() if t == "unanswerable")
    say("\ncounts per type and split:")
    say(f"  {'type':14s} " + " ".join(f"{s:>5s}" for s in files) + f" {'total':>6s}")
    for t in sorted(TYPES):
        say(f"  {t:14s} " + " ".join(f"{counts[(s, t)]:5d}" for s in files) + f" {sum(counts[(s, t)] for s in files):6d}")
    if total:
        say(f"  TOTAL {total}; unanswerable share {unanswerable / total:.1%}")
    say("gold references per page:", dict(sorted(pages_used.items())), "distinct gold papers:", len(gold_use))
    if total < min_items:
        errors.append(f"only {total} items (< {min_items})")
    if total and unanswerable / total < MIN_UNANSWERABLE_SHARE:
        errors.append(f"only {unanswerable / total:.1%} of the items are unanswerable (< {MIN_UNANSWERABLE_SHARE:.0%})")
    return errors, warnings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default=DEFAULT_SEEDS)
    ap.add_argument("--dump", action="store_true", help="print parsed corpus as JSONL and exit")
    ap.add_argument("--dir", default=HERE, help="folder holding dev.jsonl and test.jsonl")
    ap.add_argument("--styles", nargs="*", metavar="FILE",
                    help="check answerability style files (_validate_styles.py) instead; no FILE: every styles/*.jsonl")
    args = ap.parse_args()
    if args.dump:
        for p in load_corpus(args.seeds):
            print(json.dumps(p, ensure_ascii=False))
        return 0
    if args.styles is not None:
        from _validate_styles import validate_styles

        paths = args.styles or sorted(glob.glob(os.path.join(HERE, "styles", "*.jsonl")))
        errors, warnings = validate_styles(paths, load_corpus(args.seeds), longest_shared_run, metadata_strings, out=sys.stdout)
    else:
        files = {split: os.path.join(args.dir, split + ".jsonl") for split in ("dev", "test")}
        errors, warnings = validate(files, args.seeds, out=sys.stdout)
    if warnings:
        print(f"\n{len(warnings)} warning(s):")
        for w in warnings:
            print("  -", w)
    if errors:
        print(f"\nFAILED with {len(errors)} error(s):")
        for e in errors:
            print("  -", e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
