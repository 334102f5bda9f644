"""The server backend and the llama-index integration, against a real `transformers serve` of the tiny model.

One server per module (tests/llm_server.py: a free loopback port, offline, up in ~6-10 s) serves the
tiny random-weight chat model of tests/tiny_llm.py; its text is gibberish, so these tests check the
path (who answered, through which host, token counts the server reports, streaming, citations that
name real sources, labelled fallbacks) rather than the words. A second server is started and
stopped for the mid-session test; a socket that never answers stands in for a server slower than
the timeout; a port with no listener for a server that is down.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from rag import ABSTAIN_TEXT, Answer, Assistant, Settings
from rag.generate import ServerGenerator

from .llm_server import ModelServer, dead_url, silent_listener
from .tiny_llm import build_tiny_llm

NTK_Q = "What attack success rate do the NTK-designed poisons reach?"
NTK = "Few-shot Backdoor Attacks via Neural Tangent Kernels"
RAG = str(Path(sys.executable).parent / "rag")
MAX_NEW = 24
# The served tiny model's context: long enough for llama-index's CitationQueryEngine template (~780 tiny-tokenizer
# tokens), short enough that our full prompt (~1,160 tokens) must be cut to fit it.
SERVED_CONTEXT = 1024


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """The tiny model, with do_sample in its generation config as real chat models ship it (Qwen2.5 does):
    `transformers serve` samples only then, and a request's temperature 0 turns sampling off."""
    path = build_tiny_llm(tmp_path_factory.mktemp("tiny-served") / "tiny", max_positions=SERVED_CONTEXT)
    config = json.loads((path / "generation_config.json").read_text())
    (path / "generation_config.json").write_text(json.dumps({**config, "do_sample": True}))
    return path


@pytest.fixture(scope="module")
def served(tiny_dir) -> Iterator[ModelServer]:
    with ModelServer(tiny_dir) as server:
        yield server


def server_settings(full_settings: Settings, server: ModelServer | None = None, **options) -> Settings:
    base = dict(generator="llm", llm_backend="openai", llm_base_url=server.base_url if server else dead_url(),
                llm_model=server.model if server else "tiny", max_new_tokens=MAX_NEW, llm_timeout=30.0)
    return full_settings.with_options(**{**base, **options})


@pytest.fixture(scope="module")
def server_assistant(full_settings, served) -> Iterator[Assistant]:
    a = Assistant(server_settings(full_settings, served))
    yield a
    a.close()


def _generator(a: Assistant, **options) -> ServerGenerator:
    gen, warnings = a._generator(a.settings.with_options(**options) if options else a.settings)
    assert isinstance(gen, ServerGenerator) and warnings == []
    return gen


def _check_cited(answer: Answer, assistant: Assistant) -> None:
    if answer.abstained:
        assert answer.text == ABSTAIN_TEXT and answer.citations == ()
        return
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.number for c in answer.citations}
    papers = assistant.loaded_index.papers
    for c in answer.citations:
        assert c.paper_id in {h.paper_id for h in answer.hits}
        if c.span:
            assert papers[c.paper_id].abstract[c.span[0]:c.span[1]] == c.passage


# ---- answering through the server ------------------------------------------------------------------
def test_ask_through_the_server_names_the_model_and_host(server_assistant, served):
    answer = server_assistant.ask(NTK_Q)
    assert answer.generator == "llm" and answer.model == f"{served.model} @ {served.host}"
    assert not any("extractive" in w for w in answer.warnings), answer.warnings
    assert answer.to_dict()["model"] == answer.model
    _check_cited(answer, server_assistant)
    stats = _generator(server_assistant).last_stats
    # llm_model is the served folder: its tokenizer is at hand, so our count is the server's own
    assert stats["prompt_tokens"] == stats["server_prompt_tokens"] <= SERVED_CONTEXT - MAX_NEW
    assert 0 < stats["new_tokens"] <= MAX_NEW and stats["first_token_s"] > 0


