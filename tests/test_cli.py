"""The `rag` entry point and `from rag import ask` in fresh processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

RAG = str(Path(sys.executable).parent / "rag")


def run(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([RAG, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_help_answers_at_once():
    started = time.perf_counter()
    proc = run("--help")
    assert proc.returncode == 0 and "index" in proc.stdout and "ask" in proc.stdout
    assert time.perf_counter() - started < 3, "no heavy import on --help"


def test_ask_json_fields(full_settings):
    proc = run("ask", "What attack success rate do the NTK-designed poisons reach?", "--json", "--index-dir", str(full_settings.index_dir))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= {"text", "citations", "abstained", "generator", "timings"}
    assert data["abstained"] is False and "90%" in data["text"]
    assert set(data["citations"][0]) >= {"number", "paper_id", "title", "passage", "span"}


def test_ask_text_has_reference_list(full_settings):
    proc = run("ask", "Which poster won an Outstanding Paper award?", "--index-dir", str(full_settings.index_dir))
    assert proc.returncode == 0, proc.stderr
    assert "References" in proc.stdout and "[1] " in proc.stdout and "listing metadata" in proc.stdout  # a metadata question (issue 11)


def test_search_json_and_filters(full_settings):
    proc = run("search", "graph neural networks", "-k", "3", "--json", "--presentation", "top 5%", "--index-dir", str(full_settings.index_dir))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert len(results) == 3 and all("top 5%" in r["presentation"] for r in results)
    assert set(results[0]) >= {"paper_id", "title", "score", "passages"}


def test_errors_are_one_line_exit_2(full_settings, tmp_path):
    cases = [
        (("ask", "   ", "--index-dir", str(full_settings.index_dir)), "empty"),
        (("ask", "x", "--corpus", str(tmp_path / "nope.jsonl"), "--index-dir", str(tmp_path)), "not found"),
        (("search", "x", "--top-k", "0"), "top_k"),
    ]
    for args, message in cases:
        proc = run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and message in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_environment_settings_and_unknown_names(full_settings):
    proc = run("settings", env={"RAG_TOP_K": "7", "RAG_INDEX_DIR": "/tmp/x"})
    data = json.loads(proc.stdout)
    assert data["top_k"] == 7 and data["resolved"]["index_dir"] == "/tmp/x"
    proc = run("settings", env={"RAG_TOP_K": "many"})
    assert proc.returncode == 2 and "top_k" in proc.stderr


def test_index_command_reports_up_to_date(full_settings):
    proc = run("index", "--index-dir", str(full_settings.index_dir), "--no-progress")
    assert proc.returncode == 0 and "up to date" in proc.stdout


def test_module_level_ask_uses_environment(full_settings):
    code = "from rag import ask, search; a = ask('What attack success rate do the NTK-designed poisons reach?'); print(a.citations[0].title); print(search('pixel language model', k=2)[0].title)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RAG_INDEX_DIR": str(full_settings.index_dir)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Few-shot Backdoor Attacks via Neural Tangent Kernels", "Language Modelling with Pixels"]


def test_index_warns_once_per_bad_record_and_times_stages_with_v(tmp_path):
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text('{"id": "a1", "title": "Tiny", "abstract": "One sentence here. And another one."}\nnot json\n')
    proc = run("-v", "index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("not valid JSON") == 1  # logged by the library, not printed again by the CLI
    assert "build stages: " in proc.stderr and "embed " in proc.stderr
