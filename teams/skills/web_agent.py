"""Web agent: the seed becomes a simulated web page (an accessibility tree or HTML); the task is
something to do on it; the answer is the browser actions, on elements that exist on the page.

Run it as `python -m teams.skills.web_agent --seeds PATH`.
"""

from __future__ import annotations

import re

from teams.flows.checks import parse_actions
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

TREE_NODE = re.compile(r"^\s*\[([\w-]+)\]\s+\w+", re.MULTILINE)
HTML_ID = re.compile(r"""<\w+[^>]*\bid=["']([\w-]+)["']""")


def page_elements(page: str) -> set[str]:
    """The ids of a simulated page's elements: `[12] button "Buy"` lines, or HTML `id` attributes."""
    return set(TREE_NODE.findall(page)) | set(HTML_ID.findall(page))


def acts_on_the_page(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    elements = page_elements(instruction.passage)
    if len(elements) < 3:
        return ["the seed was not turned into a web page (an accessibility tree or HTML with element ids)"]
    actions = parse_actions(answer.final_answer) or []
    unknown = sorted({ref for _, ref in actions if ref is not None and ref not in elements})
    return [f"the actions name elements not on the page: {unknown}"] if unknown else []


SKILL = PromptSkill(
    name="web_agent",
    answer_checks=[acts_on_the_page],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
