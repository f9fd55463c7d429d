"""Analytical reasoning: the seed becomes a scenario with rules (an ordering or grouping game,
conditional statements, a data table); questions require deduction from them.

Run it as `python -m teams.skills.analytical_reasoning --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script


def deduction_is_shown(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    words = len(answer.explanation.split())
    return [] if words >= 15 else [f"the answer must show its deduction (15+ words), got {words}"]


SKILL = PromptSkill(
    name="analytical_reasoning",
    answer_checks=[deduction_is_shown],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
