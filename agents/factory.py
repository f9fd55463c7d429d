"""Persona config -> a fresh AutoGen AssistantAgent.

Agents are built anew for every team run (an agent shared by two concurrent teams would mix
their contexts); model clients are shared through the ModelPool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from pydantic import BaseModel

from agents.models.pool import ModelPool
from agents.personas import Persona
from agents.tools import RequiredToolChoice


class BuiltAgent(BaseModel):
    """What a transcript says about a participant: who it was and what it was told."""

    name: str
    persona: str
    model: str
    system_message: str


def build_agent(
    persona: Persona,
    pool: ModelPool,
    output_type: type[BaseModel] | None,
    context: dict[str, Any],
    *,
    tools: Sequence[Any] = (),
    force_tools: bool = False,
    max_tool_iterations: int = 1,
) -> tuple[AssistantAgent, BuiltAgent]:
    """An agent speaking as `persona`, its system message rendered from `context`. With `tools`
    it may call them (must, with `force_tools`) and then answers on what they returned."""
    system_message = persona.render(**context)
    model_role = persona.uses_model_role
    client = pool.client_for(model_role, persona.sampling)
    tool_args: dict[str, Any] = (
        {"tools": list(tools), "reflect_on_tool_use": True, "max_tool_iterations": max_tool_iterations}
        if tools
        else {}
    )
    agent = AssistantAgent(
        name=persona.name,
        description=persona.description,
        model_client=RequiredToolChoice(client) if tools and force_tools else client,
        system_message=system_message,
        output_content_type=output_type,
        **tool_args,
    )
    info = BuiltAgent(
        name=persona.name,
        persona=persona.name,
        model=pool.spec_for(model_role).label,
        system_message=system_message,
    )
    return agent, info