def test_ask_stream_through_the_server_streams_the_final_text(server_assistant):
    pieces = list(server_assistant.ask_stream(NTK_Q))
    final = pieces[-1]
    assert isinstance(final, Answer) and final.generator == "llm"
    assert len(pieces) > 2 and all(isinstance(p, str) for p in pieces[:-1])
    assert "".join(pieces[:-1]) == final.text
    assert final.timings["first_token_ms"] < final.timings["total_ms"]


def test_per_question_options_apply_to_that_question_only(server_assistant):
    gen = _generator(server_assistant)
    server_assistant.ask(NTK_Q, max_new_tokens=5)
    assert gen.last_stats["new_tokens"] <= 5  # the server's own count of what it generated
    greedy = server_assistant.ask(NTK_Q)
    assert gen.last_stats["new_tokens"] > 5, "the next question has the default length again"
    assert server_assistant.ask(NTK_Q).text == greedy.text, "temperature 0 is greedy: the same answer"
    sampled = [server_assistant.ask(NTK_Q, llm_temperature=1.5).text for _ in range(2)]
    assert any(text != greedy.text for text in sampled), "temperature 1.5 samples"
    assert not greedy.abstained
    strict = server_assistant.ask(NTK_Q, abstain_threshold=1.01)
    assert strict.abstained and strict.generator == "llm" and strict.text == ABSTAIN_TEXT
    assert not server_assistant.ask(NTK_Q).abstained, "the next question has the default threshold again"


def test_estimated_budget_counts_from_above(server_assistant):
    # the served model's own window: an estimate from above keeps the prompt inside it
    answer = server_assistant.ask(NTK_Q, llm_tokenizer="estimate", llm_context=SERVED_CONTEXT)
    assert answer.generator == "llm" and not any("extractive" in w for w in answer.warnings), answer.warnings
    gen = _generator(server_assistant, llm_tokenizer="estimate", llm_context=SERVED_CONTEXT)
    assert not gen.builder.exact
    stats = gen.last_stats
    assert stats["server_prompt_tokens"] <= stats["prompt_tokens"] <= SERVED_CONTEXT - MAX_NEW


# ---- failures: labelled extractive answers -------------------------------------------------------------
def _assert_fallback(answer: Answer, *fragments: str) -> None:
    assert answer.generator == "extractive" and answer.model is None and not answer.abstained
    assert "90%" in answer.text, "the extractive answer still answers"
    reason = answer.warnings[0]
    assert reason.endswith("answered with the extractive generator") and "\n" not in reason
    for fragment in fragments:
        assert fragment in reason, reason


def test_server_stopped_mid_session_gives_a_labelled_extractive_answer(full_settings, tiny_dir, tmp_path):
    server = ModelServer(tiny_dir, tmp_path / "serve.log").start()
    a = Assistant(server_settings(full_settings, server))
    try:
        assert a.ask(NTK_Q).generator == "llm"
        server.stop()
        started = time.perf_counter()
        answer = a.ask(NTK_Q)
        assert time.perf_counter() - started < 10, "no retries against a server that is down"
        _assert_fallback(answer, f"the model server at {server.host} is not reachable", "llm_base_url")
        pieces = list(a.ask_stream(NTK_Q))
        assert "".join(pieces[:-1]) == pieces[-1].text and pieces[-1].generator == "extractive"
    finally:
        server.stop()
        a.close()


def test_a_server_slower_than_the_timeout_gives_a_labelled_extractive_answer(full_settings):
    with silent_listener() as url:
        a = Assistant(server_settings(full_settings, llm_base_url=url, llm_timeout=1.0))
        started = time.perf_counter()
        answer = a.ask(NTK_Q)
        elapsed = time.perf_counter() - started
        a.close()
    _assert_fallback(answer, "did not answer within 1 s (llm_timeout)", url.split("//")[1].split("/")[0])
    assert 1.0 <= elapsed < 10


def test_a_wrong_model_name_gives_the_servers_error_in_the_label(full_settings, served):
    a = Assistant(server_settings(full_settings, served, llm_model="no-such-model"))
    try:
        answer = a.ask(NTK_Q)
    finally:
        a.close()
    _assert_fallback(answer, f"the model server at {served.host} answered with an error (HTTP 4", "'no-such-model'", "llm_model")


