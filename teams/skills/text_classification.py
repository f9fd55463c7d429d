"""Text classification: the seed becomes a text of some kind (a review, a post, a ticket); the
task gives a label set; the answer is exactly one label from it.

Run it as `python -m teams.skills.text_classification --seeds PATH`.
"""

from __future__ import annotations

from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

# The label format's checks (teams.flows.checks) hold it all: a label set of distinct labels in the
# instruction, and a final answer that is exactly one of them (the teacher's schema enforces it).
SKILL = PromptSkill(
    name="text_classification",
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
