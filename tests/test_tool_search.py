"""The API retriever's iterative search (issue 12): it searches again while the results are thin,
each query written after reading the last results, at most `max_searches` times, and stops when
it answers without a call; on the fake server (native tools and tools through structured output)
and on the embedded model's client (scripted, without loading the model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from autogen_core.models import FunctionExecutionResult, FunctionExecutionResultMessage, UserMessage

from agents.models import ModelPool, ModelSpec, Sampling
from agents.models.local import LocalChatCompletionClient
from agents.personas import PersonaLibrary
from agents.tools import RequiredToolChoice
from retrieval.code_index import CodeIndex
from taxonomies import load_taxonomy
from teams.flows import FlowEnv, FlowSettings, SeedLog
from teams.flows.types import SeedTranscript
from teams.skills.tool_use.toolset import retrieve_apis
from tests.fake_openai import Capabilities, FakeOpenAIServer
from tests.test_flows import SEED
from tests.test_tool_use import CODE, TOOLS, _ScriptedEngine, api_list, spec
from tests.tool_fakes import tool_use_responder, tools_via_schema

UNITS = [*TOOLS, spec("wind_chill", {"temperature_c": ("number", True), "wind_kmh": ("number", True)})]


def _env(pool: ModelPool, max_searches: int) -> FlowEnv:
    settings = FlowSettings(max_attempts=1, max_searches=max_searches)
    return FlowEnv(load_taxonomy("tool_use"), PersonaLibrary.load(), pool, settings)


def _index(tmp_path: Path, *files: str) -> CodeIndex:
    folder = tmp_path / "code"
    folder.mkdir()
    for name in files:
        shutil.copy(CODE / name, folder / name)
    index = CodeIndex(tmp_path / "index")
    index.build(folder)
    return index


def _searches(log: SeedLog) -> list[str]:
    written = SeedTranscript.model_validate_json(log.transcript.model_dump_json())  # as written to disk
    (team,) = [t for t in written.teams if t.step == "retrieve_apis"]
    return [json.loads(c["arguments"])["query"] for m in team.messages if m.type == "ToolCallRequestEvent" for c in m.content]


def _retriever_requests(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if "toolset so far" in str(r["messages"])]


@pytest.mark.parametrize("native", [True, False], ids=["native-tools", "function-calling-false"])
async def test_thin_results_make_the_retriever_search_again_up_to_max_searches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    index = _index(tmp_path, "units.py")  # every function of it is already in the toolset: nothing new to find
    caps = Capabilities() if native else Capabilities(tools=False, forced_tool_choice=False)
    responder = tool_use_responder if native else tools_via_schema(tool_use_responder)
    with FakeOpenAIServer(responder, capabilities=caps) as server:
        spec_ = ModelSpec(model="fake-model", base_url=server.base_url, function_calling=native)
        env = _env(ModelPool({"default": spec_}), max_searches=3)
        log = SeedLog(SEED)
        tools = list(UNITS)
        assert await retrieve_apis(env, log, tools, index, env.library.get("api_retriever")) == ([], [])
        await env.pool.close()
        requests = _retriever_requests(server)
    queries = _searches(log)
    assert len(queries) == 3 and len(set(queries)) == 3  # searched again, a new query each time, then the bound
    if native:
        # request k read the k-1 results before it; only the first search was forced
        assert [sum(m["role"] == "tool" for m in r["messages"]) for r in requests] == [0, 1, 2, 3]
        assert [r.get("tool_choice") for r in requests[:3]] == ["required", "auto", "auto"]
        assert "tools" not in requests[3]  # after the last search allowed: the answer, without tools
    else:
        assert not any("tools" in r for r in requests) and len(requests) == 4
    assert tools == UNITS  # nothing related: the toolset is left to the reconstructor


async def test_the_retriever_stops_searching_when_it_has_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    index = CodeIndex(tmp_path / "index")
    index.build(CODE)
    with FakeOpenAIServer(tool_use_responder) as server:
        env = _env(ModelPool({"default": ModelSpec(model="fake-model", base_url=server.base_url)}), max_searches=4)
        log = SeedLog(SEED)
        added, relevant = await retrieve_apis(env, log, list(TOOLS), index, env.library.get("api_retriever"))
        await env.pool.close()
        requests = _retriever_requests(server)
    assert len(_searches(log)) == 1 and len(relevant) >= 2  # the first results were enough
    assert len(requests) == 2 and requests[1].get("tool_choice") == "auto" and requests[1]["tools"]  # it could search on
    assert added and all(t.origin == "retrieved" for t in added)


async def test_on_the_embedded_model_the_grammar_lets_the_retriever_stop_after_its_first_search(tmp_path: Path) -> None:
    index = _index(tmp_path, "units.py", "stations.py")
    search = '{"name": "search_code", "arguments": {"query": "%s"}}'
    engine = _ScriptedEngine(search % "unit conversion", search % "station readings", api_list("find_stations_above"))
    client = LocalChatCompletionClient(engine, Sampling(), ModelSpec().model_info())  # type: ignore[arg-type]
    pool = ModelPool({"default": ModelSpec()}, factory=lambda spec, sampling: client)
    env = _env(pool, max_searches=4)
    log = SeedLog(SEED)
    added, _ = await retrieve_apis(env, log, list(UNITS), index, env.library.get("api_retriever"))
    assert _searches(log) == ["unit conversion", "station readings"] and not engine.answers
    grammars = [call["response_format"]["schema"] for call in engine.calls]  # type: ignore[index]
    assert [len(g.get("anyOf", [])) for g in grammars] == [0, 2, 2]  # first: a call only; then a call or the answer
    assert "apis" in grammars[1]["anyOf"][1]["properties"]  # the answer it may give instead is the API list
    assert "ApiDoc" in grammars[1]["$defs"]  # its refs resolve from the grammar's root
    assert [t.name for t in added] == ["find_stations_above"]


async def test_required_tool_choice_holds_only_until_a_tool_has_run() -> None:
    seen: list[Any] = []

    class Inner:
        async def create(self, messages: Any, **kwargs: Any) -> None:
            seen.append(kwargs["tool_choice"])

    client = RequiredToolChoice(Inner())  # type: ignore[arg-type]
    asked = [UserMessage(content="grow the toolset", source="user")]
    ran = FunctionExecutionResultMessage(content=[FunctionExecutionResult(call_id="s1", content="x", name="search_code")])
    await client.create(asked, tools=[{"name": "search_code"}])  # type: ignore[list-item]
    await client.create([*asked, ran], tools=[{"name": "search_code"}])  # type: ignore[list-item]
    await client.create([*asked, ran], tools=[{"name": "search_code"}], tool_choice="none")  # type: ignore[list-item]
    assert seen == ["required", "auto", "none"]
