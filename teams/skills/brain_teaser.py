"""Brain teaser: a self-contained puzzle inspired by the seed (riddle, logic or number puzzle,
lateral thinking) and a worked solution.

Run it as `python -m teams.skills.brain_teaser --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill, self_contained
from teams.skills.script import run_as_script


def solution_is_worked(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """A teaser's answer teaches through its reasoning, not its punchline."""
    words = len(answer.explanation.split())
    return [] if words >= 15 else [f"the solution must explain its reasoning (15+ words), got {words}"]


SKILL = PromptSkill(
    name="brain_teaser",
    draft_checks=[self_contained],
    answer_checks=[solution_is_worked],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
