"""Few-shot reasoning: a prompt of worked examples (built from the seed's facts) and a new query
solved the same way, step by step.

Run it as `python -m teams.skills.few_shot_reasoning --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.checks import promised_examples
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script


def holds_promised_examples(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """The prompt as the user sees it holds as many worked examples as it says (after refinement too)."""
    promised = promised_examples(instruction.question)
    if len(instruction.options) < 2:
        return ["a few-shot prompt needs at least 2 worked examples"]
    if promised is not None and promised != len(instruction.options):
        return [f"the prompt promises {promised} examples but holds {len(instruction.options)}"]
    return []


SKILL = PromptSkill(
    name="few_shot_reasoning",
    answer_checks=[holds_promised_examples],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
