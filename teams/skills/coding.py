"""Coding: the seed becomes a programming context (a problem statement, a code snippet, API
documentation); tasks are to write, fix, test, explain or refactor Python; code must parse.

Run it as `python -m teams.skills.coding --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.checks import code_blocks
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script


def no_stub(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """Code that parses but does nothing (`pass`, `...`) teaches nothing."""
    for _, code in code_blocks(answer.final_answer):
        body = [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
        if body and all(line in ("pass", "...") or line.startswith(("def ", "class ")) for line in body):
            return ["the code is a stub (only signatures and pass)"]
    return []


SKILL = PromptSkill(
    name="coding",
    answer_checks=[no_stub],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
