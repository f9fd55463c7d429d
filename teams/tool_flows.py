"""Tool use through the method's flows, each step an AutoGen team whose every message lands in
the seed's transcript:

1. content transformation: an API extractor documents the code seed; an API retriever calls its
   search tool (a FunctionTool over the code index) and documents the related code it finds;
   where the index gives nothing relevant, a library reconstructor imagines sibling APIs;
2. seed instruction generation: one specialist per task type writes tasks over the toolset;
3. refinement: a Suggester/Editor pair makes each task need more steps;
4. the conversation: the assistant gets the toolset as real AutoGen tools and calls them; each
   call is answered by a tool-simulator agent (seed code is never executed); the checks of
   teams.tool_checks decide whether the conversation is kept, with bounded retries.
"""

from __future__ import annotations

import ast
import asyncio
import json
import random
from collections.abc import Sequence
from typing import Any

from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent, ToolCallRequestEvent
from autogen_core.tools import FunctionTool

from agents.factory import build_agent
from agents.personas import Persona
from agents.tools import SimulatedTool
from retrieval.code_index import CodeIndex, Hit
from retrieval.seeds import Seed
from taxonomies import RefinementGoal, Subcategory
from teams.flows import Attempts, FlowEnv, SeedLog, _json_hint, run_team, stream_into, weighted_pick
from teams.schemas import Message, SuggestionsOutput, TeamTranscript
from teams.tool_checks import check_api_doc, check_conversation, check_task, schema_problems
from teams.tool_schemas import (
    ApiDoc,
    ApiListOutput,
    SimulatedResult,
    ToolSpec,
    ToolTask,
    ToolTaskDraft,
    feasible,
    result_schema,
    task_schema,
    tasks_schema,
)

SEARCH_K = 5
# Cosine distance under which a search result counts as related code (MiniLM: about 0.3 for a
# near paraphrase, 0.6-0.7 for the same topic, 0.9+ for unrelated code).
RELEVANT_DISTANCE = 0.8
MAX_TOOLSET = 8
MAX_TOOL_ITERATIONS = 5


def _toolset_text(tools: Sequence[ToolSpec]) -> str:
    return "\n".join(f"- {t.brief()}" for t in tools)


def _key(name: str) -> str:
    return name.rsplit(".", 1)[-1].replace("_", "").lower()


def _add(
    tools: list[ToolSpec], docs: Sequence[ApiDoc], origin: str, sources: dict[str, str] | None = None
) -> list[ToolSpec]:
    """The docs that pass their checks and are new to the toolset, appended to it."""
    added = []
    for doc in docs:
        if check_api_doc(doc) or any(_key(t.name) == _key(doc.name) for t in tools) or len(tools) >= MAX_TOOLSET:
            continue
        spec = ToolSpec.from_doc(doc, origin, (sources or {}).get(_key(doc.name), ""))
        tools.append(spec)
        added.append(spec)
    return added


def signatures(code: str) -> list[str]:
    """The Python functions and methods of a seed as one-line signatures (a hint for the extractor)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            doc = (ast.get_docstring(node) or "").strip().split("\n")[0]
            lines.append(f"def {node.name}({ast.unparse(node.args)})" + (f": {doc}" if doc else ""))
    return lines


# --- 1. content transformation: document, retrieve, reconstruct ------------------------------


async def extract_apis(env: FlowEnv, log: SeedLog, seed: Seed, extractor: Persona) -> list[ToolSpec]:
    """The seed's APIs as documented by the extractor; empty when every attempt failed."""
    hints = signatures(seed.text)
    task = (
        f"Code from {seed.source}:\n```\n{seed.text}\n```\n\n"
        + ("Its functions:\n" + "\n".join(hints) + "\n\n" if hints else "")
        + f"Document its public functions as APIs. {_json_hint(ApiListOutput)}"
    )
    attempts = Attempts(env, log, "content_transformation", "extract_apis")
    for record in attempts:
        outputs = await run_team([build_agent(extractor, env.pool, ApiListOutput, {"skill": env.skill})],
                                 [ApiListOutput], task, 1, record)  # fmt: skip
        tools: list[ToolSpec] = []
        for _, output in outputs:
            if isinstance(output, ApiListOutput):
                _add(tools, output.apis, "extracted", {_key(h.split("(")[0][4:]): seed.source for h in hints})
        if tools:
            return tools
        attempts.reject("no well-formed API documentation")
    attempts.give_up()
    return []


