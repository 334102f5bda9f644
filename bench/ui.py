"""`python bench/ui.py`: how fast the chat UI (app.py) is ready and how fast answers start to appear.

Two figures, for the extractive generator and for the tiny random-weight test model (tests/tiny_llm.py,
offered with --model, RAG_MAX_NEW_TOKENS=64), medians over the runs:

  - launch to a page that answers: from starting `python app.py` (a new process; the index is
    already built, so it is loaded, not built) to the first successful /ask answer through
    gradio_client, polling every 50 ms. Imports, the index load, the embedder load, the LLM load
    and warm-up (tiny model) and Gradio's start are all inside. `--runs` launches per generator.
  - send to first words: in headless Chromium, from the click on Send (performance.now() in the
    page, just before the click) to the first answer words on screen (a MutationObserver on the
    chat sees the streaming message, or the finished one, hold text). Retrieval, Gradio's queue and
    its SSE stream, the browser's rendering are all inside. One page per generator, `--questions`
    answered questions, the first of them counted too.

It also writes a screenshot of the UI (a cited answer with its source open) to docs/ui.png, and the
raw runs to bench/results/ui.json. The index in data/index is built first when missing (about a minute).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))

QUESTIONS = [
    "What attack success rate do the NTK-designed poisons reach?",
    "What does PIXEL reconstruct during pretraining instead of predicting tokens?",
    "Which poster won an Outstanding Paper award?",
    "Who is the author of Limitless Stability for Graph Convolutional Networks?",
    "Which languages does the PIXEL model get evaluated on?",
    "How do neural tangent kernels help construct backdoor poisons?",
    "What does the biconnectivity paper say about the Weisfeiler-Lehman test?",
]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str, float]:
    """Start app.py and wait for its first /ask answer; returns (process, url, seconds from start)."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(PROJECT_DIR / "app.py"), "--port", str(port), *args], cwd=PROJECT_DIR, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited early:\n{log.read_text()[-2000:]}")
        try:
            client = Client(url, verbose=False, download_files=False)
            client.predict(QUESTIONS[0], api_name="/ask")
            return proc, url, time.perf_counter() - started
        except Exception:  # not up yet
            if time.perf_counter() - started > 300:
                proc.kill()
                raise SystemExit(f"app.py did not answer within 300 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def browser(width: int = 1280, height: int = 800):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_for(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def open_page(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, lambda d: "papers indexed" in d.find_element(By.ID, "rag-status").text)


# Types the question, then resolves with ms from the click on Send to the first answer words on screen.
FIRST_WORDS_JS = """
const [question, done] = [arguments[0], arguments[arguments.length - 1]];
const chat = document.querySelector('#rag-chat');
const before = chat.querySelectorAll('.rag-answer').length;
const box = document.querySelector('#rag-input textarea');
box.value = question;
box.dispatchEvent(new Event('input', {bubbles: true}));
setTimeout(() => {
  let t0 = 0;
  const words = () => {
    const all = chat.querySelectorAll('.rag-answer');
    if (all.length <= before) return false;
    const text = all[all.length - 1].querySelector('.rag-text, .rag-abstain');
    return !!text && text.textContent.replace('\u258d', '').trim().length > 0;
  };
  const observer = new MutationObserver(() => {
    if (words()) { observer.disconnect(); done(performance.now() - t0); }
  });
  observer.observe(chat, {subtree: true, childList: true, characterData: true});
  t0 = performance.now();
  document.querySelector('#rag-send').click();
}, 150);
"""


def first_words_ms(driver, questions: list[str]) -> list[float]:
    from selenium.webdriver.common.by import By

    driver.set_script_timeout(120)
    out = []
    for q in questions:
        before = len(driver.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)"))
        out.append(float(driver.execute_async_script(FIRST_WORDS_JS, q)))
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)")) > before)
    return out


