"""`agentinstruct models check` against the fake server with its capabilities switched off: each
is reported as it is, with the spec to write, and no structured output exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from tests.fake_openai import Capabilities, FakeOpenAIServer, schema_responder


def _responder(request: dict[str, Any]) -> str | dict[str, Any]:
    """A model that calls a tool it is shown, and answers JSON as asked."""
    if request.get("tools"):
        call = {"name": request["tools"][0]["function"]["name"], "arguments": json.dumps({"city": "Paris"})}
        return {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": call}]}
    if (request.get("response_format") or {}).get("type") == "json_schema":
        return json.dumps({"answer": "yes"})
    return schema_responder(request)


def _check(server: FakeOpenAIServer) -> Any:
    return CliRunner().invoke(app, ["models", "check", "--model", "fake-model", "--base-url", server.base_url])


def _marks(output: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in output.splitlines() if line.strip().startswith(("ok", "FAIL"))}


def test_a_full_endpoint_passes_every_probe_and_gets_native_tools() -> None:
    with FakeOpenAIServer(_responder) as server:
        result = _check(server)
    assert result.exit_code == 0, result.output
    assert set(_marks(result.output).values()) == {"ok"} and len(_marks(result.output)) == 5
    assert "function_calling: true" in result.output and "structured_output: true" in result.output


@pytest.mark.parametrize(
    ("capabilities", "failing", "native"),
    [
        (Capabilities(tools=False, forced_tool_choice=False), {"tools", "forced_tool_choice"}, False),
        (Capabilities(forced_tool_choice=False), {"forced_tool_choice"}, False),
        (Capabilities(json_object=False), {"json_object"}, True),
    ],
)
def test_each_missing_capability_is_reported(capabilities: Capabilities, failing: set[str], native: bool) -> None:
    with FakeOpenAIServer(_responder, capabilities=capabilities) as server:
        result = _check(server)
    assert result.exit_code == 0, result.output
    marks = _marks(result.output)
    assert {name for name, mark in marks.items() if mark == "FAIL"} == failing
    assert f"function_calling: {str(native).lower()}" in result.output
    assert ("native tools" if native else "tools through structured output") in result.output


def test_no_structured_output_exits_non_zero_in_one_line(tmp_path: Path) -> None:
    with FakeOpenAIServer(_responder, capabilities=Capabilities(json_schema=False)) as server:
        config = tmp_path / "c.yaml"
        config.write_text(f"models:\n  default: {{model: fake-model, base_url: '{server.base_url}'}}\n")
        result = CliRunner().invoke(app, ["models", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert _marks(result.output)["json_schema"] == "FAIL" and "cannot serve the flows" in result.output
    assert "Traceback" not in result.output and result.stderr.count("\n") == 1


def test_bad_input_is_one_line() -> None:
    result = CliRunner().invoke(app, ["models", "check"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_an_endpoint_that_is_not_listening_is_unreachable_with_no_spec_proposed() -> None:
    """Every probe failed on the connection, and the verdict was 'no JSON-schema output' with
    `structured_output: false` to write: advice from a server that never answered."""
    result = CliRunner().invoke(app, ["models", "check", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9/v1 unreachable (connection refused)" in result.stdout
    assert "structured_output" not in result.stdout and "cannot serve" not in result.output
    assert result.stderr == "error: http://127.0.0.1:9/v1 unreachable (connection refused)\n"


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/v1", "http://[::1", "ftp://127.0.0.1:9/v1"])
def test_an_invalid_base_url_is_one_line(url: str) -> None:
    result = CliRunner().invoke(app, ["models", "check", "--model", "m", "--base-url", url])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and f"error: base_url: invalid base URL '{url}'" in result.stderr
