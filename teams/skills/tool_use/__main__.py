"""`python -m teams.skills.tool_use --seeds CODE_DIR`: tool use's team script."""

from teams.skills.script import run_as_script

run_as_script("tool_use")
