"""Tool calls through structured output (agents.models.tool_json), on the fake server with its
tool support switched off: the same records as the native path, and never AutoGen's refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from autogen_core import FunctionCall
from autogen_core.models import AssistantMessage, FunctionExecutionResult, FunctionExecutionResultMessage, UserMessage
from autogen_core.tools import FunctionTool
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from agents.models import ModelSpec, Sampling
from agents.models.openai_compatible import build_openai
from agents.models.tool_json import MAX_CALLS, StructuredToolCalls, calls_schema, parse_calls
from teams.cli.app import app
from teams.flows.types import Record
from tests.conftest import REPO
from tests.fake_openai import Capabilities, FakeOpenAIServer
from tests.tool_fakes import tool_use_responder, tools_via_schema

CODE = REPO / "examples" / "code"
NO_TOOLS = Capabilities(tools=False, forced_tool_choice=False)


def _search(query: str) -> str:
    """Search the code."""
    return f"found {query}"


def _run(tmp_path: Path, server: FakeOpenAIServer, name: str, function_calling: bool) -> list[Record]:
    config = tmp_path / f"{name}.yaml"
    # near-duplicate search off: the fake's tasks differ only in a counter ("Task 18" / "Task 19"),
    # shared by both runs and by threads, so which of them MiniLM finds at 0.95 varied from run to
    # run (CI once kept one record more on the schema path); exact duplicates are still dropped
    config.write_text(json.dumps({"models": {"default": {
        "model": "fake-model", "base_url": server.base_url, "function_calling": function_calling}},
        "quality": {"near_duplicate_threshold": 1}}))  # fmt: skip
    result = CliRunner().invoke(app, [
        "run", "tool_use", "--seeds", str(CODE), "--config", str(config), "--out", str(tmp_path / "runs"),
        "--run-id", name, "--index", str(tmp_path / "index"), "--specialists", "3",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "does not support function calling" not in result.output
    lines = (tmp_path / "runs" / name / "records.jsonl").read_text().splitlines()
    return [Record.model_validate_json(line) for line in lines]


def _shape(record: Record) -> str:
    """A record without what differs between two runs of the fake: ids and its counters."""
    turns = []
    for m in record.messages:
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in m.tool_calls or []]
        turns.append((m.role, m.content or "", calls))
    return re.sub(r"\d+", "N", str([record.subcategory, turns]))


def test_the_structured_output_path_gives_the_same_records_as_native_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(tool_use_responder) as server:
        native = _run(tmp_path, server, "native", True)
    with FakeOpenAIServer(tools_via_schema(tool_use_responder), capabilities=NO_TOOLS) as server:
        schema = _run(tmp_path, server, "schema", False)
        assert not any("tools" in r for r in server.requests)  # every call went without native tools
        assert any((r.get("response_format") or {}).get("json_schema", {}).get("name") == "tool_calls" for r in server.requests)
    assert len(native) >= 6
    assert sorted(map(_shape, schema)) == sorted(map(_shape, native))
    assert any(m.tool_calls for r in schema for m in r.messages)


async def test_function_calling_false_never_raises_and_turns_the_answer_into_calls() -> None:
    answers = iter([json.dumps({"tool_calls": [{"name": "_search", "arguments": {"query": "x"}}]}), json.dumps({"reply": "done"})])
    with FakeOpenAIServer(lambda request: next(answers), capabilities=NO_TOOLS) as server:
        spec = ModelSpec(model="fake-model", base_url=server.base_url, function_calling=False, api_key_env="NOPE_KEY")
        client = build_openai(spec, Sampling())
        assert isinstance(client, StructuredToolCalls) and client.model_info["function_calling"]
        tool = FunctionTool(_search, description="Search the code.")
        first = await client.create([UserMessage(content="find x", source="user")], tools=[tool], tool_choice="auto")
        assert isinstance(first.content, list) and first.content[0].name == "_search"
        assert json.loads(first.content[0].arguments) == {"query": "x"} and first.finish_reason == "function_calls"
        history = [
            UserMessage(content="find x", source="user"),
            AssistantMessage(content=first.content, source="a"),
            FunctionExecutionResultMessage(content=[FunctionExecutionResult(content="found x", name="_search", call_id=first.content[0].id)]),
        ]
        second = await client.create(history, tools=[tool], tool_choice="auto")
        assert second.content == "done"
        sent = server.requests[1]["messages"]
        assert sent[-1]["role"] == "user" and sent[-1]["content"] == f"Result of _search (call {first.content[0].id}): found x"
        assert sent[-2]["role"] == "assistant" and "tool_calls" in sent[-2]["content"]
        await client.close()


def test_an_answer_naming_an_unknown_tool_is_not_a_call() -> None:
    assert parse_calls(json.dumps({"tool_calls": [{"name": "rm_rf", "arguments": {}}]}), {"search"}) is None
    calls = parse_calls(json.dumps({"name": "search", "arguments": {"q": 1}}), {"search"})
    assert calls is not None and isinstance(calls[0], FunctionCall) and json.loads(calls[0].arguments) == {"q": 1}


def test_the_schema_bounds_the_calls_of_one_answer() -> None:
    """A constrained decoder closes the list at MAX_CALLS: a small model that repeats its call
    cannot run on until max_tokens cuts the JSON."""
    tool = FunctionTool(_search, description="Search the code.")
    validator = Draft202012Validator(calls_schema([tool.schema], None))
    call = {"name": "_search", "arguments": {"query": "x"}}
    assert validator.is_valid({"tool_calls": [call] * MAX_CALLS})
    assert not validator.is_valid({"tool_calls": [call] * (MAX_CALLS + 1)})
    assert not validator.is_valid({"tool_calls": []})


def _probes(server: FakeOpenAIServer) -> list[dict[str, object]]:
    """The tool-calling probe's requests (agents.models.probe asks for get_time)."""
    return [r for r in server.requests if "get_time" in json.dumps(r.get("tools") or []) or
            r.get("messages") == [{"role": "user", "content": "Is Paris in France? Answer yes or no."}]]  # fmt: skip


