"""Tool use's seed instruction generation and refinement: specialists write tasks over the toolset,
one per task type the toolset can carry; Suggester/Editor rounds, reading a task and the
conversation it gave, make it need more steps."""

from __future__ import annotations

import json
import random

from pydantic import BaseModel

from agents.factory import build_agent
from agents.personas import Persona
from taxonomies import RefinementGoal, Subcategory
from teams.flows.outputs import SuggestionsOutput
from teams.flows.refine import suggest_and_edit
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team, weighted_pick
from teams.flows.types import Message
from teams.skills.tool_use.checks import check_task
from teams.skills.tool_use.prompts import PROMPTS
from teams.skills.tool_use.schemas import (
    ToolSpec,
    ToolTask,
    ToolTaskDraft,
    feasible,
    task_schema,
    tasks_schema,
    toolset_text,
)


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
    task = PROMPTS.render(
        "write_tasks", toolset=toolset_text(tools), count=count, task_type=sub, json_hint=json_hint(output_type)
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


def conversation_text(messages: list[Message]) -> str:
    """A conversation as the Suggester and Editor read it: who said what, each call and its result."""
    lines = []
    for m in messages:
        for call in m.tool_calls or []:
            lines.append(f"assistant calls {call['function']['name']}({call['function']['arguments']})")
        if m.role == "tool":
            lines.append(f"tool {m.name} returned: {m.content}")
        elif m.content:
            lines.append(f"{m.role}: {m.content}")
    return "\n".join(lines)


async def refine_task(
    env: FlowEnv, log: SeedLog, parent: ToolTask, conversation: list[Message], tools: list[ToolSpec],
    goal: RefinementGoal, suggester: Persona, editor: Persona,
) -> list[ToolTask]:  # fmt: skip
    """Suggester/Editor rounds toward the goal (more steps), reading the task and the conversation
    it gave; each suggestion the Editor implements is a new task, to be conversed again."""
    rounds, count = env.settings.refinement_rounds, env.settings.suggestions_per_round
    if rounds == 0:
        return []
    edit_type = task_schema(parent.subcategory, tools, min_apis=len(parent.draft.apis))
    task = PROMPTS.render(
        "refine_task", toolset=toolset_text(tools), task_type=parent.subcategory, task=_task_text(parent.draft),
        conversation=conversation_text(conversation), goal=goal, rounds=rounds, count=count, suggester=suggester.name,
        editor=editor.name, suggestions_hint=json_hint(SuggestionsOutput), edit_hint=json_hint(edit_type),
    )  # fmt: skip

    def child(latest: ToolTask, edit: BaseModel, round_: int, index: int, suggestion: str) -> ToolTask | None:
        if not isinstance(edit, ToolTaskDraft) or check_task(edit, parent.subcategory, tools):
            return None
        return ToolTask(
            key=f"{parent.key.split('.')[0]}.{goal.name}{round_}-{index}", subcategory=parent.subcategory, draft=edit,
            writer=parent.writer, refinement_goal=goal.name, refinement_round=round_, parent=latest.key,
            refined_by=[suggester.name, editor.name], suggestion=suggestion.strip() or None,
        )  # fmt: skip

    return await suggest_and_edit(
        env, log, root=parent, step=f"{parent.key}:{goal.name}", task=task, goal=goal, suggester=suggester,
        editor=editor, edit_type=edit_type, child=child, usable="a task that keeps its promise",
    )  # fmt: skip
