"""Reading comprehension: a passage, a question about it (LSAT-style and more), the teacher's
answer. The generic flow and the taxonomy's `record:` do it all; the answer formats' checks
(teams.flows.checks) screen every draft and answer.

Run it as `python -m teams.skills.reading_comprehension --seeds PATH` (the same options as
`agentinstruct run reading_comprehension`).
"""

from __future__ import annotations

from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

SKILL = PromptSkill(name="reading_comprehension")

if __name__ == "__main__":
    run_as_script(SKILL.name)