def screenshot(url: str, target: Path) -> int:
    """A cited answer with its first source open, as a small PNG at `target`; returns its size in bytes."""
    from PIL import Image
    from selenium.webdriver.common.by import By

    driver = browser(1360, 1040)
    try:
        open_page(driver, url)
        box = driver.find_element(By.CSS_SELECTOR, "#rag-input textarea")
        for q in ["Which poster won an Outstanding Paper award?", "What metric does it introduce?"]:
            n = len(driver.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)"))
            box.send_keys(q)
            driver.find_element(By.ID, "rag-send").click()
            wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)")) > n)
        driver.find_elements(By.CSS_SELECTOR, "#rag-chat a.rag-cite")[-1].click()
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-sources mark.rag-quoted, #rag-sources mark.rag-cited"))
        time.sleep(0.5)  # let the panel finish painting
        # down to the input row and the settings, not the half-visible examples under them
        bottom = driver.execute_script("return Math.max(...['rag-input', 'rag-send', 'rag-settings'].map("
                                       "id => document.getElementById(id).getBoundingClientRect().bottom)) + 24")
        with tempfile.NamedTemporaryFile(suffix=".png") as raw:
            driver.save_screenshot(raw.name)
            image = Image.open(raw.name).convert("RGB")
            image = image.crop((0, 0, image.width, min(image.height, int(bottom))))
            # 256-colour palette: the UI is flat colours and text, so this keeps it sharp at a fraction of the size
            image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)
    finally:
        driver.quit()
    return target.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="launches per generator (default 3)")
    parser.add_argument("--questions", type=int, default=5, help="questions timed in the browser per generator (default 5)")
    parser.add_argument("--screenshot", type=Path, default=PROJECT_DIR / "docs" / "ui.png")
    args = parser.parse_args()

    from rag import Assistant, Settings
    from tests.tiny_llm import build_tiny_llm

    print("index: checking (built when missing) ...", flush=True)
    Assistant(Settings(progress=False)).index()
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
                     "load_average_start": os.getloadavg(),
                     "runs": args.runs, "questions": QUESTIONS[:args.questions], "generators": {}}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_UI_", "GRADIO_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_llm(Path(tmp) / "tiny-llm")
        configs = {"extractive": ([], env), "tiny LLM": (["--model", str(tiny)], {**env, "RAG_MAX_NEW_TOKENS": "64"})}
        for name, (cli, cfg_env) in configs.items():
            launches, first_words = [], []
            for run in range(args.runs):
                proc, url, seconds = launch(cli, cfg_env, Path(tmp) / f"app-{run}.log")
                launches.append(seconds)
                print(f"{name}: launch to first answer {seconds:.2f} s", flush=True)
                try:
                    if run == args.runs - 1:  # the browser figures, on the last server
                        driver = browser()
                        try:
                            open_page(driver, url)
                            first_words = first_words_ms(driver, QUESTIONS[:args.questions])
                        finally:
                            driver.quit()
                        print(f"{name}: send to first words (ms) {[round(x) for x in first_words]}", flush=True)
                        if name == "extractive" and args.screenshot:
                            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                            size = screenshot(url, args.screenshot)
                            print(f"screenshot: {args.screenshot} ({size / 1024:.0f} KB)")
                finally:
                    stop(proc)
            results["generators"][name] = {
                "launch_to_answer_s": launches, "launch_to_answer_s_median": statistics.median(launches),
                "send_to_first_words_ms": first_words, "send_to_first_words_ms_median": statistics.median(first_words),
            }
    results["load_average_end"] = os.getloadavg()  # other work on the machine slows every figure: compare with the cores
    out = BENCH_DIR / "results" / "ui.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print("\n| generator | launch to a page that answers (median) | send to first words in the browser (median) |")
    print("|---|---|---|")
    for name, r in results["generators"].items():
        print(f"| {name} | {r['launch_to_answer_s_median']:.2f} s (runs {', '.join(f'{x:.2f}' for x in r['launch_to_answer_s'])}) "
              f"| {r['send_to_first_words_ms_median']:.0f} ms (runs {', '.join(f'{x:.0f}' for x in r['send_to_first_words_ms'])}) |")
    print(f"\nload average at start {results['load_average_start'][0]:.2f}, at end {results['load_average_end'][0]:.2f} "
          f"({os.cpu_count()} cores); raw runs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
