"""`rag eval` end to end on the real index: configs, report files, resume, LLM runs, judge, baseline."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eval import run_eval
from eval.config import EvalError, parse_config
from eval.judge import parse_judgment
from eval.runner import RunScorer
from rag import Settings
from rag.cli import main

from .conftest import write_jsonl

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "questions" / "dev.jsonl"


@pytest.fixture(scope="module")
def small_questions(tmp_path_factory) -> Path:
    """Five dev questions: one of each type."""
    lines = DEV.read_text().splitlines()
    picked, types = [], set()
    for line in lines:
        t = json.loads(line)["type"]
        if t not in types:
            types.add(t)
            picked.append(line)
    path = tmp_path_factory.mktemp("q") / "small.jsonl"
    path.write_text("\n".join(picked) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory) -> Path:
    from tests.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny") / "model")


def _rows(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / "rows" / name).read_text().splitlines()[1:]]


def test_cli_two_runs_write_report_json_and_png(full_settings, small_questions, tmp_path, capsys):
    config = tmp_path / "two.toml"
    config.write_text('bootstrap = 200\n[[runs]]\nname = "hybrid"\n[[runs]]\nname = "bm25-k3"\nretriever = "bm25"\ntop_k = 3\n')
    out = tmp_path / "out"
    code = main(["eval", "--questions", str(small_questions), "--config", str(config), "--out", str(out),
                 "--index-dir", str(full_settings.index_dir), "--quiet"])
    assert code == 0
    printed = capsys.readouterr()
    assert "| hybrid |" in printed.out and "| bm25-k3 |" in printed.out
    assert "LLM judge: skipped" in printed.err
    results = json.loads((out / "results.json").read_text())
    overall = results["runs"]["hybrid"]["small"]["overall"]
    assert overall["questions"] == 5 and overall["hit@1"] is not None and "abstain_f1" in overall
    assert set(overall["ci"]) >= {"hit@1", "mrr", "abstain_f1"}
    assert results["run_settings"]["bm25-k3"]["settings"]["top_k"] == 3
    assert results["git"]["commit"] and results["packages"]["chromadb"] and results["questions"][0]["sha256"]
    assert set(results["runs"]["hybrid"]["small"]["by_type"]) == {"factoid", "which_paper", "multi_paper", "metadata", "unanswerable"}
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "### Failures" in report and "chart_small.png" in report
    assert (out / "chart_small.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(_rows(out, "small__bm25-k3.jsonl")) == 5


def test_unknown_config_key_fails_before_any_work(tmp_path, small_questions):
    config = tmp_path / "bad.toml"
    config.write_text('[[runs]]\nname = "a"\nretreiver = "bm25"\n')
    started = time.perf_counter()
    code = main(["eval", "--questions", str(small_questions), "--config", str(config), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2 and time.perf_counter() - started < 5
    assert not (tmp_path / "o").exists()
    with pytest.raises(EvalError, match=r"bad.toml: run 1 \(a\): unknown key\(s\) retreiver"):
        parse_config(config, Settings())
    for text, message in [('colour = 1\n[[runs]]\nname = "a"\n', "unknown option"),
                          ('[[runs]]\nname = "a"\ntop_k = 0\n', "top_k"),
                          ('[[runs]]\nname = "a"\nbaseline = "faiss"\n', "unknown baseline"),
                          ('[[runs]]\nname = "a"\n[[runs]]\nname = "a"\n', "duplicate run name"),
                          ("[[runs]\n", "not valid TOML")]:
        config.write_text(text)
        with pytest.raises(EvalError, match=message):
            parse_config(config, Settings())
    with pytest.raises(EvalError, match="unknown key"):
        parse_config({"runs": [{"name": "j", "top-k": 3}]}, Settings())


def test_interrupted_run_resumes(full_settings, small_questions, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    calls = {"n": 0}
    real = RunScorer.__call__

    def interrupted(self, q):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, q)

    monkeypatch.setattr(RunScorer, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_eval(questions=[small_questions], out=out, settings=full_settings, progress=False)
    assert len(_rows(out, "small__configured.jsonl")) == 2
    monkeypatch.setattr(RunScorer, "__call__", real)
    # a line cut short by the interruption is dropped and scored again
    rows_path = out / "rows" / "small__configured.jsonl"
    rows_path.write_text(rows_path.read_text() + '{"id": "cut sh')
    results = run_eval(questions=[small_questions], out=out, settings=full_settings, progress=False)
    assert "resuming, 2 question(s) already scored" in capsys.readouterr().err
    assert [r["id"] for r in _rows(out, "small__configured.jsonl")][:2] == [json.loads(l)["id"] for l in small_questions.read_text().splitlines()[:2]]
    assert len(_rows(out, "small__configured.jsonl")) == 5 and results["runs"]["configured"]["small"]["overall"]["questions"] == 5
    # changed settings: start clean, and say so
    run_eval(questions=[small_questions], out=out, settings=full_settings.with_options(top_k=4), progress=False)
    assert "changed since the last run; starting clean" in capsys.readouterr().err


def test_llm_runs_with_the_tiny_model_and_fall_back_when_it_cannot_load(full_settings, small_questions, tiny_llm, tmp_path):
    config = {"runs": [{"name": "tiny", "generator": "llm", "llm_model": str(tiny_llm), "max_new_tokens": 12},
                       {"name": "missing", "generator": "llm", "llm_model": str(tmp_path / "no-model")}],
              "judge_model": str(tiny_llm), "bootstrap": 50}
    out = tmp_path / "out"
    results = run_eval(questions=[small_questions], config=config, out=out, settings=full_settings, progress=False)
    tiny = _rows(out, "small__tiny.jsonl")
    assert {r["generator"] for r in tiny if not r["abstained"]} <= {"llm"}
    missing = _rows(out, "small__missing.jsonl")
    assert all(r["generator"] == "extractive" for r in missing)
    assert any("could not load the language model" in w for r in missing for w in r["warnings"])
    assert "answered by extractive" in (out / "report.md").read_text()
    # the tiny judge writes gibberish: every judgment is counted as unparseable, none guessed
    overall = results["runs"]["tiny"]["small"]["overall"]
    assert overall["judge_unparseable"] == 1.0 and overall["correctness"] is None
    assert all(r["judge_raw"] is not None and r["judge_ok"] is False for r in tiny)


def test_judge_reply_parsing():
    assert parse_judgment("correctness: 4\ngroundedness: 5") == {"correctness": 4, "groundedness": 5}
    assert parse_judgment("Correctness = **3**, Groundedness: 2.") == {"correctness": 3, "groundedness": 2}
    assert parse_judgment("correctness: 9\ngroundedness: 5") is None
    assert parse_judgment("correctness: 4") is None
    assert parse_judgment("� tens�CNNs samples an") is None and parse_judgment("") is None


def test_llamaindex_baseline_is_scored_on_retrieval(small_settings, tmp_path):
    from tests.conftest import SMALL

    qfile = tmp_path / "q.jsonl"
    qs = [{"id": "b1", "type": "which_paper", "question": "a queue of negatives makes contrastive training cheaper",
           "gold_titles": [SMALL[1]["title"]], "answer": "Contrastive Pretraining on a Budget", "key_facts": []},
          {"id": "b2", "type": "factoid", "question": "message passing for molecular property prediction on QM9",
           "gold_titles": [SMALL[2]["title"]], "answer": "state of the art on QM9", "key_facts": ["QM9"]}]
    qfile.write_text("".join(json.dumps(q) + "\n" for q in qs))
    results = run_eval(questions=[qfile], config={"runs": [{"name": "li", "baseline": "llamaindex"}]}, out=tmp_path / "out",
                       settings=small_settings, progress=False)
    overall = results["runs"]["li"]["q"]["overall"]
    assert overall["hit@1"] == 1.0 and overall["mrr"] == 1.0 and "abstain_f1" not in overall
    assert overall["search_p50_ms"] > 0 and Path(results["baseline"]["store"], "COMPLETE").exists()
    rows = _rows(tmp_path / "out", "q__li.jsonl")
    assert len(rows[0]["ranked"]) == 3  # every paper of the small corpus, each once


def test_a_follow_up_item_is_asked_after_its_history(full_settings, tmp_path):
    """A `history` item: the earlier question is asked first and its answer passed on, as the chat UI does;
    the follow-up alone is about no paper in particular, with its history it is about the earlier answer's paper."""
    award = "Rethinking the Expressive Power of GNNs via Graph Biconnectivity"
    item = {"id": "fu-1", "type": "factoid", "style": "followup", "split": "test",
            "history": ["Which poster won an Outstanding Paper award?"], "question": "Who are its authors?",
            "gold_titles": [award], "key_facts": []}
    alone = {**item, "id": "fu-2", "history": []}
    qfile = write_jsonl(tmp_path / "followup.jsonl", [item, alone])
    results = run_eval(questions=[qfile], out=tmp_path / "out", settings=full_settings, progress=False)
    rows = {r["id"]: r for r in _rows(tmp_path / "out", "followup__configured.jsonl")}
    assert rows["fu-1"]["hit@1"] == 1.0 and rows["fu-1"]["ranked"][0] == rows["fu-1"]["gold"][0]
    assert rows["fu-2"]["hit@1"] == 0.0, "without its history the follow-up finds another paper"
    assert results["runs"]["configured"]["followup"]["overall"]["questions"] == 2


def test_a_malformed_history_is_an_error_naming_the_line(tmp_path):
    from eval.harness import load_questions

    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "type": "unanswerable", "question": "and the GPUs?", "history": "not a list"}])
    with pytest.raises(EvalError, match=r"bad.jsonl:1: 'history' must be a list"):
        load_questions(bad)
