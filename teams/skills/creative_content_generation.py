"""Creative content generation: an original piece (story, poem, speech, ad, letter, scene) built
on the seed's material, written to the brief.

Run it as `python -m teams.skills.creative_content_generation --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

VERSE = {"poem", "song_lyrics", "limerick_or_haiku"}
MIN_VERSE_LINES = 3


def verse_has_lines(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    lines = [line for line in answer.final_answer.splitlines() if line.strip()]
    if instruction.subcategory in VERSE and len(lines) < MIN_VERSE_LINES:
        return [f"verse needs at least {MIN_VERSE_LINES} lines, got {len(lines)}"]
    return []


SKILL = PromptSkill(
    name="creative_content_generation",
    answer_checks=[verse_has_lines],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
