"""Tool use on fakes: the retriever's search tool, the checks, the embedded model's tool-call
plumbing (without loading it), and a whole run through the CLI on the fake server."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    RequestUsage,
)
from autogen_ext.models.replay import ReplayChatCompletionClient
from typer.testing import CliRunner

from agents.models import ModelPool, ModelSpec, Sampling
from agents.models.local import _as_call, _to_chat, _tool_grammar
from agents.personas import PersonaLibrary
from retrieval.code_index import CodeIndex
from taxonomies import load_taxonomy
from teams.cli.app import app
from teams.flows import FlowEnv, FlowSettings, SeedLog
from teams.flows.types import Message, Record, SeedTranscript
from teams.skills.tool_use.checks import check_conversation, check_task
from teams.skills.tool_use.schemas import (
    ApiDoc,
    ParameterDoc,
    ReturnDoc,
    ToolSpec,
    ToolTaskDraft,
    Withheld,
    task_schema,
)
from teams.skills.tool_use.toolset import retrieve_apis
from tests.conftest import REPO
from tests.fake_openai import FakeOpenAIServer
from tests.test_flows import SEED
from tests.tool_fakes import tool_use_responder

CODE = REPO / "examples" / "code"


def spec(name: str, params: dict[str, tuple[str, bool]], origin: str = "extracted") -> ToolSpec:
    doc = ApiDoc(
        name=name, description=f"{name} does its job.",
        parameters=[ParameterDoc(name=p, type=t, description=p, required=r) for p, (t, r) in params.items()],  # type: ignore[arg-type]
        returns=ReturnDoc(type="number", description="the value"),
    )  # fmt: skip
    return ToolSpec.from_doc(doc, origin)


TOOLS = [
    spec("celsius_to_fahrenheit", {"celsius": ("number", True)}),
    spec("parse_duration", {"text": ("string", True), "default_unit": ("string", False)}),
]


def call(name: str, args: dict[str, object] | str, call_id: str = "c1") -> Message:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return Message(role="assistant", content="", tool_calls=[{"id": call_id, "type": "function",
                   "function": {"name": name, "arguments": arguments}}])  # fmt: skip


def conversation(*middle: Message, answer: str = "It is 77 degrees Fahrenheit.") -> list[Message]:
    return [Message(role="user", content="What is 25 C in F?"), *middle,
            Message(role="tool", content="77.0", tool_call_id="c1"), Message(role="assistant", content=answer)]  # fmt: skip


ONE_API = ToolTaskDraft(request="What is 25 degrees Celsius in Fahrenheit?", apis=["celsius_to_fahrenheit"])


# --- checks ----------------------------------------------------------------------------------


def test_a_sound_conversation_passes_the_checks() -> None:
    good = conversation(call("celsius_to_fahrenheit", {"celsius": 25}))
    assert check_conversation(good, TOOLS, ONE_API, "single_api_all_params") == []


@pytest.mark.parametrize(
    ("bad_call", "problem"),
    [
        (
            call("celsius_to_fahrenheit", {"celsius": 25, "precision": 2}),
            "Additional properties are not allowed ('precision'",
        ),
        (call("convert_temperature", {"celsius": 25}), "calls 'convert_temperature', which is not in the toolset"),
        (call("celsius_to_fahrenheit", {"celsius": "twenty-five"}), "celsius: 'twenty-five' is not of type 'number'"),
        (call("celsius_to_fahrenheit", {}), "'celsius' is a required property"),
        (call("celsius_to_fahrenheit", "{not json"), "arguments are not JSON"),
    ],
    ids=["invented argument", "unknown tool", "argument breaks its schema", "required argument left out", "not JSON"],
)
def test_checks_reject_bad_calls(bad_call: Message, problem: str) -> None:
    problems = check_conversation(conversation(bad_call), TOOLS, ONE_API, "single_api_all_params")
    assert any(problem in p for p in problems), problems


def test_an_answer_that_is_a_call_written_as_text_is_rejected() -> None:
    fake_answer = '{"name": "celsius_to_fahrenheit", "arguments": {"celsius": 25}}'
    problems = check_conversation(
        conversation(call("celsius_to_fahrenheit", {"celsius": 25}), answer=fake_answer),
        TOOLS,
        ONE_API,
        "single_api_all_params",
    )
    assert problems == ["the answer is a tool call written as text, not an answer"]


def test_a_missing_parameter_task_may_not_invent_the_withheld_value() -> None:
    draft = ToolTaskDraft(request="Convert the temperature for me.", apis=["celsius_to_fahrenheit"],
                          withheld=[Withheld(api="celsius_to_fahrenheit", parameter="celsius", value="25")],
                          follow_up="It is 25 degrees.")  # fmt: skip
    asked = [Message(role="user", content=draft.request), Message(role="assistant", content="Which temperature?"),
             Message(role="user", content=draft.follow_up), call("celsius_to_fahrenheit", {"celsius": 25}),
             Message(role="tool", content="77.0", tool_call_id="c1"), Message(role="assistant", content="77 F.")]  # fmt: skip
    assert check_conversation(asked, TOOLS, draft, "single_api_missing_params") == []
    invented = [asked[0], call("celsius_to_fahrenheit", {"celsius": 20}), *asked[4:]]
    assert any(
        "invents the withheld 'celsius'" in p
        for p in check_conversation(invented, TOOLS, draft, "single_api_missing_params")
    )
    wrong_value = [*asked[:3], call("celsius_to_fahrenheit", {"celsius": 30}), *asked[4:]]
    assert any(
        "not the value the user gave" in p
        for p in check_conversation(wrong_value, TOOLS, draft, "single_api_missing_params")
    )


def test_a_missing_api_task_calls_no_absent_api_and_says_what_it_cannot_do() -> None:
    draft = ToolTaskDraft(
        request="Book me a flight to Oslo.",
        apis=[],
        missing_apis=[{"name": "book_flight", "description": "Books a flight."}],
    )  # type: ignore[list-item]
    says = [
        Message(role="user", content=draft.request),
        Message(role="assistant", content="I cannot book flights with my tools."),
    ]
    assert check_conversation(says, TOOLS, draft, "missing_single_api") == []
    calls_it = [
        says[0],
        call("book_flight", {"to": "Oslo"}),
        Message(role="tool", content="x", tool_call_id="c1"),
        says[1],
    ]
    problems = check_conversation(calls_it, TOOLS, draft, "missing_single_api")
    assert "calls the absent API 'book_flight'" in problems
    pretends = [says[0], Message(role="assistant", content="Done, your flight is booked.")]
    assert check_conversation(pretends, TOOLS, draft, "missing_single_api") == [
        "a missing-API task's answer does not say what the assistant cannot do"
    ]


def test_task_checks_and_schemas_hold_the_type_promise() -> None:
    schema = task_schema("single_api_missing_params", TOOLS).model_json_schema()
    assert schema["properties"]["withheld"]["minItems"] == 1
    listed = ToolTaskDraft(
        request="Book me a flight please.", missing_apis=[{"name": "parse_duration", "description": "x"}]
    )  # type: ignore[list-item]
    assert any("absent from the list" in p for p in check_task(listed, "missing_single_api", TOOLS))
    gives_it = ToolTaskDraft(request="Convert 25 degrees.", apis=["celsius_to_fahrenheit"], follow_up="25",
                             withheld=[Withheld(api="celsius_to_fahrenheit", parameter="celsius", value="25")])  # fmt: skip
    assert any("gives the withheld value" in p for p in check_task(gives_it, "single_api_missing_params", TOOLS))


# --- the embedded model's tool calls, without the model ---------------------------------------


def test_local_tool_calls_are_constrained_per_tool_and_parsed_into_function_calls() -> None:
    schemas = [t.openai()["function"] for t in TOOLS]
    grammar = _tool_grammar(schemas, {"type": "object", "properties": {"reply": {"type": "string"}}})  # type: ignore[arg-type]
    first = grammar["anyOf"][0]["properties"]
    assert first["name"] == {"const": "celsius_to_fahrenheit"} and first["arguments"]["required"] == ["celsius"]
    assert len(grammar["anyOf"]) == 3  # two tools, or a reply
    content, finish = _as_call(
        '{"name": "parse_duration", "arguments": {"text": "15m"}}', {"parse_duration"}, True, "stop"
    )
    assert finish == "function_calls" and isinstance(content, list)
    assert (content[0].name, json.loads(content[0].arguments)) == ("parse_duration", {"text": "15m"})
    assert _as_call('{"reply": "Which unit?"}', {"parse_duration"}, True, "stop") == ("Which unit?", "stop")
    history = _to_chat([
        AssistantMessage(content=[FunctionCall(id="c1", name="parse_duration", arguments='{"text": "15m"}')], source="a"),
        FunctionExecutionResultMessage(content=[FunctionExecutionResult(call_id="c1", content="900", name="parse_duration")]),
    ])  # fmt: skip
    assert json.loads(history[0]["content"]) == {"name": "parse_duration", "arguments": {"text": "15m"}}
    assert history[1] == {"role": "user", "content": "Result of parse_duration (call c1): 900"}


# --- the retriever's tool, on a replayed model and a real index -------------------------------


def tool_use_env(scripts: dict[str, Sequence[str | CreateResult]], index: CodeIndex | None = None) -> FlowEnv:
    clients = {
        role: ReplayChatCompletionClient(list(script), model_info=ModelSpec().model_info())
        for role, script in scripts.items()
    }

    def factory(model_spec: ModelSpec, sampling: Sampling) -> ReplayChatCompletionClient:
        return clients[model_spec.model]

    pool = ModelPool({role: ModelSpec(model=role) for role in scripts}, factory=factory)
    return FlowEnv(load_taxonomy("tool_use"), PersonaLibrary.load(), pool, FlowSettings(max_attempts=1),
                   {"code_index": index} if index else {})  # fmt: skip


def api_list(*names: str) -> str:
    docs = [{"name": n, "description": f"{n} documented.", "parameters": [], "returns": {"type": "string", "description": "x"}}
            for n in names]  # fmt: skip
    return json.dumps({"apis": docs})


async def test_the_retriever_calls_its_search_tool_and_what_it_finds_enters_the_api_list(tmp_path: Path) -> None:
    index = CodeIndex(tmp_path / "index")
    index.build(CODE)
    search = CreateResult(
        finish_reason="function_calls", cached=False, usage=RequestUsage(prompt_tokens=5, completion_tokens=5),
        content=[FunctionCall(id="s1", name="search_code", arguments=json.dumps({"query": "stations warmer than a threshold"}))],
    )  # fmt: skip
    env = tool_use_env({"api_retriever": [search, api_list("find_stations_above", "invented_elsewhere")]}, index)
    log = SeedLog(SEED)
    tools = [spec("celsius_to_fahrenheit", {"celsius": ("number", True)})]
    added, relevant = await retrieve_apis(env, log, tools, index, env.library.get("api_retriever"))

    assert [t.name for t in added] == ["find_stations_above"] and tools[-1] == added[0]
    assert added[0].origin == "retrieved" and added[0].source.endswith("stations.py:37")
    assert relevant[0].name == "find_stations_above"
    team = SeedTranscript.model_validate_json(log.transcript.model_dump_json()).teams[0]  # as written to disk
    assert [m.type for m in team.messages] == ["TextMessage", "ToolCallRequestEvent", "ToolCallExecutionEvent",
                                               "StructuredMessage[ApiListOutput]"]  # fmt: skip
    returned = team.messages[2].content[0]["content"]
    assert "find_stations_above (function) at" in returned and "stations.py:37" in returned


async def test_nothing_relevant_in_the_index_leaves_the_toolset_to_the_reconstructor(tmp_path: Path) -> None:
    index = CodeIndex(tmp_path / "empty")
    search = CreateResult(finish_reason="function_calls", cached=False, usage=RequestUsage(prompt_tokens=1, completion_tokens=1),
                          content=[FunctionCall(id="s1", name="search_code", arguments='{"query": "anything"}')])  # fmt: skip
    env = tool_use_env({"api_retriever": [search, api_list("made_up")]}, index)
    tools = list(TOOLS)
    assert await retrieve_apis(env, SeedLog(SEED), tools, index, env.library.get("api_retriever")) == ([], [])
    assert tools == TOOLS


# --- a whole run through the CLI, on the fake server -----------------------------------------


def test_tool_use_run_through_the_cli_on_the_fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(tool_use_responder) as server:
        result = CliRunner().invoke(app, [
            "run", "tool_use", "--seeds", str(CODE), "--model", "fake-model", "--base-url", server.base_url,
            "--out", str(tmp_path / "runs"), "--run-id", "t1", "--index", str(tmp_path / "index"), "--specialists", "3",
        ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "runs" / "t1"
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "completed" and info["models"]["api_retriever"] == "fake-model"
    lines = (folder / "records.jsonl").read_text().splitlines()
    records = [Record.model_validate_json(line) for line in lines]
    assert len(records) == info["totals"]["records"] >= 6
    assert all(r.meta["judge"]["score"] == 4 for r in records)  # judged like every other skill
    transcript = SeedTranscript.model_validate_json(next((folder / "transcripts").glob("*.json")).read_text())
    assert transcript.teams[-1].flow == "judge"
    assert {r.subcategory for r in records} <= {s.name for s in load_taxonomy("tool_use").subcategories}
    for record, line in zip(records, lines, strict=True):
        assert record.tools and all(t["type"] == "function" for t in record.tools)
        written = json.loads(line)["messages"]
        assert all(None not in m.values() for m in written)  # no null fields in the chat turns
        if record.subcategory != "missing_single_api":
            assert {"tool_calls", "tool_call_id"} <= {k for m in written for k in m}
        tools = [ToolSpec(name=t["function"]["name"], description="", parameters=t["function"]["parameters"],
                          returns={}, origin="extracted") for t in record.tools]  # fmt: skip
        draft = ToolTaskDraft.model_validate({**record.meta["task"], "request": record.messages[0].content,
                                              "follow_up": next((m.content for m in record.messages[1:] if m.role == "user"), "")})  # fmt: skip
        assert check_conversation(record.messages, tools, draft, record.subcategory) == []
        ids = [c["id"] for m in record.messages for c in m.tool_calls or []]
        assert ids == [m.tool_call_id for m in record.messages if m.role == "tool"]
    assert any(r.meta["refinement"] for r in records)
    assert {"single_api_missing_params", "multiple_apis_missing_params"} & {r.subcategory for r in records}
    transcript = SeedTranscript.model_validate_json((folder / records[0].meta["transcript"]).read_text())
    steps = [t.step for t in transcript.teams]
    assert steps[0] == "extract_apis" and "retrieve_apis" in steps
    assert any(s.startswith("simulate:") for s in steps) and any(s.startswith("conversation:") for s in steps)

    import datasets

    loaded = datasets.load_dataset("json", data_files=str(folder / "records.jsonl"), split="train")
    assert len(loaded) == len(records) and loaded[0]["tools"][0]["type"] == "function"


def test_tool_use_refuses_a_folder_without_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "tool_use", "--seeds", str(REPO / "examples" / "seeds"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "holds no code files" in result.stderr and "Traceback" not in result.stderr


class _ScriptedEngine:
    """Stands in for llama.cpp: answers each call with the next text, keeps what it was asked."""

    n_ctx = 8192

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.calls: list[dict[str, object]] = []

    def complete(self, **kwargs: object) -> dict[str, object]:
        self.calls.append(kwargs)
        return {"choices": [{"message": {"content": self.answers.pop(0)}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4}}  # fmt: skip


async def test_the_local_client_turns_tools_into_a_grammar_and_its_output_into_calls_then_a_reply() -> None:
    from autogen_core.models import UserMessage

    from agents.models.local import LocalChatCompletionClient

    engine = _ScriptedEngine(
        '{"name": "parse_duration", "arguments": {"text": "15m"}}', '{"reply": "That is 900 seconds."}'
    )
    client = LocalChatCompletionClient(engine, Sampling(), ModelSpec().model_info())  # type: ignore[arg-type]
    schemas = [t.openai()["function"] for t in TOOLS]
    asked = [UserMessage(content="How long is 15m in seconds?", source="user")]
    first = await client.create(asked, tools=schemas)
    assert first.finish_reason == "function_calls" and isinstance(first.content, list)
    (function_call,) = first.content
    grammar = engine.calls[0]["response_format"]["schema"]  # type: ignore[index]
    assert [o["properties"].get("name") for o in grammar["anyOf"]] == [
        {"const": "celsius_to_fahrenheit"}, {"const": "parse_duration"}, None]  # fmt: skip
    assert "You can call these tools" in engine.calls[0]["messages"][0]["content"]  # type: ignore[index]
    history = [*asked, AssistantMessage(content=[function_call], source="a"), FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(call_id=function_call.id, content="900", name="parse_duration")])]  # fmt: skip
    answer = await client.create(history, tool_choice="none")  # AutoGen's reflection after the tools ran
    assert answer.content == "That is 900 seconds."
    assert engine.calls[1]["response_format"]["schema"]["required"] == ["reply"]  # type: ignore[index]


def test_the_models_are_shown_the_seed_s_file_name_not_where_the_corpus_lives(tmp_path: Path) -> None:
    """The same code seeds in two folders get the same prompts (and so, from a deterministic model,
    the same records): the path of the user's corpus is in none of them, the extractor's or the
    search tool's results, nor in the records' seed and API sources."""

    def prompts_and_sources(folder: Path, run: Path) -> tuple[list[str], set[str]]:
        folder.mkdir(parents=True)
        for name in ("units.py", "stations.py"):
            (folder / name).write_text((CODE / name).read_text())
        with FakeOpenAIServer(tool_use_responder) as server:
            result = CliRunner().invoke(app, [
                "run", "tool_use", "--seeds", str(folder), "--model", "fake-model", "--base-url",
                server.base_url, "--out", str(run), "--run-id", "r", "--index", str(run / "index"),
            ])  # fmt: skip
            assert result.exit_code == 0, result.output
            said = [str(m.get("content")) for r in server.requests for m in r["messages"]]
        searched = [text for text in said if re.search(r"\) at \w+\.py:\d+, distance", text)]  # the search tool's results
        assert searched and not any(str(folder) in text for text in said)
        records = [json.loads(line) for line in (run / "r" / "records.jsonl").read_text().splitlines()]
        assert records and str(tmp_path) not in json.dumps(records)
        sources = {r["meta"]["seed_source"] for r in records}
        sources |= {api["source"] for r in records for api in r["meta"]["apis"]}
        return sorted({text for text in said if text.startswith("Code from ")}), sources

    near, near_sources = prompts_and_sources(tmp_path / "a" / "code", tmp_path / "run-a")
    far, far_sources = prompts_and_sources(tmp_path / "some" / "other" / "code", tmp_path / "run-b")
    assert near == far and [p.split(":")[0] for p in near] == ["Code from stations.py", "Code from units.py"]
    assert near_sources == far_sources and {"code/units.py", "code/stations.py"} <= near_sources
    assert all(re.fullmatch(r"code/\w+\.py|\w+\.py:\d+", s) for s in near_sources)  # retrieved APIs: file:line
