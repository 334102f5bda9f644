"""A real OpenAI-compatible model server for tests and the benchmark: `transformers serve` on a free loopback port.

    with ModelServer(model_dir) as server:       # the tiny test model (tests/tiny_llm.py); up in ~6-10 s
        server.base_url                          # http://127.0.0.1:PORT/v1
        server.model                             # the model id: the folder path

It runs offline (HF_HUB_OFFLINE=1), pinned to the one model, and is stopped (terminate, then kill)
on exit. `silent_listener()` is the other real server the tests need: a socket that accepts
connections and never answers, i.e. a server slower than any timeout.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

TRANSFORMERS_CLI = Path(sys.executable).parent / "transformers"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModelServer:
    """`transformers serve MODEL_DIR` in a subprocess; its output goes to a log file shown when it fails."""

    def __init__(self, model_dir: Path, log_path: Path | None = None, startup_s: float = 180):
        self.model = str(model_dir)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host}/v1"
        self.log_path = log_path or Path(model_dir).parent / f"serve-{self.port}.log"
        self.startup_s = startup_s
        self.proc: subprocess.Popen | None = None
        self.started_s: float | None = None

    def start(self) -> "ModelServer":
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self._log = self.log_path.open("w")
        started = time.perf_counter()
        self.proc = subprocess.Popen([str(TRANSFORMERS_CLI), "serve", self.model, "--host", "127.0.0.1", "--port", str(self.port),
                                      "--device", "cpu", "--log-level", "warning"],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/health", timeout=2) as r:
                    if r.status == 200:
                        self.started_s = time.perf_counter() - started
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"transformers serve not up after {self.startup_s} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def silent_listener() -> Iterator[str]:
    """A loopback socket that takes connections (the kernel's backlog) and never reads or answers; yields its base URL."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def dead_url() -> str:
    """A loopback base URL where nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}/v1"
