"""The chat UI (app.py), served for real: a subprocess on a free loopback port, called through
gradio_client and driven in headless Chromium (Selenium). Screenshots go to .artifacts/.

Two servers per run, both on the full-corpus index built once by conftest (`full_settings`, passed as
RAG_INDEX_DIR so the servers only load it): the default one (extractive generator, no login) and
one with a login from the environment and the tiny random-weight LLM offered with --model.

Browser tests need Debian's chromium and chromium-driver (`make browser`, which `make test` and CI
run); without them they fail and say so rather than skip, so a green run always means the UI was
clicked through.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Iterator

import pytest

from rag import Answer, Citation, Hit, Paper

from .conftest import SMALL, write_jsonl
from .tiny_llm import build_tiny_llm

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / ".artifacts"
CHROMIUM = os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RAG_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")

NTK_Q = "What attack success rate do the NTK-designed poisons reach?"
NTK = "Few-shot Backdoor Attacks via Neural Tangent Kernels"
PIXEL_Q = "What does PIXEL reconstruct during pretraining instead of predicting tokens?"
PIXEL = "Language Modelling with Pixels"
NO_ANSWER_Q = "Which recipe makes the fluffiest sourdough bread?"
PARTIAL_Q = "How many GPUs were used to train PIXEL?"  # the paper is here, the detail is not: a partial answer
USER, PASSWORD = "reader", "correct horse battery"
WAIT_S = 60


# ---- servers --------------------------------------------------------------------------------------
def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """app.py in a subprocess; its console output goes to a log file shown when something fails."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(self.port), *args], cwd=ROOT,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180, expect: str = "[rag] ready") -> None:
        """Until the page is served and the start-up thread says the index is ready (or says `expect`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"app.py exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if expect in self.log():
                try:
                    with urllib.request.urlopen(self.url, timeout=5) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            if "[rag] error" in self.log() and "error" not in expect:
                pytest.fail(f"app.py start-up failed:\n{self.log()[-3000:]}")
            time.sleep(0.25)
        pytest.fail(f"app.py not ready after {timeout} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def server_env(full_settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_"))}
    env.update({"RAG_INDEX_DIR": str(full_settings.resolved_index_dir), "RAG_DATA_DIR": str(full_settings.data_dir),
                "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture(scope="module")
def server(full_settings, tmp_path_factory) -> Iterator[Server]:
    s = Server([], server_env(full_settings), tmp_path_factory.mktemp("app") / "app.log")
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory) -> Path:
    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="module")
def llm_server(full_settings, tiny_llm, tmp_path_factory) -> Iterator[Server]:
    """Login from the environment; the tiny LLM is the default generator (64 new tokens fit its 512-token context)."""
    env = server_env(full_settings, RAG_UI_USERNAME=USER, RAG_UI_PASSWORD=PASSWORD, RAG_MAX_NEW_TOKENS="64")
    s = Server(["--model", str(tiny_llm)], env, tmp_path_factory.mktemp("app-llm") / "app.log")
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def client(server: Server, auth: tuple[str, str] | None = None):
    from gradio_client import Client

    return Client(server.url, auth=auth, verbose=False, download_files=False)


# ---- browsers -------------------------------------------------------------------------------------
@pytest.fixture
def browser() -> Iterator:
    """A factory of headless Chromium sessions (each its own profile: its own Gradio session), closed at the end."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail(f"headless Chromium is needed for the UI tests ({CHROMIUM}, {CHROMEDRIVER} missing): run `make browser` "
                    "(apt-get install chromium chromium-driver), or set RAG_TEST_CHROMIUM / RAG_TEST_CHROMEDRIVER")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make(width: int = 1400, height: int = 950):
        options = Options()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(WAIT_S)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


def wait(driver, condition, timeout: float = WAIT_S, what: str = "condition"):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        shot = ARTIFACTS / f"timeout-{int(time.time())}.png"
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(shot))
        pytest.fail(f"timed out waiting for {what} (screenshot {shot})")


def css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_app(driver, server: Server) -> None:
    driver.get(server.url)
    wait(driver, lambda d: css(d, "#rag-input textarea") and "papers indexed" in (css(d, "#rag-status")[0].text if css(d, "#rag-status") else ""),
         what="the page and its ready status")


def answers(driver) -> list:
    """Finished assistant messages (not the one being streamed)."""
    return css(driver, "#rag-chat .rag-answer:not(.rag-streaming)")


