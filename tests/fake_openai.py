"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It answers `POST /v1/chat/completions` through a responder (by default: JSON that validates
against the requested json_schema), with injectable latency and faults (500, 429, timeouts,
malformed JSON) drawn from a seeded RNG so runs are reproducible. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]


@dataclass
class Faults:
    error_500: float = 0.0
    error_429: float = 0.0
    timeout: float = 0.0
    bad_json: float = 0.0
    timeout_seconds: float = 5.0
    seed: int = 0


@dataclass
class Capabilities:
    """What the fake endpoint honours, to play servers that lack a feature: tools off refuses
    requests with `tools` (400); forced tool choice off answers as if no tools were sent (as
    llama.cpp's server does for many chat templates); a response format off is refused (400)."""

    tools: bool = True
    forced_tool_choice: bool = True
    json_schema: bool = True
    json_object: bool = True


@dataclass
class _Faker:
    """Schema-valid values with varied, readable strings."""

    counter: count = field(default_factory=lambda: count(1))

    def value(self, schema: dict[str, Any], defs: dict[str, Any]) -> Any:
        if "$ref" in schema:
            return self.value(defs[schema["$ref"].split("/")[-1]], defs)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self.value(options[0], defs)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type", "object")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            props = schema.get("properties", {})
            return {name: self.value(sub, defs) for name, sub in props.items()}
        if kind == "array":
            low, high = schema.get("minItems", 0), schema.get("maxItems", 10**6)
            size = min(max(2, low), high)
            return [self.value(schema.get("items", {}), defs) for _ in range(size)]
        if kind == "string":
            text = f"{next(self.counter)} sample text"
            low, high = schema.get("minLength", 0), schema.get("maxLength", 10**6)
            text = text.ljust(low, "x")
            return text[:high]
        if kind == "integer":
            return max(schema.get("minimum", 1), min(schema.get("maximum", 10**9), 1))
        if kind == "number":
            return float(max(schema.get("minimum", 1.5), min(schema.get("maximum", 10**9), 1.5)))
        if kind == "boolean":
            return True
        return None


_faker = _Faker()


def fake_from_schema(schema: dict[str, Any]) -> Any:
    return _faker.value(schema, schema.get("$defs", {}))


def schema_responder(request: dict[str, Any]) -> str:
    """JSON valid for the requested schema; "{}" for plain JSON mode; text otherwise."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(fake_from_schema(response_format["json_schema"]["schema"]))
    if response_format.get("type") == "json_object":
        return "{}"
    return f"fake answer {next(_faker.counter)}"


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAIServer:
    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
        model: str = "fake-model",
        capabilities: Capabilities | None = None,
        port: int = 0,
    ):
        self.port = port  # 0: any free port; kept once bound, so a server closed and started again is back on it
        self.capabilities = capabilities or Capabilities()
        self.responder = responder or schema_responder
        self.latency = latency
        self.faults = faults or Faults()
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.answered: list[tuple[dict[str, Any], int]] = []  # each answer's request and the tokens its usage says
        self.last_headers: dict[str, str] = {}  # of the last chat request
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._ids = count(1)
        self._httpd: _Server | None = None
        self.base_url = ""

    # --- lifecycle ---

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, _error("not found", "not_found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, _error("not found", "not_found"))
                    return
                try:
                    request = json.loads(body)
                except json.JSONDecodeError:
                    self._send(400, _error("body is not JSON", "invalid_request_error"))
                    return
                server.last_headers = {key.lower(): value for key, value in self.headers.items()}
                status, payload, headers = server._answer(request)
                self._send(status, payload, headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._httpd.serve_in_background()
        return self

    def close(self) -> None:
        """Stop listening and cut the open connections: to clients, the endpoint is gone (refused)."""
        if self._httpd is not None:
            self._httpd.stop()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- answering ---

    def _draw(self) -> str | None:
        f = self.faults
        with self._lock:
            roll = self._rng.random()
        for name, share in (
            ("500", f.error_500),
            ("429", f.error_429),
            ("timeout", f.timeout),
            ("bad_json", f.bad_json),
        ):
            if roll < share:
                return name
            roll -= share
        return None

    def _answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(request)
        if request.get("stream"):
            return 400, _error("streaming is not supported by the fake server", "invalid_request_error"), {}
        refused = self._refused(request)
        if refused:
            return 400, _error(refused, "invalid_request_error"), {}
        if request.get("tools") and request.get("tool_choice") == "required" and not self.capabilities.forced_tool_choice:
            request = {k: v for k, v in request.items() if k not in ("tools", "tool_choice")}
        if self.latency:
            time.sleep(self.latency)
        fault = self._draw()
        if fault == "500":
            return 500, _error("injected server error", "server_error"), {}
        if fault == "429":
            return 429, _error("injected rate limit", "rate_limit_exceeded"), {"Retry-After": "0"}
        if fault == "timeout":
            time.sleep(self.faults.timeout_seconds)
        reply = self.responder(request)
        message: dict[str, Any] = reply if isinstance(reply, dict) else {"role": "assistant", "content": reply}
        message.setdefault("role", "assistant")
        message.setdefault("content", None)
        if fault == "bad_json":
            message["content"] = '{"this is": not valid json'
        prompt_text = "".join(str(m.get("content") or "") for m in request.get("messages", []))
        completion = _tokens(str(message.get("content") or "") + json.dumps(message.get("tool_calls") or ""))
        prompt = _tokens(prompt_text)
        with self._lock:
            self.answered.append((request, prompt + completion))
        return (
            200,
            {
                "id": f"chatcmpl-fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
            {},
        )


    def _refused(self, request: dict[str, Any]) -> str | None:
        kind = (request.get("response_format") or {}).get("type")
        if request.get("tools") and not self.capabilities.tools:
            return "tools are not supported by this model"
        if kind == "json_schema" and not self.capabilities.json_schema:
            return "response_format json_schema is not supported"
        if kind == "json_object" and not self.capabilities.json_object:
            return "response_format json_object is not supported"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets connections when hundreds open at once

    def __init__(self, *args: Any, **kwargs: Any):
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def serve_in_background(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and cut the open connections: to clients, the endpoint is gone (refused)."""
        self.shutdown()
        self.server_close()
        self.cut_connections()

    def cut_connections(self) -> None:
        """Keep-alive connections outlive serve_forever: a server that is gone closes them too."""
        with self._connections_lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code, "param": None}}