async def retrieve_apis(
    env: FlowEnv, log: SeedLog, tools: list[ToolSpec], index: CodeIndex, retriever: Persona
) -> tuple[list[ToolSpec], list[Hit]]:
    """The retriever searches the index with its tool and documents what it found; returns the
    APIs it added (only ones naming code the search returned) and the related hits."""
    searched: list[Hit] = []

    async def search_code(query: str) -> str:
        """Search the code index by meaning; returns the nearest functions, classes and methods with file:line."""
        hits = await asyncio.to_thread(index.query, query, SEARCH_K + len(tools))
        hits = [h for h in hits if all(_key(h.name) != _key(t.name) for t in tools)][:SEARCH_K]
        searched.extend(hits)
        if not hits:
            return "no results"
        return "\n\n".join(
            f"{h.name} ({h.kind}) at {h.location}, distance {h.distance:.2f}:\n{h.text[:700]}" for h in hits
        )

    task = (
        f"The toolset so far:\n{_toolset_text(tools)}\n\nCall search_code with a short query about what this toolset "
        f"does, then document the results that belong with it. {_json_hint(ApiListOutput)}"
    )
    attempts = Attempts(env, log, "content_transformation", "retrieve_apis")
    for record in attempts:
        searched.clear()
        search = FunctionTool(search_code, description=search_code.__doc__ or "", name="search_code", strict=True)
        agent = build_agent(retriever, env.pool, ApiListOutput, {"skill": env.skill}, tools=[search], force_tools=True)
        outputs = await run_team([agent], [ApiListOutput], task, 1, record)
        if not searched and not any(m.type == "ToolCallExecutionEvent" for m in record.messages):
            attempts.reject("the retriever did not call search_code")
        else:
            relevant = [h for h in searched if h.distance <= RELEVANT_DISTANCE]
            if not relevant:
                return [], []  # nothing related in the index: the library reconstructor takes over
            found = {_key(h.name): h.location for h in relevant}
            docs = [d for _, o in outputs if isinstance(o, ApiListOutput) for d in o.apis if _key(d.name) in found]
            added = _add(tools, docs, "retrieved", found)
            if added:
                return added, relevant
            attempts.reject("documented none of the related code the search returned")
    attempts.give_up()
    return [], []


async def reconstruct_apis(env: FlowEnv, log: SeedLog, tools: list[ToolSpec], reconstructor: Persona) -> list[ToolSpec]:
    """APIs the library most likely also has, imagined from the toolset."""
    task = f"APIs of the library:\n{_toolset_text(tools)}\n\nWrite 2 or 3 other APIs it would have. {_json_hint(ApiListOutput)}"
    attempts = Attempts(env, log, "content_transformation", "reconstruct_apis")
    for record in attempts:
        outputs = await run_team([build_agent(reconstructor, env.pool, ApiListOutput, {"skill": env.skill})],
                                 [ApiListOutput], task, 1, record)  # fmt: skip
        added = [s for _, o in outputs if isinstance(o, ApiListOutput) for s in _add(tools, o.apis, "reconstructed")]
        if added:
            return added
        attempts.reject("no new well-formed API")
    attempts.give_up()
    return []


# --- 2. seed instruction generation ----------------------------------------------------------


def pick_task_writers(env: FlowEnv, rng: random.Random, tools: list[ToolSpec]) -> list[tuple[Persona, Subcategory]]:
    """Specialists whose task types the toolset can carry, drawn by weight."""
    suitable: dict[str, list[Subcategory]] = {}
    for writer in env.library.pool("instruction_writer", env.skill):
        types = [env.taxonomy.subcategory(t) for t in writer.instruction_types]
        fitting = [t for t in types if feasible(t.name, tools)]
        if fitting:
            suitable[writer.name] = fitting
    chosen = weighted_pick(rng, [env.library.get(n) for n in suitable], env.settings.specialists_per_seed)
    return [(writer, rng.choice(suitable[writer.name])) for writer in chosen]


