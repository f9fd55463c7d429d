"""llama.cpp's own HTTP server (`llama-server`, built by `make llama-server` from the llama.cpp sources
that the installed llama-cpp-python vendors) serving the bundled SmolLM2 GGUF on 127.0.0.1: found,
started on a free port, waited on through /health, read (its /metrics and its log), killed.

The binary is `$LLAMA_SERVER` if set, else the path `.ci/build-llama-server` caches it at.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.metadata
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.fake_openai import _Server

REPO = Path(__file__).resolve().parent.parent
ENV = "LLAMA_SERVER"
PARALLEL = 4  # slots: requests decoded together
CONTEXT = 16384  # tokens, shared by the slots: 4096 each
# One decoding thread: llama-server's threads meet at a barrier after every step, so two of them on
# two cores shared with the client (and with anyone else) wait on each other's preemption; on a busy
# 2-core machine -t 2 decoded many times slower than -t 1 (bench/llama_server.py --threads compares).
THREADS = 1
#: the model name a config gives it; the server answers with its own (the GGUF's path)
MODEL = "smollm2"


def cached_binary() -> Path:
    """Where .ci/build-llama-server puts the binary for the installed llama-cpp-python."""
    version = importlib.metadata.version("llama_cpp_python")
    return REPO / ".cache" / "llama-server" / version / "llama-server"


def wanted_binary() -> Path:
    """`$LLAMA_SERVER`, else where the build script caches the binary."""
    named = os.environ.get(ENV)
    return Path(named) if named else cached_binary()


def find_binary() -> Path | None:
    path = wanted_binary()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def build_seconds() -> float | None:
    """What the last build took, as the build script wrote it."""
    path = cached_binary().parent / "build-seconds"
    return float(path.read_text()) if path.is_file() else None


def _die_with_parent() -> None:
    """In the server's process before exec: killed when the test process dies, however it dies."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LlamaServer:
    """One llama-server process; `start()` again after `kill()` serves on the same port, with a
    fresh log (so the counts read from it are the new process's)."""

    def __init__(self, binary: Path, log_dir: Path, port: int | None = None, parallel: int = PARALLEL,
                 context: int = CONTEXT, threads: int = THREADS):  # fmt: skip
        from agents.models.local import REPEAT_PENALTY, bundled_model_path

        # sampled as the embedded model is: llama-server's default repeat penalty is 1.0 (off), and
        # a 135M model then loops inside a JSON string until max_tokens cuts it
        self.repeat_penalty = REPEAT_PENALTY
        self.binary, self.log_dir = binary, log_dir
        self.port = port or free_port()
        self.parallel, self.context, self.threads = parallel, context, threads
        self.model_path = bundled_model_path()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log = log_dir / "llama-server-0.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "-m", str(self.model_path),
                "--jinja", "-np", str(self.parallel), "-c", str(self.context), "-t", str(self.threads),
                "--repeat-penalty", str(self.repeat_penalty), "--metrics", "--no-webui"]  # fmt: skip

    def start(self, timeout: float = 120.0) -> LlamaServer:
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.log_dir / f"llama-server-{self.starts}.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(self.command(), stdout=sink, stderr=subprocess.STDOUT,
                                            preexec_fn=_die_with_parent)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"llama-server was not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash would: connections in flight are cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def finished_requests(self) -> int:
        """Completions this process finished, by its own log: it prints its timings once per
        finished task ('total time = ...')."""
        return sum("total time =" in line for line in self.log_text().splitlines())

    def metrics(self) -> dict[str, float]:
        """The Prometheus counters of /metrics, by name (without the `llamacpp:` prefix)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            text = response.read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("llamacpp:"):
                name, _, value = line.partition(" ")
                values[name.removeprefix("llamacpp:")] = float(value)
        return values


class CountingProxy:
    """A tiny HTTP proxy in front of llama-server that records which chat requests it passed on
    (a SHA-256 of each body) and which of them the server answered in full. llama-server counts
    the requests it finished (its log, its /metrics tokens) but cannot say WHICH requests they
    were; this can. `close()` stops listening and cuts open connections, as a killed server's
    port does; `start()` again listens on the same port."""

    def __init__(self, upstream_port: int, port: int | None = None, keep_bodies: bool = False):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.keep_bodies = keep_bodies
        self.bodies: list[bytes] = []  # with keep_bodies: the chat requests themselves, in order
        self.sent: list[str] = []  # fingerprints of the chat requests passed on, in order
        self.answered: list[str] = []  # ... of those the server answered with HTTP 200
        self._lock = threading.Lock()
        self._httpd: _Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> CountingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def _forward(self, body: bytes) -> None:
                chat = self.command == "POST" and self.path.rstrip("/").endswith("/chat/completions")
                fingerprint = hashlib.sha256(body).hexdigest()
                if chat:
                    with proxy._lock:
                        proxy.sent.append(fingerprint)
                        if proxy.keep_bodies:
                            proxy.bodies.append(body)
                try:
                    upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=600)
                    headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                    upstream.request(self.command, self.path, body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    upstream.close()
                except (OSError, http.client.HTTPException):
                    self.close_connection = True  # the server is gone: so is this connection, unanswered
                    return
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    return  # the client is gone: it never got this answer
                if chat and response.status == 200:
                    with proxy._lock:
                        proxy.answered.append(fingerprint)

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        self._httpd.serve_in_background()
        return self

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.stop()
            self._httpd = None
