"""Tool use's conversation: the assistant gets the toolset as real AutoGen tools and calls them;
each call is answered by a tool-simulator agent (seed code is never executed); the checks of
teams.skills.tool_use.checks decide whether the conversation is kept, with bounded retries.
After the assistant's answer, a user simulator reads the conversation and may ask for a next
step that builds on it (up to `turns` user turns in all), so conversations run past the first
request whatever the task type."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent

from agents.factory import BuiltAgent, build_agent
from agents.personas import Persona
from agents.tools import SimulatedTool
from teams.flows.checks.conversation import refers_to_earlier
from teams.flows.checks.text import distinct
from teams.flows.outputs import UserTurnOutput
from teams.flows.runtime import FlowEnv, SeedLog, json_hint, run_team, stream_into
from teams.flows.types import Message, TeamTranscript
from teams.skills.tool_use.checks import check_conversation, schema_problems
from teams.skills.tool_use.prompts import PROMPTS
from teams.skills.tool_use.schemas import SimulatedResult, ToolSpec, ToolTask, result_schema, toolset_text
from teams.skills.tool_use.tasks import conversation_text

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


async def next_steps(
    env: FlowEnv,
    log: SeedLog,
    task: ToolTask,
    tools: list[ToolSpec],
    assistant: tuple[Any, BuiltAgent],
    user: Persona,
    messages: list[Message],
) -> tuple[list[Message], int]:
    """The conversation carried on, while the user simulator asks for a next step, up to `turns`
    user turns in all: a step is kept when the user picks up words of an earlier answer and asks
    nothing asked before, and the assistant calls a tool and answers, the whole passing the checks
    again; otherwise the conversation ends where it was. Returns it with the tokens the steps took."""
    agent, info = assistant
    tokens = 0
    for n in range(1, env.settings.turns - sum(m.role == "user" for m in messages) + 1):
        asked = TeamTranscript(flow="answer", step=f"user_turn:{task.key}:{n}", attempt=1, participants=[])
        log.transcript.teams.append(asked)
        prompt = PROMPTS.render(
            "next_step", toolset=toolset_text(tools), conversation=conversation_text(messages),
            json_hint=json_hint(UserTurnOutput),
        )  # fmt: skip
        outputs = await run_team([build_agent(user, env.pool, UserTurnOutput, {"skill": env.skill})],
                                 [UserTurnOutput], prompt, 1, asked)  # fmt: skip
        tokens += sum(m.prompt_tokens + m.completion_tokens for m in asked.messages)
        turn = next((o for _, o in outputs if isinstance(o, UserTurnOutput)), None)
        if turn is None or turn.done:
            break
        answers = "\n".join(m.content for m in messages if m.role == "assistant" and m.content)
        if not distinct([m.content for m in messages if m.role == "user"] + [turn.message]):
            asked.status, asked.error = "invalid", "the user asks what it asked before"
            break
        if not refers_to_earlier(turn.refers_to, answers):
            asked.status, asked.error = "invalid", f"the user picks up {turn.refers_to[:40]!r}, which no answer says"
            break
        step = TeamTranscript(
            flow="answer", step=f"next_step:{task.key}:{n}", attempt=1, participants=[info.model_dump()]
        )
        log.transcript.teams.append(step)
        new = _openai_messages(await stream_into(agent, turn.message, step), info.name)
        tokens += sum(m.prompt_tokens + m.completion_tokens for m in step.messages)
        problems = [step.error or "error"] if step.status != "ok" else []
        problems = problems or check_conversation(messages + new, tools, task.draft, task.subcategory)
        if not problems and not any(m.tool_calls for m in new):
            problems = ["the next step called no tool"]
        if problems:
            step.status, step.error = "invalid", "; ".join(problems)
            break
        messages = messages + new
    return messages, tokens


async def converse(
    env: FlowEnv,
    log: SeedLog,
    task: ToolTask,
    tools: list[ToolSpec],
    assistant: Persona,
    simulator: Persona,
    user: Persona | None = None,
) -> tuple[list[Message], int] | None:
    """The user asks, the assistant calls tools (answered by the simulator), the assistant answers;
    a withheld value is given when asked for; then, with a `user` simulator, next steps (see
    next_steps). Returns the messages that pass the checks, with tokens."""
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
        built = agent, info = build_agent(
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
            if user is not None:
                messages, more = await next_steps(env, log, task, tools, built, user, messages)
                tokens += more
            return messages, tokens
        record.status, record.error = "invalid", "; ".join(problems)
    log.fail("answer", f"conversation:{task.key}", "; ".join(problems))
    return None
