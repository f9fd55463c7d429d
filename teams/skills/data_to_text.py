"""Data to text: the seed's facts become structured data (a table, JSON, key-value pairs,
triples); the task is to write text from it, stating only what the data holds.

Run it as `python -m teams.skills.data_to_text --seeds PATH`.
"""

from __future__ import annotations

import json
import re

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

NUMBER = re.compile(r"\d+(?:\.\d+)?")
STRUCTURED_LINE = re.compile(r"\||^\s*[\w\s()/-]{1,40}:\s*\S|^[^,\n]+(,[^,\n]+){2,}$|^\s*[-*]\s|\(.+,.+,.+\)|[{}\[\]]")


def numbers_in(text: str) -> set[str]:
    """Numbers as written, without thousands separators ("20,000" and "20000" are one number)."""
    return {n.rstrip("0").rstrip(".") if "." in n else n for n in NUMBER.findall(text.replace(",", ""))}


def is_structured(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 3 and sum(bool(STRUCTURED_LINE.search(line)) for line in lines) >= 0.6 * len(lines)


def states_only_the_data(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if not is_structured(instruction.passage):
        return ["the seed was not turned into structured data (a table, JSON, key-value pairs or triples)"]
    invented = numbers_in(answer.final_answer) - numbers_in(instruction.passage) - numbers_in(instruction.question)
    return [f"the text states numbers the data does not hold: {sorted(invented)[:5]}"] if invented else []


SKILL = PromptSkill(
    name="data_to_text",
    answer_checks=[states_only_the_data],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
