"""A skill's team script: `python -m teams.skills.<skill> ARGS` is `agentinstruct run <skill> ARGS`.

The command sits above the skills (it runs the engine, which runs the skills), so the script
reaches it by the `agentinstruct` console script's entry point instead of importing it, and hands
it the skill: the command then shows and takes `run`'s options less the skill's (teams.cli.app).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def run_as_script(skill: str) -> None:
    found = entry_points(group="console_scripts", name="agentinstruct")
    if not found:
        sys.exit("error: the agentinstruct command is not installed (pip install -e . in the checkout)")
    command = next(iter(found)).load()
    command(skill)
