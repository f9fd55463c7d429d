"""Tool use's conversation: the assistant gets the toolset as real AutoGen tools and calls them;
each call is answered by a tool-simulator agent (seed code is never executed); the checks of
teams.skills.tool_use.checks decide whether the conversation is kept, with bounded retries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent

from agents.factory import build_agent
from agents.personas import Persona
from agents.tools import SimulatedTool
from teams.flows.runtime import FlowEnv, SeedLog, run_team, stream_into
from teams.flows.types import Message, TeamTranscript
from teams.skills.tool_use.checks import check_conversation, schema_problems
from teams.skills.tool_use.prompts import PROMPTS
from teams.skills.tool_use.schemas import SimulatedResult, ToolSpec, ToolTask, result_schema

MAX_TOOL_ITERATIONS = 5


def _openai_messages(items: Sequence[Any], assistant: str) -> list[Message]:
    """AutoGen's events of a run as OpenAI-format chat messages."""
    messages: list[Message] = []
    for item in items:
        if isinstance(item, ToolCallRequestEvent):
            calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                     for c in item.content]  # fmt: skip
            messages.append(Message(role="assistant", content="", tool_calls=calls))
        elif isinstance(item, ToolCallExecutionEvent):
            messages += [
                Message(role="tool", content=r.content, tool_call_id=r.call_id, name=r.name) for r in item.content
            ]
        elif isinstance(item, TextMessage):
            role = "assistant" if item.source == assistant else "user"
            messages.append(Message(role=role, content=item.content))
    return messages


async def converse(
    env: FlowEnv, log: SeedLog, task: ToolTask, tools: list[ToolSpec], assistant: Persona, simulator: Persona
) -> tuple[list[Message], int] | None:
    """The user asks, the assistant calls tools (answered by the simulator), the assistant answers;
    a withheld value is given when asked for. Returns the messages that pass the checks, with tokens."""
    by_name = {t.name: t for t in tools}
    draft = task.draft

    async def simulate(name: str, args: dict[str, Any]) -> str:
        spec = by_name[name]
        output_type = result_schema(spec)
        prompt = PROMPTS.render(
            "simulate", api=json.dumps(spec.openai()["function"], ensure_ascii=False), returns=spec.returns,
            arguments=json.dumps(args, ensure_ascii=False),
        )  # fmt: skip
        for attempt in range(1, env.settings.max_attempts + 1):
            record = TeamTranscript(flow="answer", step=f"simulate:{task.key}:{name}", attempt=attempt, participants=[])
            log.transcript.teams.append(record)
            agent = build_agent(simulator, env.pool, output_type, {"skill": env.skill})
            outputs = await run_team([agent], [output_type], prompt, 1, record)
            results = [o.result for _, o in outputs if isinstance(o, SimulatedResult)]
            if results:
                return json.dumps(results[0], ensure_ascii=False)
        simulation_failed.append(name)
        return json.dumps({"error": "the service did not answer"})

    problems = ["no conversation"]
    for attempt in range(1, env.settings.max_attempts + 1):
        simulation_failed: list[str] = []
        offered = [SimulatedTool(t.name, t.description, t.parameters, simulate, schema_problems) for t in tools]
        iterations = min(MAX_TOOL_ITERATIONS, max(1, len(draft.apis)) + 1)
        agent, info = build_agent(
            assistant, env.pool, None, {"skill": env.skill}, tools=offered, max_tool_iterations=iterations
        )
        record = TeamTranscript(
            flow="answer", step=f"conversation:{task.key}", attempt=attempt, participants=[info.model_dump()]
        )
        log.transcript.teams.append(record)
        items = await stream_into(agent, draft.request, record)
        if draft.withheld and record.status == "ok":
            items += await stream_into(agent, draft.follow_up, record)
        messages = _openai_messages(items, assistant.name)
        if record.status != "ok":
            problems = [record.error or "error"]
            continue
        problems = check_conversation(messages, tools, draft, task.subcategory)
        problems += [f"the simulator gave no result for '{name}'" for name in simulation_failed]
        if not problems:
            tokens = sum(m.prompt_tokens + m.completion_tokens for m in record.messages)
            return messages, tokens
        record.status, record.error = "invalid", "; ".join(problems)
    log.fail("answer", f"conversation:{task.key}", "; ".join(problems))
    return None
