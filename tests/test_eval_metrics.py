"""Each metric on small hand-made cases with known values; question-file validation."""
from __future__ import annotations

import math

import pytest

from eval import metrics as M
from eval.harness import EvalError, load_questions
from rag.corpus import paper_id_for


def test_retrieval_metrics():
    ranked = ["a", "b", "c", "d"]
    assert M.hit_at_k(ranked, {"c"}, 1) == 0.0 and M.hit_at_k(ranked, {"c"}, 3) == 1.0
    assert M.recall_at_k(ranked, {"a", "d", "z"}, 2) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, {"c", "d"}) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, {"z"}) == 0.0
    assert M.ndcg_at_k(ranked, {"b"}, 10) == pytest.approx(1 / math.log2(3))
    assert M.ndcg_at_k(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)


def test_answer_and_citation_metrics():
    assert M.key_fact_recall("An attack success rate of 90%, with ten times fewer poisons.", ["90%", "ten times", "CIFAR-10"]) == pytest.approx(2 / 3)
    assert M.key_fact_recall("x", []) == 0.0
    assert M.citation_precision(["a", "b", "a"], {"a"}) == 0.5
    assert M.citation_precision([], {"a"}) is None
    assert M.citation_recall(["a"], {"a", "b"}) == 0.5
    assert M.token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert M.rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    assert M.rouge_l("", "a") == 0.0


def test_abstention_metrics():
    got = M.abstention([True, True, False, False], [True, False, False, True])
    assert got == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "false_abstain_rate": 0.5})


def test_question_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["Pointer Networks"]}\n{bad\n')
    with pytest.raises(EvalError, match=f"{path}:2: not valid JSON"):
        load_questions(path)
    path.write_text('{"id": "1", "type": "guess", "question": "q"}\n')
    with pytest.raises(EvalError, match=":1: unknown type"):
        load_questions(path)
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["No Such Paper"]}\n')
    with pytest.raises(EvalError, match="not in the index"):
        load_questions(path, known_ids={paper_id_for("Pointer Networks")})
    path.write_text('{"id": "1", "type": "factoid", "question": "q", "gold_titles": ["pointer networks"]}\n')
    assert load_questions(path, known_ids={paper_id_for("Pointer Networks")})[0].gold_ids == [paper_id_for("Pointer Networks")]
