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
