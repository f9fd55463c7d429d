"""Fermi: a self-contained estimation question inspired by the seed, answered with stated
assumptions, a chain of rough numbers and an order-of-magnitude estimate.

Run it as `python -m teams.skills.fermi --seeds PATH`.
"""

from __future__ import annotations

from teams.skills.base import PromptSkill, self_contained
from teams.skills.script import run_as_script

# The estimate format's checks (teams.flows.checks) do the rest: a number or order of magnitude in the
# final answer, and assumptions with numbers in the explanation.
SKILL = PromptSkill(
    name="fermi",
    draft_checks=[self_contained],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
