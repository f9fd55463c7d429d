"""A responder for the fake OpenAI server that plays a competent model for every tool-use agent:
it documents the functions it is shown, searches with search_code, writes tasks that keep
their type's promise, asks for withheld values, calls the tools a task names, and answers."""

from __future__ import annotations

import json
import re
from itertools import count
from pathlib import Path
from typing import Any

from teams.flows.types import Record, SeedTranscript
from tests.fakes import _schema, _task_text, judge_json, schema_kind

_n = count(1)
BRIEF = re.compile(r"^- (\w+)\((.*?)\) ->", re.M)


def _defs(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _defs(schema, schema["$defs"][node["$ref"].split("/")[-1]])
    return node


def _toolset(task: str) -> dict[str, list[str]]:
    """API name -> required parameters, from the toolset lines of a task prompt."""
    found = {}
    for name, params in BRIEF.findall(task):
        found[name] = [p.split(":")[0].strip() for p in params.split(", ") if p and "(optional)" not in p]
    return found


def _doc(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"Does what {name} says.",
        "parameters": [{"name": "value", "type": "string", "description": "the input", "required": True}],
        "returns": {"type": "object", "description": f"the result of {name}"},
    }


def _api_list(request: dict[str, Any]) -> dict[str, Any]:
    tool_text = "\n".join(str(m.get("content") or "") for m in request["messages"] if m["role"] == "tool")
    task = _task_text(request)
    if tool_text:  # the retriever's reflection: document what the search returned
        names = re.findall(r"^([\w.]+) \((?:function|method|class|definition)\) at ", tool_text, re.M)
        names = [re.sub(r"(?<!^)(?=[A-Z])", "_", n.rsplit(".", 1)[-1]).lower() for n in names]
        return {"apis": [_doc(n) for n in names[:3]] or [_doc("unrelated_api")]}
    if "Its functions:" in task:  # the extractor
        names = re.findall(r"^def (\w+)\(", task, re.M)
        return {"apis": [_doc(n) for n in names[:4]]}
    n = next(_n)
    return {"apis": [_doc(f"list_records_{n}"), _doc(f"delete_record_{n}")]}


def _task(node: dict[str, Any], schema: dict[str, Any], toolset: dict[str, list[str]]) -> dict[str, Any]:
    props = node["properties"]
    apis_schema = props["apis"]
    names = _defs(schema, apis_schema.get("items", {})).get("enum", list(toolset))
    low, high = apis_schema.get("minItems", 0), apis_schema.get("maxItems", 3)
    withheld_ok = props["withheld"].get("maxItems", 1) > 0
    missing = props["missing_apis"].get("minItems", 0) > 0
    superfluous = props["superfluous"].get("minItems", 0) > 0
    candidates = [n for n in names if not withheld_ok or toolset.get(n)] or names
    apis = candidates[: max(low, min(high, 2))]
    n = next(_n)
    task: dict[str, Any] = {"apis": apis, "superfluous": [], "withheld": [], "follow_up": "", "missing_apis": []}
    request = f"Task {n}: please use {' and '.join(apis) or 'a tool'} for me, step by step."
    if withheld_ok:
        param = toolset[apis[0]][0]
        task["withheld"] = [{"api": apis[0], "parameter": param, "value": f"val{n}"}]
        task["follow_up"] = f"The {param} is val{n}."
        request += f" I will tell you the {param} later."
    if missing:
        task["missing_apis"] = [{"name": f"teleport_{n}", "description": "A tool nobody has."}]
        request += f" Also teleport_{n} the result."
    if superfluous:
        task["superfluous"] = ["my cat is called Tom"]
        request += " By the way, my cat is called Tom."
    task["request"] = request
    return task


def _fake_args(parameters: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    values = {"string": "abc", "integer": 3, "number": 2.5, "boolean": True, "array": ["x"]}
    props = parameters.get("properties", {})
    return {p: given.get(p, values[props[p]["type"]]) for p in parameters.get("required", [])}


def _assistant(request: dict[str, Any]) -> str | dict[str, Any]:
    messages = request["messages"]
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    last_user = users[-1]
    if any(m["role"] == "tool" for m in messages[last_user:]):
        return "Here is what the tools returned. I cannot do anything the listed tools do not offer."
    first = messages[users[0]]["content"]
    wanted = re.search(r"I will tell you the (\w+) later", first)
    given = dict(re.findall(r"The (\w+) is (\S+?)\.", messages[last_user]["content"]))
    if wanted and wanted.group(1) not in given:
        return f"Could you tell me the {wanted.group(1)}?"
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in request["tools"]}
    named = [name for name in tools if re.search(rf"\b{name}\b", first)]
    if not named:
        return "I cannot do that: I have no tool for it."
    calls = [
        {"id": f"call_{next(_n)}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(_fake_args(tools[name], given))}}
        for name in named
    ]  # fmt: skip
    return {"role": "assistant", "content": None, "tool_calls": calls}


FIRST_QUERY = "weather station temperature"
ENOUGH = 2  # related results (distance <= 0.8) the fake retriever wants before it stops searching


def _retriever(request: dict[str, Any]) -> str | dict[str, Any]:
    """Searches, reads the results, searches again while they are thin (fewer than ENOUGH related
    hits so far), each new query naming what the last results showed; then documents them."""
    results = [str(m.get("content") or "") for m in request["messages"] if m["role"] == "tool"]
    related = [float(d) for r in results for d in re.findall(r", distance (\d+\.\d+):", r) if float(d) <= 0.8]
    if results and (len(related) >= ENOUGH or "search limit reached" in results[-1]):
        return json.dumps(_api_list(request))
    seen = re.findall(r"^([\w.]+) \(\w+\) at ", results[-1], re.M) if results else []
    query = FIRST_QUERY if not results else f"code like {seen[0]}" if seen else f"{FIRST_QUERY}, try {len(results) + 1}"
    call = {"name": "search_code", "arguments": json.dumps({"query": query})}
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": f"call_s{len(results) + 1}", "type": "function", "function": call}]}  # fmt: skip


def tool_use_responder(request: dict[str, Any]) -> str | dict[str, Any]:
    tools = [t["function"]["name"] for t in request.get("tools") or []]
    if tools == ["search_code"]:
        return _retriever(request)
    if tools and tools != ["search_code"]:
        return _assistant(request)
    schema = _schema(request)
    if schema_kind(request) == "judge":
        return judge_json(4, list(schema["properties"]))
    fields = set(schema.get("properties", {}))
    task = _task_text(request)
    if fields == {"apis"}:
        return json.dumps(_api_list(request))
    if fields == {"tasks"}:
        node = _defs(schema, schema["properties"]["tasks"]["items"])
        return json.dumps({"tasks": [_task(node, schema, _toolset(task))]})
    if "request" in fields:
        return json.dumps(_task(schema, schema, _toolset(task)))
    if fields == {"edits"}:  # the editor: one task per suggestion
        node, size = _defs(schema, schema["properties"]["edits"]["items"]), schema["properties"]["edits"]["minItems"]
        return json.dumps({"edits": [_task(node, schema, _toolset(task)) for _ in range(size)]})
    if fields == {"suggestions"}:
        size = schema["properties"]["suggestions"].get("minItems", 1)
        return json.dumps({"suggestions": [f"Make one call's result feed the next ({i})." for i in range(1, size + 1)]})
    if fields == {"result"}:
        kind = schema["properties"]["result"].get("type", "object")
        value = {"string": "ok", "integer": 7, "number": 1.5, "boolean": True, "array": ["a"], "object": {"ok": True}}
        return json.dumps({"result": value.get(kind, {"ok": True})})
    return "plain answer"


def _native_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The text turns of agents.models.tool_json back as tool calls and tool results."""
    out: list[dict[str, Any]] = []
    for m in messages:
        content = str(m.get("content") or "")
        if m["role"] == "assistant" and content.startswith('{"tool_calls"'):
            calls = json.loads(content)["tool_calls"]
            out.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_t{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}} for i, c in enumerate(calls)]})  # fmt: skip
        elif m["role"] == "user" and content.startswith("Result of "):
            for line in re.findall(r"^Result of \w+ \(call [^)]*\): (.*?)(?=^Result of |\Z)", content, re.M | re.S):
                out.append({"role": "tool", "content": line.strip(), "tool_call_id": "call_t"})
        else:
            out.append(m)
    return out


def tools_via_schema(native: Any) -> Any:
    """A responder for an endpoint without tools, playing the same model as `native`: a request
    whose schema is agents.models.tool_json's tool-call schema is answered as `native` answers
    it with those tools, as that schema's JSON."""

    def respond(request: dict[str, Any]) -> str | dict[str, Any]:
        request = {**request, "messages": _native_messages(request["messages"])}
        fmt = (request.get("response_format") or {}).get("json_schema") or {}
        if fmt.get("name") != "tool_calls":
            return native(request)
        schema = fmt["schema"]
        options = schema.get("anyOf", [schema])
        calls_node = options[0]["properties"]["tool_calls"]["items"]
        tools = [{"type": "function", "function": {"name": o["properties"]["name"]["enum"][0],
                                                   "parameters": o["properties"]["arguments"]}}
                 for o in calls_node.get("anyOf", [calls_node])]  # fmt: skip
        inner = {k: v for k, v in request.items() if k != "response_format"} | {"tools": tools}
        reply_schema = options[1] if len(options) > 1 else None
        if reply_schema is not None and set(reply_schema.get("properties", {})) != {"reply"}:
            inner["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "reply", "schema": {**reply_schema, "$defs": schema.get("$defs", {})}}}  # fmt: skip
        answer = native(inner)
        if isinstance(answer, dict) and answer.get("tool_calls"):
            return json.dumps({"tool_calls": [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                                              for c in answer["tool_calls"]]})  # fmt: skip
        text = str(answer.get("content") if isinstance(answer, dict) else answer)
        return text if "response_format" in inner else json.dumps({"reply": text})

    return respond


def output_fields(request: dict[str, Any]) -> set[str]:
    """The fields of the JSON schema a request asks for: which agent sent it."""
    schema = (request.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    return set(schema.get("properties", {}))


def run_tool_use_seed(tmp_path: Path, responder: Any, flow: str) -> tuple[list[Record], SeedTranscript, list[dict[str, Any]]]:
    """`agentinstruct run tool_use` on one example code seed against a fake server with `responder`
    and the flow settings `flow` (YAML): its records, its seed's transcript and every request sent."""
    from typer.testing import CliRunner

    from teams.cli.app import app
    from tests.fake_openai import FakeOpenAIServer
    from tests.test_tool_use import CODE  # here: test_tool_use imports this module

    config = tmp_path / "c.yaml"
    config.write_text(f"flow: {flow}\n")
    with FakeOpenAIServer(responder) as server:
        result = CliRunner().invoke(app, [
            "run", "tool_use", "--seeds", str(CODE), "--model", "fake-model", "--base-url", server.base_url,
            "--out", str(tmp_path / "runs"), "--run-id", "t", "--index", str(tmp_path / "index"), "--max-seeds", "1",
            "--config", str(config),
        ])  # fmt: skip
        requests = list(server.requests)
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "runs" / "t"
    records = [Record.model_validate_json(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    (seed_line,) = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    transcript = SeedTranscript.model_validate_json((folder / "transcripts" / f"{seed_line['id']}.json").read_text())
    return records, transcript, requests
