"""The fake server itself: if it lies, every test built on it lies."""

from __future__ import annotations

import json
import time
from typing import Literal

import openai
import pytest
from pydantic import BaseModel, Field

from tests.fake_openai import FakeOpenAIServer, Faults


class Inner(BaseModel):
    name: str = Field(min_length=3, max_length=8)
    score: int = Field(ge=5, le=9)


class Nested(BaseModel):
    items: list[Inner] = Field(min_length=3, max_length=3)
    label: Literal["yes", "no"]
    note: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=1)


def client(server: FakeOpenAIServer, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=timeout)


def ask(server: FakeOpenAIServer, **kwargs) -> openai.types.chat.ChatCompletion:
    return client(server, kwargs.pop("timeout", 10)).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hello there"}], **kwargs
    )


def schema_format(model: type[BaseModel]) -> dict:
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": model.model_json_schema()}}


def test_plain_request_gets_text_and_usage() -> None:
    with FakeOpenAIServer() as server:
        reply = ask(server)
    assert reply.choices[0].message.content.startswith("fake answer")
    assert reply.usage.prompt_tokens >= 1 and reply.usage.completion_tokens >= 1


@pytest.mark.parametrize("model", [Inner, Nested])
def test_json_schema_requests_get_schema_valid_json(model: type[BaseModel]) -> None:
    with FakeOpenAIServer() as server:
        content = ask(server, response_format=schema_format(model)).choices[0].message.content
    parsed = model.model_validate_json(content)
    if isinstance(parsed, Nested):
        assert len({i.name for i in parsed.items}) == 3  # varied strings


def test_custom_responder_text_and_tool_calls_come_through() -> None:
    tool_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    replies = iter(["scripted", {"role": "assistant", "content": None, "tool_calls": [tool_call]}])
    with FakeOpenAIServer(lambda request: next(replies)) as server:
        assert ask(server).choices[0].message.content == "scripted"
        choice = ask(server).choices[0]
        assert server.requests[0]["messages"][0]["content"] == "hello there" and len(server.requests) == 2
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Oslo"}


@pytest.mark.parametrize(
    ("faults", "error"),
    [(Faults(error_500=1.0), openai.InternalServerError), (Faults(error_429=1.0), openai.RateLimitError)],
)
def test_http_faults_raise_the_sdk_errors(faults: Faults, error: type[Exception]) -> None:
    with FakeOpenAIServer(faults=faults) as server, pytest.raises(error):
        ask(server)


def test_bad_json_fault_breaks_the_json() -> None:
    with FakeOpenAIServer(faults=Faults(bad_json=1.0)) as server:
        content = ask(server, response_format=schema_format(Inner)).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_timeout_fault_makes_the_client_time_out() -> None:
    with (
        FakeOpenAIServer(faults=Faults(timeout=1.0, timeout_seconds=2)) as server,
        pytest.raises(openai.APITimeoutError),
    ):
        ask(server, timeout=0.5)


def test_mixed_fault_shares_are_near_the_configured_ones() -> None:
    faults = Faults(error_500=0.2, error_429=0.1, bad_json=0.2, seed=3)
    outcomes = {"500": 0, "429": 0, "bad": 0, "ok": 0}
    with FakeOpenAIServer(faults=faults) as server:
        for _ in range(200):
            try:
                content = ask(server, response_format=schema_format(Inner)).choices[0].message.content
                outcomes["ok" if content.startswith('{"name"') else "bad"] += 1
            except openai.InternalServerError:
                outcomes["500"] += 1
            except openai.RateLimitError:
                outcomes["429"] += 1
    assert 25 <= outcomes["500"] <= 55 and 8 <= outcomes["429"] <= 32 and 25 <= outcomes["bad"] <= 55
    assert sum(outcomes.values()) == 200


def test_latency_is_added_and_close_stops_the_server() -> None:
    server = FakeOpenAIServer(latency=0.2).start()
    start = time.perf_counter()
    ask(server)
    assert time.perf_counter() - start >= 0.2
    server.close()
    with pytest.raises(openai.APIConnectionError):
        ask(server, timeout=2)
