"""Persona config -> a fresh AutoGen AssistantAgent.

Agents are built anew for every team run (an agent shared by two concurrent teams would mix
their contexts); model clients are shared through the ModelPool.
"""

from __future__ import annotations

from typing import Any

from autogen_agentchat.agents import AssistantAgent
from pydantic import BaseModel

from agents.models import ModelPool
from agents.personas import Persona


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
) -> tuple[AssistantAgent, BuiltAgent]:
    """An agent speaking as `persona`, its system message rendered from `context`."""
    system_message = persona.render(**context)
    model_role = persona.uses_model_role
    agent = AssistantAgent(
        name=persona.name,
        description=persona.description,
        model_client=pool.client_for(model_role, persona.sampling),
        system_message=system_message,
        output_content_type=output_type,
    )
    info = BuiltAgent(
        name=persona.name,
        persona=persona.name,
        model=pool.spec_for(model_role).label,
        system_message=system_message,
    )
    return agent, info
