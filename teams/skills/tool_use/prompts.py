"""Tool use's prompts: `prompts.yaml` beside this module, rendered as the method's steps' are."""

from __future__ import annotations

from pathlib import Path

from teams.flows.prompts import Prompts

PROMPTS = Prompts(Path(__file__).with_name("prompts.yaml"))
