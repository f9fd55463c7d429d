"""3. Instruction refinement: Suggester/Editor group chats make each task more intricate, toward one
of the skill's refinement goals, round after round; each round's edit is a new pair, built on the
previous round's. `suggest_and_edit` is the loop itself, which tool use's tasks run too."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from agents.factory import build_agent
from agents.personas import Persona
from taxonomies import RefinementGoal
from teams.flows.formatting import format_instruction
from teams.flows.outputs import EditOutput, SuggestionsOutput, edit_output
from teams.flows.prompts import Prompts
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team
from teams.flows.transform import MIN_PASSAGE_CHARS
from teams.flows.types import Instruction

PROMPTS = Prompts.of_step("refine")
Pair = TypeVar("Pair")


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
    child: Callable[[Pair, BaseModel, int], Pair | None],
    usable: str,
) -> list[Pair]:
    """A Suggester/Editor group chat of `refinement_rounds` rounds on `task`: `child(latest, edit,
    round)` turns each of the Editor's answers into the next pair (None: unusable). The longest
    chain of the bounded attempts is kept; an attempt short of every round is retried."""
    rounds = env.settings.refinement_rounds
    context = {"skill": env.skill, "goal": goal.model_dump()}
    best: list[Pair] = []
    attempts = Attempts(env, log, "refinement", step)
    for record in attempts:
        agents = [
            build_agent(suggester, env.pool, SuggestionsOutput, context),
            build_agent(editor, env.pool, edit_type, context),
        ]
        outputs = await run_team(agents, [SuggestionsOutput, edit_type], task, 2 * rounds, record)
        chain: list[Pair] = []
        latest = root
        for _, output in outputs:
            made = child(latest, output, len(chain) + 1)
            if made is not None:
                latest = made
                chain.append(made)
        if len(chain) > len(best):
            best = chain
        if len(best) == rounds:
            return best
        attempts.reject(f"{len(chain)} of {rounds} rounds gave {usable}")
    attempts.give_up()
    return best


def _refined(
    parent: Instruction, edit: EditOutput, goal: RefinementGoal, round_: int, speakers: list[str]
) -> Instruction:
    keep_question = goal.name == "make_unanswerable"  # that goal edits the passage, not the question
    options = parent.options if keep_question or not edit.options else [o.strip() for o in edit.options]
    follow_ups = [str(f).strip() for f in getattr(edit, "follow_ups", [])]
    return Instruction(
        key=f"{parent.key.split('.')[0]}.{goal.name}{round_}",
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
    )


async def refine(
    env: FlowEnv, log: SeedLog, instruction: Instruction, goal: RefinementGoal, suggester: Persona, editor: Persona
) -> list[Instruction]:
    """`refinement_rounds` Suggester/Editor rounds on one instruction toward one goal."""
    rounds = env.settings.refinement_rounds
    if rounds == 0:
        return []
    edit_type = edit_output(instruction.answer_format)
    task = PROMPTS.render(
        "task", passage=instruction.passage, question=format_instruction(instruction), goal=goal, rounds=rounds,
        suggester=suggester.name, editor=editor.name, suggestions_hint=json_hint(SuggestionsOutput),
        edit_hint=json_hint(edit_type),
    )  # fmt: skip
    speakers = [suggester.name, editor.name]

    def child(parent: Instruction, edit: BaseModel, round_: int) -> Instruction | None:
        if isinstance(edit, EditOutput) and len(edit.passage.strip()) >= MIN_PASSAGE_CHARS:
            return _refined(parent, edit, goal, round_, speakers)
        return None

    return await suggest_and_edit(
        env, log, root=instruction, step=f"{instruction.key}:{goal.name}", task=task, goal=goal,
        suggester=suggester, editor=editor, edit_type=edit_type, child=child, usable="a usable edit",
    )  # fmt: skip
