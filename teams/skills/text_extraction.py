"""Text extraction: pull named fields out of a text (entities, dates, amounts, relations) into a
JSON object with exactly the keys asked for, every value taken from the text.

Run it as `python -m teams.skills.text_extraction --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.checks import content_words, parse_json_object
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script


def _scalars(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def values_come_from_the_text(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """Each extracted value is (mostly) made of the text's own words: extraction, not invention."""
    data = parse_json_object(answer.final_answer) or {}
    source_words = content_words(instruction.passage)
    source_flat = instruction.passage.lower().replace(",", "")
    for value in _scalars(data):
        words = content_words(value)
        copied = value.lower().replace(",", "") in source_flat
        if value.strip() and not copied and words and len(words & source_words) < 0.5 * len(words):
            return [f"the value {value[:40]!r} is not in the text"]
    return []


SKILL = PromptSkill(
    name="text_extraction",
    answer_checks=[values_come_from_the_text],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
