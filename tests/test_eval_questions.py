"""The shipped question set passes its validator; a bad item fails it; question files name file and line."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from eval.harness import DEFAULT_FILES, EvalError, load_questions
from rag.corpus import paper_id_for

ROOT = Path(__file__).resolve().parent.parent
PIXEL = "Language Modelling with Pixels"


@pytest.fixture(scope="module")
def validator():
    spec = importlib.util.spec_from_file_location("qvalidate", ROOT / "eval" / "questions" / "_validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_questions_pass_the_validator(validator):
    assert Path(validator.DEFAULT_SEEDS) == ROOT / "data" / "seeds"
    errors, _ = validator.validate(DEFAULT_FILES)
    assert errors == []
    items = [json.loads(line) for f in DEFAULT_FILES.values() for line in f.read_text().splitlines() if line.strip()]
    assert len(items) >= 150
    assert sum(q["type"] == "unanswerable" for q in items) / len(items) >= 0.15
    assert {q["type"] for q in items} == {"factoid", "which_paper", "multi_paper", "metadata", "unanswerable"}


def _item(**kw):
    base = {"id": "x1", "type": "factoid", "question": "Which input does the pixel-based language model read?",
            "gold_titles": [PIXEL], "answer": "It reads text rendered as images.", "key_facts": ["images"]}
    return {**base, **kw}


@pytest.mark.parametrize("item, message", [
    (_item(gold_titles=["No Such Paper"]), "unknown gold title"),
    (_item(key_facts=["quantum annealing"], answer="quantum annealing"), "not found in gold paper text"),
    (_item(key_facts=["images"], answer="It reads text."), "answer does not contain key fact"),
    (_item(question="Does PIXEL render text as images, making it possible to transfer representations across languages?"),
     "copies"),
    (_item(type="unanswerable"), "unanswerable must have empty"),
    (_item(type="multi_paper"), "multi_paper needs 2-5"),
])
def test_a_bad_item_fails_the_validator(validator, tmp_path, item, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(item) + "\n")
    errors, _ = validator.validate({"bad": str(path)}, min_items=1)
    assert any(message in e and f"{path}:1" in e for e in errors), errors


def test_the_validator_counts_items_and_unanswerable_share(validator, tmp_path):
    path = tmp_path / "few.jsonl"
    path.write_text(json.dumps(_item()) + "\n")
    errors, _ = validator.validate({"few": str(path)})
    assert any("only 1 items (< 150)" in e for e in errors)
    assert any("unanswerable (< 15%)" in e for e in errors)


def test_question_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["Pointer Networks"]}\n{bad\n')
    with pytest.raises(EvalError, match=f"{path}:2: not valid JSON"):
        load_questions(path)
    path.write_text('{"id": "1", "type": "guess", "question": "q"}\n')
    with pytest.raises(EvalError, match=":1: unknown type"):
        load_questions(path)
    path.write_text('\n{"id": "1", "type": "factoid", "question": "q"}\n')
    with pytest.raises(EvalError, match=":2: an answerable question needs gold_titles"):
        load_questions(path)
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["No Such Paper"]}\n')
    with pytest.raises(EvalError, match="not in the index"):
        load_questions(path, known_ids={paper_id_for("Pointer Networks")})
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["pointer networks"]}\n')
    assert load_questions(path, known_ids={paper_id_for("Pointer Networks")})[0].gold_ids == [paper_id_for("Pointer Networks")]
    with pytest.raises(EvalError, match="cannot read question file"):
        load_questions(tmp_path / "missing.jsonl")


# ---- the answerability style sets (eval/questions/styles/, checked by _validate_styles.py) ----------------
STYLE_DIR = ROOT / "eval" / "questions" / "styles"
NTK = "Few-shot Backdoor Attacks via Neural Tangent Kernels"


def _styles(validator, paths):
    spec = importlib.util.spec_from_file_location("qstyles", ROOT / "eval" / "questions" / "_validate_styles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.validate_styles([str(p) for p in paths], validator.load_corpus(validator.DEFAULT_SEEDS),
                           validator.longest_shared_run, validator.metadata_strings)


def test_shipped_style_sets_pass_the_validator(validator):
    paths = sorted(STYLE_DIR.glob("*.jsonl"))
    fitted = ("long", "terse", "conversational", "student", "practitioner", "factcheck", "nonnative", "newcomer", "chat", "skeptic",
              "request", "constraint", "spoken", "yesno", "citeseek", "howto")
    assert {p.stem for p in paths} == set(fitted)
    errors, _ = _styles(validator, paths)
    assert errors == []
    items = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    assert len(items) >= 400
    for style in fitted:
        mine = [q for q in items if q["style"] == style]
        kinds = {q.get("unanswerable_kind") for q in mine if q["type"] == "unanswerable"}
        assert kinds == {"absent", "unjoined", "unstated"}, style
        assert sum(q["type"] == "unanswerable" for q in mine) / len(mine) >= 0.40, style
        assert {q["split"] for q in mine} == {"dev", "test"}, style


def _unans(kind, **kw):
    base = {"id": "u1", "style": "terse", "split": "dev", "type": "unanswerable", "unanswerable_kind": kind,
            "question": "pixel language model pretraining compute", "gold_titles": [], "near_titles": [PIXEL],
            "answer": "", "key_facts": [], "missing": ["compute"]}
    return {**base, **kw}


@pytest.mark.parametrize("item, message", [
    # 'backdoor' is a word of the NTK paper's title: the topic is not absent
    (_unans("absent", near_titles=[], absent_terms=["backdoor"]), "absent term 'backdoor' occurs in"),
    (_unans("absent", near_titles=[]), "absent items need 1-3 absent_terms"),
    # the NTK paper holds both 'backdoor' and 'neural tangent kernel': the pair is joined
    (_unans("unjoined", concepts=[["backdoor"], ["neural tangent kernels"]]), "hold both concepts"),
    (_unans("unjoined", concepts=[["backdoor"], ["quantum annealing schedule"]]), "occurs in no abstract"),
    (_unans("unjoined", concepts=[["backdoor"]]), "two lists of surface forms"),
    # PIXEL's abstract states its size ("86M parameter"): a question about parameters is not 'unstated'
    (_unans("unstated", detail_terms=["parameter"]), "occurs in the near paper"),
    (_unans("unstated", near_titles=[], detail_terms=["GPU"]), "name the paper they target"),
    (_unans("unstated", detail_terms=["GPU"], missing=[]), "'missing' must list"),
    (_unans("guess"), "unanswerable_kind must be one of"),
    (_unans("absent", absent_terms=["speculative decoding"], gold_titles=[NTK]), "unanswerable items have empty"),
    (_unans("absent", absent_terms=["speculative decoding"], question="a " * 30), "outside the terse style"),
    ({**_unans("absent", absent_terms=["speculative decoding"]), "type": "factoid"}, "unanswerable_kind is set"),
    ({**_unans("absent", absent_terms=["speculative decoding"]), "shade": 1}, "unknown field"),
    # a follow-up: its earlier question comes with it, and neither copies the abstract
    (_unans("unstated", style="followup", detail_terms=["GPU"], question="and the GPUs?"), "needs its history"),
    (_unans("unstated", style="followup", detail_terms=["GPU"], question="and the GPUs?", history=[]), "non-empty list"),
    (_unans("unstated", style="followup", detail_terms=["GPU"], question="and the GPUs?", history=["PIXEL?"]), "outside 6-45"),
    (_unans("unstated", style="followup", detail_terms=["GPU"], question="and the GPUs?",
            history=["Which is the pretrained language model that renders text as images?"]), "consecutive words"),
])
def test_a_bad_style_item_fails_the_validator(validator, tmp_path, item, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(item) + "\n")
    errors, _ = _styles(validator, [path])
    assert any(message in e for e in errors), errors


def test_good_style_items_pass_and_the_mix_is_enforced(validator, tmp_path):
    good = [
        {"id": "a1", "style": "terse", "split": "dev", "type": "factoid", "question": "NTK backdoor poisons success rate",
         "gold_titles": [NTK], "answer": "An attack success rate of 90%.", "key_facts": ["90%"]},
        _unans("absent", id="a2", near_titles=[], absent_terms=["speculative decoding"], question="speculative decoding draft model"),
        _unans("unjoined", id="a3", split="test", concepts=[["pixel"], ["backdoor attack"]], question="backdoor attacks on pixel LMs"),
        _unans("unstated", id="a4", detail_terms=["GPU", "hours"]),
    ]
    path = tmp_path / "ok.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in good))
    errors, _ = _styles(validator, [path])
    # every item is fine; what fails is the mix: each kind must be in both splits
    assert errors and all("split" in e for e in errors), errors
    assert any("no absent item in the test split" in e for e in errors)


def test_a_held_out_file_needs_each_kind_in_its_one_split_only(validator, tmp_path):
    held = [
        _unans("absent", id="h1", split="test", near_titles=[], absent_terms=["speculative decoding"], question="speculative decoding draft model"),
        _unans("unjoined", id="h2", split="test", concepts=[["pixel"], ["backdoor attack"]], question="backdoor attacks on pixel LMs"),
        _unans("unstated", id="h3", split="test", detail_terms=["GPU", "hours"]),
    ]
    path = tmp_path / "held.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in held))
    errors, _ = _styles(validator, [path])
    assert not any("split" in e for e in errors), errors  # a test-only file is a held-out set: no dev part needed
    path.write_text("".join(json.dumps(q) + "\n" for q in held[:2]))
    errors, _ = _styles(validator, [path])
    assert any("no unstated item in the test split" in e for e in errors), errors


@pytest.mark.parametrize("folder, name", [("heldout", n) for n in ("novice", "expert", "reviewer", "outsider", "informal",
                                                                      "followup-b", "followup-c", "followup-e", "followup-h", "followup-i", "followup-j",
                                                                      "followup-o", "followup-p", "followup-q", "followup-r",
                                                                      "followup-s", "followup-t", "followup-v", "followup-w",
                                                                      "followup-y", "followup-z", "followup-aa", "followup-ab",
                                                                      "followup-ac", "followup-ad", "followup-ae", "followup-af",
                                                                      "followup-ag", "followup-ah", "followup-ai", "followup-aj",
                                                                      "followup-ak", "followup-al", "teacher", "agent")]
                         + [("followups", n) for n in ("followup-a", "followup-d", "followup-f", "followup-g",
                                                       "followup-k", "followup-l", "followup-m", "followup-n",
                                                       "followup-u", "followup-x")])
def test_shipped_held_out_style_passes_the_validator(validator, folder, name):
    path = STYLE_DIR.parent / folder / f"{name}.jsonl"
    errors, _ = _styles(validator, [path])
    assert errors == []
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    style = name.split("-")[0]  # followup-b, -c: follow-up sets, each by another writer
    part = "test" if folder == "heldout" else "dev"  # followups/: the follow-up model's dev sets
    assert {q["split"] for q in items} == {part} and {q["style"] for q in items} == {style}
    assert sum(q["type"] == "unanswerable" for q in items) / len(items) >= 0.40
    if style == "followup":
        assert all(1 <= len(q["history"]) <= 3 for q in items), "every follow-up comes with the questions it follows"
        assert {k: sum(q.get("unanswerable_kind") == k for q in items) for k in ("absent", "unjoined", "unstated")} == \
            {"absent": 14, "unjoined": 14, "unstated": 14}


def test_collection_shift_groups_and_scores_questions_by_what_the_subcollection_holds():
    from eval.collection_shift import partition, score

    items = [{"id": "a", "type": "factoid", "gold_titles": ["In"]}, {"id": "b", "type": "which_paper", "gold_titles": ["Out"]},
             {"id": "c", "type": "multi_paper", "gold_titles": ["In", "Out"]}, {"id": "d", "type": "unanswerable", "gold_titles": []},
             {"id": "e", "type": "metadata", "gold_titles": ["In"]}, {"id": "f", "type": "multi_paper", "gold_titles": ["In"]}]
    groups = partition(items, {"In"})
    assert {g: [q["id"] for q in qs] for g, qs in groups.items()} == {
        "gold inside": ["a", "f"], "paper missing": ["b"], "written unanswerable": ["d"]}  # c: a partial list can be right
    s = score(groups, {"a": False, "f": True, "b": True, "d": False})
    assert s["gold inside"]["refused"] == 0.5 and s["paper missing"]["refused"] == 1.0
    assert s["wrong_refusals"] == 0.5 and s["abstain_f1"] == pytest.approx(0.5)  # precision 1/2 (f, b), recall 1/2 (b, d)