def _task_text(draft: ToolTaskDraft) -> str:
    return json.dumps(draft.model_dump(), ensure_ascii=False)


async def write_tasks(
    env: FlowEnv, log: SeedLog, tools: list[ToolSpec], writer: Persona, sub: Subcategory
) -> list[ToolTask]:
    count = env.settings.instructions_per_writer
    output_type = tasks_schema(sub.name, tools)
    task = (
        f"The APIs the assistant has:\n{_toolset_text(tools)}\n\nWrite {count} tasks of the type {sub.name}: "
        f"{sub.description} {_json_hint(output_type)}"
    )
    context = {"skill": env.skill, "question_type": sub.model_dump(), "count": count}
    attempts = Attempts(env, log, "instruction_generation", f"{writer.name}:{sub.name}")
    for record in attempts:
        outputs = await run_team([build_agent(writer, env.pool, output_type, context)], [output_type], task, 1, record)
        drafts = [d for _, o in outputs if hasattr(o, "tasks") for d in o.tasks[:count]]
        problems = [check_task(d, sub.name, tools) for d in drafts]
        kept = [d for d, p in zip(drafts, problems, strict=True) if not p]
        if kept:
            return [ToolTask(key=f"{sub.name}-{i}", subcategory=sub.name, draft=d, writer=writer.name)
                    for i, d in enumerate(kept, start=1)]  # fmt: skip
        attempts.reject(f"no task keeps its promise: {problems[0][0]}" if problems else "no task")
    attempts.give_up()
    return []


# --- 3. refinement ---------------------------------------------------------------------------


async def refine_task(
    env: FlowEnv, log: SeedLog, parent: ToolTask, tools: list[ToolSpec], goal: RefinementGoal,
    suggester: Persona, editor: Persona,
) -> list[ToolTask]:  # fmt: skip
    """Suggester/Editor rounds toward the goal (more steps); each round's edit is a new task."""
    rounds = env.settings.refinement_rounds
    if rounds == 0:
        return []
    edit_type = task_schema(parent.subcategory, tools, min_apis=len(parent.draft.apis))
    context = {"skill": env.skill, "goal": goal.model_dump()}
    task = (
        f"The APIs the assistant has:\n{_toolset_text(tools)}\n\nTask ({parent.subcategory}):\n{_task_text(parent.draft)}\n\n"
        f"Refinement goal: {goal.name}: {goal.description}\nFor {rounds} round(s): {suggester.name} suggests changes "
        f"({_json_hint(SuggestionsOutput)}), then {editor.name} writes the new task ({_json_hint(edit_type)})."
    )
    best: list[ToolTask] = []
    attempts = Attempts(env, log, "refinement", f"{parent.key}:{goal.name}")
    for record in attempts:
        agents = [
            build_agent(suggester, env.pool, SuggestionsOutput, context),
            build_agent(editor, env.pool, edit_type, context),
        ]
        outputs = await run_team(agents, [SuggestionsOutput, edit_type], task, 2 * rounds, record)
        chain: list[ToolTask] = []
        latest = parent
        for _, output in outputs:
            if isinstance(output, ToolTaskDraft) and not check_task(output, parent.subcategory, tools):
                latest = ToolTask(
                    key=f"{parent.key.split('.')[0]}.{goal.name}{len(chain) + 1}", subcategory=parent.subcategory,
                    draft=output, writer=parent.writer, refinement_goal=goal.name, refinement_round=len(chain) + 1,
                    parent=latest.key, refined_by=[suggester.name, editor.name],
                )  # fmt: skip
                chain.append(latest)
        if len(chain) > len(best):
            best = chain
        if len(best) == rounds:
            return best
        attempts.reject(f"{len(chain)} of {rounds} rounds gave a task that keeps its promise")
    attempts.give_up()
    return best


# --- 4. the conversation ---------------------------------------------------------------------


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
        prompt = (
            f"API: {json.dumps(spec.openai()['function'], ensure_ascii=False)}\nIt returns {spec.returns['type']}: "
            f"{spec.returns['description']}\n\nCall arguments: {json.dumps(args, ensure_ascii=False)}\n\n"
            f'Write what it returns. Answer with JSON only: {{"result": ...}}'
        )
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
