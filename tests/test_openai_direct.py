"""DirectOpenAI posts a chat request as AutoGen built it, skipping the SDK's walk of the request
against its TypedDicts. That is only sound while the walk changes nothing in what the flows send."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from openai._utils import async_maybe_transform
from openai.resources.chat import AsyncCompletions
from openai.resources.chat.completions import completions as completions_module
from openai.types.chat import completion_create_params
from typer.testing import CliRunner

from agents.models.openai_compatible import DirectOpenAI, NotAChatCompletion
from teams.cli.app import app
from tests.fake_openai import FakeOpenAIServer
from tests.test_tool_use import CODE
from tests.tool_fakes import tool_use_responder


@pytest.fixture(scope="module")
def tool_use_requests(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every request of a tool-use run: structured output, tools, forced tool choice, tool results,
    assistant tool calls, and the group chats' named turns."""
    out = tmp_path_factory.mktemp("direct")
    with pytest.MonkeyPatch.context() as patch, FakeOpenAIServer(tool_use_responder) as server:
        patch.setenv("OPENAI_API_KEY", "sk-test")
        result = CliRunner().invoke(app, [
            "run", "tool_use", "--seeds", str(CODE), "--model", "fake-model", "--base-url", server.base_url,
            "--out", str(out / "runs"), "--run-id", "t1", "--index", str(out / "index"), "--specialists", "3",
        ])  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return list(server.requests)


def test_the_requests_cover_every_kind_the_flows_send(tool_use_requests: list[dict[str, Any]]) -> None:
    keys = {key for body in tool_use_requests for key in body}
    assert {"response_format", "tools", "tool_choice"} <= keys
    assert {m["role"] for body in tool_use_requests for m in body["messages"]} == {"system", "user", "assistant", "tool"}
    assert {"tool_calls", "tool_call_id", "name"} <= {k for body in tool_use_requests for m in body["messages"] for k in m}


def test_the_sdk_walk_leaves_every_request_the_flows_send_unchanged(tool_use_requests: list[dict[str, Any]]) -> None:
    params = completion_create_params.CompletionCreateParamsNonStreaming

    async def walked() -> list[Any]:
        return [await async_maybe_transform(body, params) for body in tool_use_requests]

    assert asyncio.run(walked()) == tool_use_requests


async def _both(server: FakeOpenAIServer, **call: Any) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The same call through the SDK's client and DirectOpenAI: (body, headers) as the server saw them."""
    seen = []
    for client_class in (openai.AsyncOpenAI, DirectOpenAI):
        client = client_class(base_url=server.base_url, api_key="sk-direct", max_retries=0)
        answer = await client.chat.completions.create(**call)
        assert answer.choices[0].message.content
        seen.append((server.requests[-1], server.last_headers))
        await client.close()
    return seen


def test_direct_create_sends_what_the_sdk_create_sends() -> None:
    call = {
        "model": "fake-model", "messages": [{"role": "user", "content": "hello there", "name": "asker"}],
        "temperature": 0.5, "max_tokens": 50, "tools": openai.NOT_GIVEN, "seed": openai.omit,
        "extra_headers": {"X-Run": "r1"}, "extra_body": {"top_k": 5}, "timeout": 30,
    }  # fmt: skip
    with FakeOpenAIServer() as server:
        (sdk_body, sdk_headers), (direct_body, direct_headers) = asyncio.run(_both(server, **call))
    assert direct_body == sdk_body
    assert direct_body["top_k"] == 5 and "tools" not in direct_body and "seed" not in direct_body
    assert direct_headers["authorization"] == sdk_headers["authorization"] == "Bearer sk-direct"
    assert direct_headers["x-run"] == "r1"
    assert set(direct_headers) == set(sdk_headers)


def test_direct_create_keeps_the_per_call_timeout() -> None:
    async def call(server: FakeOpenAIServer) -> None:
        client = DirectOpenAI(base_url=server.base_url, api_key="sk-direct", max_retries=0)
        try:
            await client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}], timeout=0.2)
        finally:
            await client.close()

    with FakeOpenAIServer(latency=2.0) as server, pytest.raises(openai.APITimeoutError):
        asyncio.run(call(server))


def test_a_streaming_request_takes_the_sdks_own_path(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[dict[str, Any]] = []

    async def sdk_create(self: AsyncCompletions, **params: Any) -> str:
        taken.append(params)
        return "the SDK's stream"

    monkeypatch.setattr(AsyncCompletions, "create", sdk_create)
    client = DirectOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-direct")
    answer = asyncio.run(client.chat.completions.create(model="m", messages=[], stream=True))
    assert answer == "the SDK's stream" and taken == [{"model": "m", "messages": [], "stream": True}]


def test_agentinstructs_openai_clients_skip_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    from autogen_core.models import UserMessage

    from agents.models import ModelSpec, Sampling
    from agents.models.openai_compatible import build_openai

    walks: list[object] = []

    async def counted(data: object, expected_type: object) -> object:
        walks.append(expected_type)
        return await async_maybe_transform(data, expected_type)

    monkeypatch.setattr(completions_module, "async_maybe_transform", counted)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    async def ask(server: FakeOpenAIServer) -> None:
        sdk = openai.AsyncOpenAI(base_url=server.base_url, max_retries=0)
        await sdk.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        await sdk.close()
        assert len(walks) == 1  # the SDK's own client walks its request
        client = build_openai(ModelSpec(model="fake-model", base_url=server.base_url), Sampling())
        result = await client.create([UserMessage(content="hello there", source="user")])
        await client.close()
        assert isinstance(result.content, str) and result.content

    with FakeOpenAIServer() as server:
        asyncio.run(ask(server))
        assert server.requests[-1]["messages"] == [{"role": "user", "content": "hello there", "name": "user"}]
    assert len(walks) == 1


@pytest.mark.parametrize(
    ("content_type", "body", "shown"),
    [("text/html", b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>", "<!DOCTYPE html>"),
     ("application/json", b'{"foo": 1}', "'foo': 1")],
)  # fmt: skip
def test_an_answer_that_is_no_chat_completion_is_named_as_such(content_type: str, body: bytes, shown: str) -> None:
    class Page(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def call() -> None:
        client = DirectOpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="k", max_retries=0)
        try:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        finally:
            await client.close()

    try:
        with pytest.raises(NotAChatCompletion, match="not a chat completion") as raised:
            asyncio.run(call())
    finally:
        server.shutdown()
    assert shown in str(raised.value) and "/v1" in str(raised.value)