def send(driver, question: str) -> None:
    box = css(driver, "#rag-input textarea")[0]
    box.clear()
    if question:
        box.send_keys(question)
    css(driver, "#rag-send")[0].click()


def ask(driver, question: str):
    """Send a question and return the finished answer's element."""
    before = len(answers(driver))
    send(driver, question)
    wait(driver, lambda d: len(answers(d)) > before, what=f"the answer to {question!r}")
    return answers(driver)[-1]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


# ---- app.py as a program --------------------------------------------------------------------------------
def test_help_answers_fast_without_loading_gradio():
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--host" in out.stdout and "--port" in out.stdout and "RAG_UI_USERNAME" in out.stdout
    assert time.perf_counter() - started < 5
    probe = subprocess.run([sys.executable, "-c", "import sys, app; app.parse_args([]); print('gradio' in sys.modules, 'torch' in sys.modules)"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["False", "False"], probe.stderr


def test_login_needs_both_variables():
    env = {**os.environ, "RAG_UI_USERNAME": "someone"}
    env.pop("RAG_UI_PASSWORD", None)
    out = subprocess.run([sys.executable, "app.py", "--port", str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "RAG_UI_PASSWORD" in out.stderr and "Traceback" not in out.stderr


def test_llm_generator_without_a_model_is_refused_with_a_hint():
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_LLM_MODEL", "RAG_GENERATOR")}
    out = subprocess.run([sys.executable, "app.py", "--generator", "llm"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--model" in out.stderr and "Traceback" not in out.stderr


# ---- rendering (pure functions of app.py on real Answer records) ----------------------------------------
def _paper(abstract: str) -> Paper:
    return Paper(paper_id="p1", title="A <b>bold</b> title", abstract=abstract, authors=("Ada <Lovelace>",), pages=("001_x",),
                 presentation="Oral presentation", award="Outstanding Paper")


def test_answer_html_links_markers_escapes_text_and_marks_weak_sentences():
    import app

    abstract = "First sentence here. We show <script>alert(1)</script> works well. Last one."
    a, b = abstract.index("We show"), abstract.index(" Last")
    answer = Answer(question="q", text="We show <script>alert(1)</script> works well. [1]\n\nIt is great. [2]",
                    citations=(Citation(1, "p1", "A <b>bold</b> title", abstract[a:b], (a, b), 0.9),
                               Citation(2, "p1", "A <b>bold</b> title", "Award: Outstanding Paper", None, 0.2)),
                    abstained=False, generator="tiny", timings={"total_ms": 1234.0, "first_token_ms": 56.0}, weak=("It is great.",),
                    query="q | earlier question")
    out = app.render_answer(answer, turn=3)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\n" not in out, "one HTML block: a blank line would hand the rest to Markdown"
    assert 'href="#cite-3-1"' in out and 'href="#cite-3-2"' in out
    assert '<span class="rag-weak"' in out and "It is great." in out.split('<span class="rag-weak"')[1]
    assert "language model tiny" in out and "1.23 s" in out and "56 ms" in out and "follow-up" in out

    paper = _paper(abstract)
    source = app.render_source(answer, 1, paper, {"001_x": "Poster Session 3 (page 2 of 5)"}, turn=3)
    assert "&lt;script&gt;" in source and "<script>" not in source and "<b>bold</b>" not in source
    assert '<mark class="rag-cited">' in source and "Poster Session 3 (page 2 of 5)" in source and "Ada &lt;Lovelace&gt;" in source
    marked = source.split('<mark class="rag-cited">')[1].split("</mark>")[0]
    assert "We show" in marked and "First sentence" not in marked
    listing = app.render_source(answer, 2, paper, {}, turn=3)
    assert '<mark class="rag-cited">Award: Outstanding Paper</mark>' in listing


def test_no_answer_and_error_have_their_own_look():
    import app
    from rag import ABSTAIN_TEXT

    abstained = Answer(question="q", text=ABSTAIN_TEXT, citations=(), abstained=True, generator="extractive", timings={"total_ms": 9.0})
    out = app.render_answer(abstained, 0)
    assert "rag-abstain" in out and "Not answered by the collection" in out and app.EXTRACTIVE_LABEL in out
    assert "rag-error" in app.render_error("the question is empty <x>") and "&lt;x&gt;" in app.render_error("<x>")


def test_a_partial_answer_has_its_own_look_with_linked_sources_and_what_is_missing():
    import app

    cite = Citation(number=1, paper_id="p1", title="Language Modelling with Pixels", passage="We render text.", span=(0, 15))
    partial = Answer(question="q", text="No abstract here covers PIXEL together with GPUs. Closest: [1] Language Modelling with Pixels.",
                     citations=(cite,), abstained=True, generator="extractive", timings={"total_ms": 9.0}, missing=("GPUs <x>",),
                     confidence=0.1)
    out = app.render_answer(partial, 2)
    assert "rag-partial" in out and "rag-abstain" not in out and "Partly covered by the collection" in out
    assert "Missing here: GPUs &lt;x&gt;" in out and 'class="rag-cite"' in out
    css = (Path(app.__file__).parent / "assets" / "app.css").read_text()
    assert ".rag-partial {" in css and ".rag-partial-missing" in css


# ---- the shared Assistant under concurrent sessions -------------------------------------------------------
def test_assistant_answers_threads_at_once_like_one_at_a_time(assistant):
    questions = [NTK_Q, PIXEL_Q, NO_ANSWER_Q, "Which poster won an Outstanding Paper award?"] * 3
    serial = {q: assistant.ask(q).text for q in set(questions)}
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def run(i: int, q: str) -> None:
        try:
            results[i] = assistant.ask(q, top_k=5).text
        except BaseException as exc:  # collected: an exception in a thread would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, q)) for i, q in enumerate(questions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert [results[i] for i in range(len(questions))] == [serial[q] for q in questions]


def test_llm_generator_answers_threads_at_once(full_settings, tiny_llm):
    from rag import Assistant

    a = Assistant(full_settings.with_options(generator="llm", llm_model=str(tiny_llm), max_new_tokens=24))
    try:
        serial = a.ask(NTK_Q).text
        texts: list[str] = []
        threads = [threading.Thread(target=lambda: texts.append(a.ask(NTK_Q).text)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert texts == [serial] * 4, "greedy decoding under the generator's lock gives every session the same answer"
    finally:
        a.close()


# ---- the API through gradio_client ---------------------------------------------------------------------
def test_api_answers_with_its_citations(server, assistant):
    c = client(server)
    assert {"/ask", "/search"} <= set(c.view_api(print_info=False, return_format="dict")["named_endpoints"])
    result = c.predict(NTK_Q, api_name="/ask")
    assert not result["abstained"] and "90%" in result["text"] and result["generator"] == "extractive"
    assert set(result["timings"]) >= {"retrieve_ms", "generate_ms", "first_token_ms", "total_ms"}
    first = result["citations"][0]
    assert set(first) >= {"number", "paper_id", "title", "passage", "span", "support"}
    paper = assistant.paper(first["paper_id"])
    assert first["title"] == NTK and paper.abstract[first["span"][0]:first["span"][1]] == first["passage"]
    assert result["text"] == assistant.ask(NTK_Q).text, "the server answers like the library"


def test_api_follow_up_uses_the_history(server):
    c = client(server)
    first = c.predict(PIXEL_Q, api_name="/ask")
    follow = c.predict("What about its robustness to orthographic attacks?", history=[first], api_name="/ask")
    assert follow["retrieved"][0]["title"] == PIXEL and "orthographic attacks" in follow["text"]
    assert follow["query"] != follow["question"]
    alone = c.predict("What about its robustness to orthographic attacks?", api_name="/ask")
    assert alone["retrieved"][0]["title"] != PIXEL


def test_api_says_when_the_collection_does_not_answer(server, assistant):
    assert assistant.ask(NO_ANSWER_Q).abstained  # the library abstains on it too
    result = client(server).predict(NO_ANSWER_Q, api_name="/ask")
    assert result["abstained"] and result["citations"] == [] and result["missing"] == []
    partial = client(server).predict(PARTIAL_Q, api_name="/ask")
    assert partial["abstained"] and partial["missing"] == ["GPUs"] and partial["citations"] and 0 <= partial["confidence"] < 0.5


def test_api_answers_a_comparison_side_by_side_like_the_library(server, assistant):
    question = "What is the difference between TimesNet and Mamba-ND?"
    result = client(server).predict(question, api_name="/ask")
    assert not result["abstained"] and [c["number"] for c in result["citations"]] == [1, 2]
    assert [c["title"].split(":")[0] for c in result["citations"]] == ["TimesNet", "Mamba-ND"]
    assert result["query"] == "TimesNet | Mamba-ND" and result["text"] == assistant.ask(question).text


def test_api_errors_are_messages_and_the_server_keeps_serving(server):
    from gradio_client.exceptions import AppError

    c = client(server)
    with pytest.raises(AppError, match="question is empty"):
        c.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="not offered by this server"):
        c.predict(NTK_Q, generator="/some/folder", api_name="/ask")
    with pytest.raises(AppError, match="top_k"):
        c.predict(NTK_Q, top_k=1000, api_name="/ask")
    assert not c.predict(NTK_Q, api_name="/ask")["abstained"]


def test_api_settings_and_filters(server):
    c = client(server)
    only_orals = c.predict(NTK_Q, presentation="Oral", top_k=3, retriever="bm25", api_name="/ask")
    assert NTK not in [r["title"] for r in only_orals["retrieved"]] and len(only_orals["retrieved"]) <= 3
    hits = c.predict("graph neural network expressivity", k=3, award="outstanding", api_name="/search")
    assert [h["title"] for h in hits] == ["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"]


def test_api_serves_concurrent_clients_their_own_answers(server):
    questions = [NTK_Q, PIXEL_Q, NO_ANSWER_Q, "Which poster won an Outstanding Paper award?"]
    c = client(server)
    jobs = [c.submit(q, api_name="/ask") for q in questions * 2]  # all queued at once
    results = [job.result(timeout=WAIT_S) for job in jobs]
    assert [r["question"] for r in results] == questions * 2
    assert results[0]["citations"][0]["title"] == NTK and results[1]["citations"][0]["title"] == PIXEL
    assert results[2]["abstained"] and results[:4] == [{**r, "timings": results[i]["timings"]} for i, r in enumerate(results[4:])]


def test_server_binds_loopback_only(server):
    with closing(socket.create_connection(("127.0.0.1", server.port), timeout=5)):
        pass
    with pytest.raises(OSError):  # another local address of this machine is not served
        socket.create_connection(("127.0.1.1", server.port), timeout=2).close()


# ---- the page in a real browser -----------------------------------------------------------------------
def test_browser_answer_with_citations_opens_the_highlighted_source(server, browser):
    driver = browser()
    open_app(driver, server)
    answer = ask(driver, NTK_Q)
    assert "90%" in answer.text and "extractive — quoted sentences, no language model" in answer.text
    links = answer.find_elements("css selector", "a.rag-cite")
    assert links and all(link.text.isdigit() for link in links)
    links[0].click()
    wait(driver, lambda d: css(d, "#rag-sources .rag-source-title"), what="the source panel")
    panel = css(driver, "#rag-sources")[0]
    assert NTK in panel.text and "Jonathan Hayase" in panel.text and "Poster Session 3" in panel.text
    marks = panel.find_elements("css selector", "mark.rag-cited")
    assert marks and "90%" in marks[0].text
    screenshot(driver, "ui-answer-and-source.png")
    # a follow-up in the same chat finds the same paper
    follow = ask(driver, "Which poster session was it in?")
    assert "Poster Session 3" in follow.text and "follow-up" in follow.text


def test_browser_shows_the_no_answer_state(server, browser):
    driver = browser()
    open_app(driver, server)
    answer = ask(driver, NO_ANSWER_Q)
    assert "rag-answer-abstained" in answer.get_attribute("class")
    assert "Not answered by the collection" in answer.text and not answer.find_elements("css selector", "a.rag-cite")
    assert answer.find_elements("css selector", ".rag-abstain")[0].value_of_css_property("border-left-width") == "4px"
    screenshot(driver, "ui-no-answer.png")
    partial = ask(driver, PARTIAL_Q)
    assert "rag-answer-partial" in partial.get_attribute("class") and "Missing here: GPUs" in partial.text
    assert partial.find_elements("css selector", "a.rag-cite") and not partial.find_elements("css selector", ".rag-abstain")
    assert partial.find_elements("css selector", ".rag-partial")[0].value_of_css_property("border-left-width") == "4px"
    screenshot(driver, "ui-partial.png")


def test_browser_error_shows_in_the_chat_and_the_app_keeps_answering(server, browser):
    driver = browser()
    open_app(driver, server)
    error = ask(driver, "")
    assert "rag-error" in error.get_attribute("class") and "question is empty" in error.text
    answer = ask(driver, PIXEL_Q)
    assert answer.find_elements("css selector", "a.rag-cite")
    css(driver, "#rag-clear")[0].click()
    wait(driver, lambda d: not answers(d), what="the chat to clear")


def test_browser_two_sessions_at_once_get_their_own_answers(server, browser):
    one, two = browser(), browser()
    open_app(one, server)
    open_app(two, server)
    send(one, NTK_Q)
    send(two, PIXEL_Q)  # both in flight together
    for driver in (one, two):
        wait(driver, lambda d: answers(d), what="both answers")
    text_one, text_two = css(one, "#rag-chat")[0].text, css(two, "#rag-chat")[0].text
    assert "90%" in text_one and PIXEL_Q not in text_one and "PIXEL" not in text_one
    assert "PIXEL" in text_two and NTK_Q not in text_two and "90%" not in text_two
    # each session's [1] opens its own source
    for driver, title in ((one, NTK), (two, PIXEL)):
        answers(driver)[-1].find_elements("css selector", "a.rag-cite")[0].click()
        wait(driver, lambda d: title in css(d, "#rag-sources")[0].text, what=f"{title} in the source panel")
    screenshot(one, "ui-session-1.png")
    screenshot(two, "ui-session-2.png")


def test_browser_login_and_a_streamed_llm_answer(llm_server, browser):
    driver = browser()
    driver.get(llm_server.url)
    wait(driver, lambda d: css(d, "input[type=password]"), what="the login form")
    assert not css(driver, "#rag-input textarea")
    css(driver, "input[type=text]")[0].send_keys(USER)
    css(driver, "input[type=password]")[0].send_keys(PASSWORD)
    next(b for b in css(driver, "button") if b.text.strip().lower() in ("login", "log in", "sign in")).click()
    open_app(driver, llm_server)
    # record every text the streaming message shows, to see it grow
    driver.execute_script("""
        window.ragSeen = [];
        new MutationObserver(() => {
          const el = document.querySelector('#rag-chat .rag-streaming .rag-text');
          if (el) window.ragSeen.push(el.textContent);
        }).observe(document.querySelector('#rag-chat'), {subtree: true, childList: true, characterData: true});
    """)
    answer = ask(driver, NTK_Q)
    seen = [t.replace("▍", "").strip() for t in driver.execute_script("return window.ragSeen")]
    partial = [t for t in dict.fromkeys(seen) if t]
    assert len(partial) >= 2, f"the answer should appear in pieces, saw {partial[:3]}"
    assert f"language model {llm_server.proc.args[-1]}" in answer.text
    screenshot(driver, "ui-llm-answer.png")


def test_llm_server_needs_the_login_and_offers_both_generators(llm_server, tiny_llm):
    from gradio_client import Client

    with pytest.raises(Exception, match="(?i)login|credentials|auth"):
        Client(llm_server.url, verbose=False)
    c = client(llm_server, auth=(USER, PASSWORD))
    by_model = c.predict(NTK_Q, api_name="/ask")
    assert by_model["generator"] == "llm" and by_model["model"] == str(tiny_llm) and not by_model["abstained"]
    assert json.dumps(by_model)  # plain JSON
    extractive = c.predict(NTK_Q, generator="extractive", api_name="/ask")
    assert extractive["generator"] == "extractive" and extractive["model"] is None and "90%" in extractive["text"]


# ---- start-up ------------------------------------------------------------------------------------------
def test_startup_builds_a_missing_index_with_progress_then_serves(full_settings, tmp_path):
    corpus = write_jsonl(tmp_path / "small.jsonl", SMALL)
    env = server_env(full_settings, RAG_CORPUS=str(corpus), RAG_INDEX_DIR=str(tmp_path / "index"))
    s = Server([], env, tmp_path / "app.log")
    try:
        s.wait_ready()
        log = s.log()
        assert "[rag] building the index: embedding" in log and "ready: 3 papers" in log and "Traceback" not in log
        result = client(s).predict("How much cheaper is contrastive training with a memory queue?", api_name="/ask")
        assert result["citations"][0]["title"] == "Contrastive Pretraining on a Budget"
    finally:
        s.stop()


def test_startup_failure_is_shown_and_the_server_keeps_serving(full_settings, tmp_path, browser):
    from gradio_client.exceptions import AppError

    env = server_env(full_settings, RAG_CORPUS=str(tmp_path / "missing.jsonl"), RAG_INDEX_DIR=str(tmp_path / "index"))
    s = Server([], env, tmp_path / "app.log")
    try:
        s.wait_ready(expect="[rag] error")
        with pytest.raises(AppError, match="corpus path not found"):
            client(s).predict(NTK_Q, api_name="/ask")
        driver = browser()
        driver.get(s.url)
        wait(driver, lambda d: css(d, "#rag-status") and "Start-up failed" in css(d, "#rag-status")[0].text, what="the start-up error")
        error = ask(driver, NTK_Q)
        assert "corpus path not found" in error.text and "rag-error" in error.get_attribute("class")
        assert s.proc.poll() is None
    finally:
        s.stop()