def test_a_context_set_longer_than_the_servers_says_how_to_fit_the_prompt(server_assistant, served):
    answer = server_assistant.ask(NTK_Q, llm_tokenizer="estimate", llm_context=4 * SERVED_CONTEXT)
    _assert_fallback(answer, f"the model server at {served.host} answered with an error (HTTP 400", "tokens",
                     "set llm_context (RAG_LLM_CONTEXT)")
    assert "llm_model" not in answer.warnings[0], "the model is there: the prompt is what the server refused"
    assert server_assistant.ask(NTK_Q).generator == "llm", "the next question, with the true window, is answered"


def test_ui_footer_shows_the_fallback_reason(full_settings):
    import app

    a = Assistant(server_settings(full_settings))  # nothing listens at the base URL
    try:
        answer = a.ask(NTK_Q)
    finally:
        a.close()
    html = app.render_answer(answer, 0, "tiny")
    footer = html[html.index('class="rag-footer"'):]
    assert "fallback: the model server at 127.0.0.1:" in footer and "not reachable" in footer
    assert app.EXTRACTIVE_LABEL in footer


# ---- the CLI and the UI through the server --------------------------------------------------------------
def _cli_env(full_settings: Settings, base_url: str, model: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_INDEX_DIR=str(full_settings.resolved_index_dir), RAG_LLM_BACKEND="openai", RAG_LLM_BASE_URL=base_url,
               RAG_LLM_MODEL=model, RAG_MAX_NEW_TOKENS="16", RAG_PROGRESS="false")
    return env


def test_cli_ask_with_the_environment_settings(full_settings, served):
    env = _cli_env(full_settings, served.base_url, served.model)  # no --generator: the server backend implies llm
    proc = subprocess.run([RAG, "ask", NTK_Q], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"(language model {served.model} @ {served.host};" in proc.stdout
    assert "extractive generator" not in proc.stderr and "Traceback" not in proc.stderr  # (gibberish may cite nothing: a warning)


def test_cli_ask_with_the_server_down_says_why_on_stderr(full_settings):
    url = dead_url()
    proc = subprocess.run([RAG, "ask", NTK_Q], capture_output=True, text=True, timeout=180, env=_cli_env(full_settings, url, "m"))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    host = url.split("//")[1].split("/")[0]
    assert f"warning: the model server at {host} is not reachable" in proc.stderr
    assert "90%" in proc.stdout and "fallback" in proc.stdout


def test_ui_answers_through_the_server(full_settings, served, tmp_path):
    from .test_app import Server, client, server_env

    env = server_env(full_settings, RAG_LLM_BACKEND="openai", RAG_LLM_BASE_URL=served.base_url, RAG_MAX_NEW_TOKENS="24")
    ui = Server(["--model", served.model], env, tmp_path / "app.log")
    try:
        ui.wait_ready()
        assert "[rag] warning" not in ui.log(), ui.log()  # the warm-up question went through the server
        c = client(ui)
        answer = c.predict(NTK_Q, api_name="/ask")
        assert answer["generator"] == "llm" and answer["model"] == f"{served.model} @ {served.host}"
        assert not any("extractive" in w for w in answer["warnings"])
        config = json.loads(__import__("urllib.request").request.urlopen(ui.url + "config", timeout=10).read())
        assert f"LLM: {served.model} @ {served.host}" in json.dumps(config), "the generator menu names the server model"
    finally:
        ui.stop()


# ---- llama-index ----------------------------------------------------------------------------------------
def test_a_llama_index_llm_object_writes_the_answers(full_settings, served):
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model=served.model, api_base=served.base_url, api_key="none", is_chat_model=True, max_retries=0,
                     context_window=SERVED_CONTEXT, timeout=30)
    a = Assistant(full_settings.with_options(max_new_tokens=MAX_NEW), llm=llm)
    try:
        answer = a.ask(NTK_Q)
        assert answer.generator == "llm" and answer.model == f"{served.model} @ {served.host}"
        assert not any("extractive" in w for w in answer.warnings), answer.warnings
        gen = _generator(a)
        assert gen.llm is llm and 0 < gen.last_stats["new_tokens"] <= MAX_NEW
        assert a.ask(NTK_Q, generator="extractive").generator == "extractive"
    finally:
        a.close()


