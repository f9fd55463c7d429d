"""AutoGen's warnings about an endpoint (its model name, cost estimates) go to the run log once,
never to the user's terminal; other warnings are left alone. And what AutoGen would dump for a
log or a trace nobody records is not dumped."""

from __future__ import annotations

import warnings

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core._serialization import SerializationRegistry
from autogen_ext.models.replay import ReplayChatCompletionClient
from loguru import logger

from teams.engine.process import quiet_autogen


def test_autogen_warnings_go_to_the_run_log_once_and_not_to_the_terminal() -> None:
    lines: list[str] = []
    terminal: list[str] = []  # what Python's own hook would print
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *rest: terminal.append(str(message))
            quiet_autogen()
            for _ in range(3):
                warnings.warn("Resolved model mismatch: smollm2 != /m/model.gguf. Set the model to enhance token/cost estimation", stacklevel=1)
            warnings.warn("something of our own", UserWarning, stacklevel=1)
    finally:
        logger.remove(sink)
    assert terminal == ["something of our own"]
    assert sum("Resolved model mismatch" in line for line in lines) == 1


async def test_a_group_chat_dumps_no_message_for_an_event_log_or_trace_nobody_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dumped: list[object] = []
    serialize = SerializationRegistry.serialize

    def counting(self: SerializationRegistry, message: object, *, type_name: str, data_content_type: str) -> bytes:
        dumped.append(message)
        return serialize(self, message, type_name=type_name, data_content_type=data_content_type)

    monkeypatch.setattr(SerializationRegistry, "serialize", counting)
    quiet_autogen()  # the event log below INFO, no tracer provider set
    agents = [AssistantAgent(name, ReplayChatCompletionClient([f"{name} says hi"])) for name in ("a", "b")]
    result = await RoundRobinGroupChat(agents, max_turns=2).run(task="hello")
    assert [m.content for m in result.messages if isinstance(m, TextMessage)] == ["hello", "a says hi", "b says hi"]
    # without quiet_autogen, AutoGen's runtime dumps each message it routes, several times over
    assert dumped == []
