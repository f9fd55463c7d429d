"""Who speaks: personas (YAML data, validated and rendered), the factory that turns a persona into
a fresh AutoGen agent, the tools agents call, and the model clients they talk through.

    personas/   the persona schema, library and rendering (personas/__init__.py), and the
                library itself: YAML files, a folder per skill
    models/     the model-client stack: specs and pool, embedded llama.cpp, OpenAI-compatible
                endpoints, request cache, limits, usage
    factory.py  persona -> AssistantAgent
    tools.py    a client that makes an agent call its tool; tools answered by a simulator

Nothing here imports `teams`: agents know nothing of the method's flows.
"""

from agents.factory import BuiltAgent, build_agent
from agents.personas import Persona, PersonaError, PersonaLibrary

__all__ = ["BuiltAgent", "Persona", "PersonaError", "PersonaLibrary", "build_agent"]
