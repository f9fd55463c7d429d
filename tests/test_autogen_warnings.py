"""AutoGen's warnings about an endpoint (its model name, cost estimates) go to the run log once,
never to the user's terminal; other warnings are left alone."""

from __future__ import annotations

import warnings

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
