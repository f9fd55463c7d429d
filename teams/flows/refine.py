"""3. Instruction refinement: Suggester/Editor group chats make each task more intricate, toward each
of the skill's refinement goals (or as many as the run asks), round after round. Each round the
Suggester proposes `suggestions_per_round` suggestions and the Editor implements every one, each a
new pair; the next round builds on the round's first new pair. `suggest_and_edit` is the loop
itself, which tool use's tasks run too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from agents.factory import build_agent
from agents.personas import Persona
from taxonomies import RefinementGoal
from teams.flows.formatting import format_instruction
from teams.flows.outputs import (
    EditOutput,
    EditsOutput,
    SuggestionsOutput,
    edit_output,
    edits_output,
    suggestions_output,
)
from teams.flows.prompts import Prompts
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team
from teams.flows.transform import MIN_PASSAGE_CHARS
from teams.flows.types import Instruction

PROMPTS = Prompts.of_step("refine")
Pair = TypeVar("Pair")
#: child(parent, edit, round, index, suggestion): the Editor's index-th edit of a round as a new
#: pair built on `parent` (None: unusable)
Child = Callable[[Pair, BaseModel, int, int, str], Pair | None]


def goal_plan(env: FlowEnv, offset: int, count: int) -> list[list[RefinementGoal]]:
    """The goals each of `count` pairs is refined toward: all of the taxonomy's, or N of them taken
    in turn from `offset` (N = 1 is the round-robin of one goal per pair)."""
    goals = env.taxonomy.refinement_goals
    if not goals or env.settings.refinement_rounds == 0:
        return [[] for _ in range(count)]
    per = env.settings.goals_per_instruction or env.taxonomy.goals_per_instruction
    n = len(goals) if per == "all" else min(per, len(goals))
    return [[goals[(offset + i + j) % len(goals)] for j in range(n)] for i in range(count)]


def _children(outputs: Sequence[tuple[str, BaseModel]], root: Any, child: Child[Any]) -> tuple[list[Any], int]:
    """The new pairs of one group chat, and how many of its rounds gave at least one."""
    made: list[Any] = []
    latest, suggestions, round_, rounds_done = root, [], 0, 0
    for _, output in outputs:
        if isinstance(output, SuggestionsOutput):
            suggestions = list(output.suggestions)
        elif isinstance(output, EditsOutput):
            round_ += 1
            kids = [
                child(latest, edit, round_, k, suggestions[k - 1] if k <= len(suggestions) else "")
                for k, edit in enumerate(output.edits, start=1)
            ]
            kids = [kid for kid in kids if kid is not None]
            if kids:
                made += kids
                latest, rounds_done = kids[0], rounds_done + 1
    return made, rounds_done


async def suggest_and_edit(
    env: FlowEnv,
    log: SeedLog,
    *,
    root: Pair,
    step: str,
    task: str,
    goal: RefinementGoal,
    suggester: Persona,
    editor: Persona,
    edit_type: type[BaseModel],
    child: Child[Pair],
    usable: str,
) -> list[Pair]:
    """A Suggester/Editor group chat of `refinement_rounds` rounds on `task`, each round up to
    `suggestions_per_round` new pairs (see `Child`). The attempt with the most rounds that gave a
    usable pair is kept (then the most pairs); an attempt short of every round is retried."""
    rounds, count = env.settings.refinement_rounds, env.settings.suggestions_per_round
    suggestions_type, edits_type = suggestions_output(count), edits_output(edit_type, count)
    context = {"skill": env.skill, "goal": goal.model_dump(), "suggestions": count}
    best: tuple[int, list[Pair]] = (0, [])
    attempts = Attempts(env, log, "refinement", step)
    for record in attempts:
        agents = [
            build_agent(suggester, env.pool, suggestions_type, context),
            build_agent(editor, env.pool, edits_type, context),
        ]
        outputs = await run_team(agents, [suggestions_type, edits_type], task, 2 * rounds, record)
        made, done = _children(outputs, root, child)
        if (done, len(made)) > (best[0], len(best[1])):
            best = (done, made)
        if done == rounds:
            return made
        attempts.reject(f"{done} of {rounds} rounds gave {usable}")
    attempts.give_up()
    return best[1]


def _refined(
    parent: Instruction, edit: EditOutput, goal: RefinementGoal, round_: int, index: int, suggestion: str,
    speakers: list[str],
) -> Instruction:  # fmt: skip
    keep_question = goal.name == "make_unanswerable"  # that goal edits the passage, not the question
    options = parent.options if keep_question or not edit.options else [o.strip() for o in edit.options]
    follow_ups = [str(f).strip() for f in getattr(edit, "follow_ups", [])]
    return Instruction(
        key=f"{parent.key.split('.')[0]}.{goal.name}{round_}-{index}",
        passage=edit.passage.strip(),
        question=parent.question if keep_question else edit.question.strip(),
        options=options,
        follow_ups=parent.follow_ups if keep_question or not follow_ups else follow_ups,
        subcategory=parent.subcategory,
        answer_format=parent.answer_format,
        writer=parent.writer,
        refinement_goal=goal.name,
        refinement_round=round_,
        parent=parent.key,
        refined_by=speakers,
        suggestion=suggestion.strip() or None,
    )


async def refine(
    env: FlowEnv, log: SeedLog, instruction: Instruction, goal: RefinementGoal, suggester: Persona, editor: Persona
) -> list[Instruction]:
    """`refinement_rounds` Suggester/Editor rounds on one instruction toward one goal: up to
    `suggestions_per_round` new pairs a round."""
    rounds, count = env.settings.refinement_rounds, env.settings.suggestions_per_round
    if rounds == 0:
        return []
    edit_type = edit_output(instruction.answer_format)
    task = PROMPTS.render(
        "task", passage=instruction.passage, question=format_instruction(instruction), goal=goal, rounds=rounds,
        count=count, suggester=suggester.name, editor=editor.name,
        suggestions_hint=json_hint(SuggestionsOutput), edit_hint=json_hint(edit_type),
    )  # fmt: skip
    speakers = [suggester.name, editor.name]

    def child(parent: Instruction, edit: BaseModel, round_: int, index: int, suggestion: str) -> Instruction | None:
        if isinstance(edit, EditOutput) and len(edit.passage.strip()) >= MIN_PASSAGE_CHARS:
            return _refined(parent, edit, goal, round_, index, suggestion, speakers)
        return None

    return await suggest_and_edit(
        env, log, root=instruction, step=f"{instruction.key}:{goal.name}", task=task, goal=goal,
        suggester=suggester, editor=editor, edit_type=edit_type, child=child, usable="a usable edit",
    )  # fmt: skip