def test_function_calling_auto_probes_once_picks_structured_output_and_resume_does_not_probe_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(tools_via_schema(tool_use_responder), capabilities=NO_TOOLS) as server:
        config = tmp_path / "auto.yaml"
        config.write_text(json.dumps({"models": {"default": {"model": "fake-model", "base_url": server.base_url}}}))
        args = ["--out", str(tmp_path / "runs"), "--index", str(tmp_path / "index")]
        result = CliRunner().invoke(app, ["run", "tool_use", "--seeds", str(CODE), "--config", str(config), *args,
                                          "--run-id", "auto", "--specialists", "3"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert len(_probes(server)) == 3  # chat, tools, forced tool choice: once for the one endpoint
        run = tmp_path / "runs" / "auto"
        info = json.loads((run / "run.json").read_text())
        assert info["config"]["models"]["default"]["function_calling"] == "auto"
        assert [c["native"] for c in info["tool_calling"].values()] == [False]
        assert "agents call tools through structured output (function_calling: auto, probed" in (run / "run.log").read_text()
        assert (run / "records.jsonl").read_text().splitlines()
        assert any(
            (r.get("response_format") or {}).get("json_schema", {}).get("name") == "tool_calls" for r in server.requests
        )
        before = len(server.requests)
        resumed = CliRunner().invoke(app, ["run", "--resume", "auto", "--out", str(tmp_path / "runs")])
        assert resumed.exit_code == 0, resumed.output
        assert not _probes(type("S", (), {"requests": server.requests[before:]})())  # type: ignore[arg-type]
        assert "as probed at" in (run / "run.log").read_text()


def test_function_calling_auto_keeps_native_tools_where_a_forced_tool_choice_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(tool_use_responder) as server:
        config = tmp_path / "auto.yaml"
        config.write_text(json.dumps({"models": {"default": {"model": "fake-model", "base_url": server.base_url}}}))
        result = CliRunner().invoke(app, ["run", "tool_use", "--seeds", str(CODE), "--config", str(config),
                                          "--out", str(tmp_path / "runs"), "--index", str(tmp_path / "index"),
                                          "--run-id", "native", "--specialists", "3"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert any(r.get("tools") and "search_code" in json.dumps(r["tools"]) for r in server.requests)
    log = (tmp_path / "runs" / "native" / "run.log").read_text()
    assert "agents call tools natively (function_calling: auto, probed" in log