def _check_gold_node(nodes, assistant: Assistant, cited: bool = False) -> None:
    gold = next(p for p in assistant.papers().values() if p.title == NTK)
    top = nodes[0]
    meta = top.node.metadata
    assert meta["paper_id"] == gold.paper_id and meta["title"] == NTK and meta["rank"] == 1
    assert meta["authors"] == "; ".join(gold.authors) and gold.authors
    assert meta["page"] == gold.pages[0] and meta["tier"] == gold.presentation and meta["session"] == gold.session
    a, b = meta["span"]
    text = top.node.get_content()
    if cited:  # CitationQueryEngine re-chunks each node as "Source n:\n<part of its text>", metadata kept
        assert text.startswith("Source 1:\n") and text.split("\n", 1)[1].strip() in gold.abstract[a:b]
    else:
        assert gold.abstract[a:b] == text and "90%" in text
        assert "paper_id" not in top.node.get_content(metadata_mode="llm") and NTK in top.node.get_content(metadata_mode="llm")
    assert top.score == max(n.score for n in nodes)


def test_rag_retriever_in_llama_indexs_query_engines(assistant, served):
    from llama_index.core.query_engine import CitationQueryEngine, RetrieverQueryEngine
    from llama_index.core.schema import NodeWithScore
    from llama_index.llms.openai_like import OpenAILike

    from rag.llama_index import RagRetriever, query_engine

    retriever = RagRetriever(assistant, top_k=3)
    nodes = retriever.retrieve(NTK_Q)
    assert len(nodes) == 3 and all(isinstance(n, NodeWithScore) for n in nodes)
    _check_gold_node(nodes, assistant)
    import llama_index.core
    from llama_index.core import Settings as LlamaSettings
    from transformers import AutoTokenizer

    # The served model's true window and its tokenizer, set the way llama-index users set them, so that
    # llama-index packs the nodes into prompts that fit (transformers serve >= 5.25 refuses a longer prompt).
    before = llama_index.core.global_tokenizer
    LlamaSettings.tokenizer = AutoTokenizer.from_pretrained(served.model)
    try:
        llm = OpenAILike(model=served.model, api_base=served.base_url, api_key="none", is_chat_model=True, max_retries=0,
                         context_window=SERVED_CONTEXT, max_tokens=8, timeout=30)
        engines = [(CitationQueryEngine(retriever=retriever, llm=llm), True), (RetrieverQueryEngine.from_args(retriever, llm=llm), False),
                   (query_engine(llm, retriever), True), (query_engine(llm, retriever, citations=False), False)]
        assert isinstance(engines[2][0], CitationQueryEngine) and isinstance(engines[3][0], RetrieverQueryEngine)
        for engine, cited in engines:
            response = engine.query(NTK_Q)
            assert str(response).strip(), "the served model wrote the response"
            _check_gold_node(response.source_nodes, assistant, cited)
    finally:
        llama_index.core.global_tokenizer = before


def test_rag_retriever_with_no_arguments_uses_the_default_assistant(full_settings, monkeypatch):
    import rag.assistant as ra
    from rag.llama_index import RagRetriever

    monkeypatch.setenv("RAG_INDEX_DIR", str(full_settings.resolved_index_dir))
    monkeypatch.setattr(ra, "_default", None)
    try:
        retriever = RagRetriever()
        assert retriever.assistant is ra.default_assistant()
        assert retriever.retrieve(NTK_Q)[0].node.metadata["title"] == NTK
    finally:
        if ra._default is not None:
            ra._default.close()


def test_the_judge_grades_through_the_server(full_settings, served):
    from eval.judge import Judge

    judge = Judge(served.model, server_settings(full_settings, served))
    result = judge.grade(NTK_Q, "90%", "About 90% [1].", ["The poisons reach 90% attack success."])
    assert judge.error is None and isinstance(result["judge_raw"], str) and result["judge_raw"]
    down = Judge("m", server_settings(full_settings))
    assert down.grade(NTK_Q, "90%", "About 90%.", [])["judge_ok"] is False
    assert down.error and "not reachable" in down.error
