"""Tool use: code seeds become a documented toolset, tasks over it, and conversations in which an
assistant calls the tools (OpenAI tool-call format) and a simulator answers for them.

Run it as `python -m teams.skills.tool_use --seeds CODE_DIR` (the same options as
`agentinstruct run tool_use`). Seed code is read, documented and searched; it is never executed.

    skill.py         the skill: its flows in order, for one seed
    toolset.py       content transformation: document the code, retrieve related APIs, or imagine them
    tasks.py         instruction generation (tasks of the seven types) and refinement (more steps)
    conversation.py  the assistant calls the tools; a simulator answers for them
    schemas.py, checks.py, prompts.yaml   the types, the checks, what each team is told
"""

from teams.skills.tool_use.skill import SKILL, ToolUse

__all__ = ["SKILL", "ToolUse"]
