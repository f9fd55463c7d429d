"""What a skill gives the method's flows. Types that several layers share live here, in the lowest
layer that uses them: the skills implement them, the engine calls them.

A skill makes a seed's candidate records (`make_records`); the engine then judges them and
commits the seed. Document skills make them with the generic flow (teams.flows.seed) and say
only how a record's turns are shaped; tool use has flows of its own.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from retrieval.seeds import Seed
from teams.flows.outputs import AnswerOutput
from teams.flows.runtime import FlowEnv, SeedLog
from teams.flows.types import Instruction, Message, Record

#: the persona roles of the generic flow for documents
ROLES = ["transformer", "instruction_writer", "suggester", "editor", "teacher"]


class Skill(Protocol):
    """What the engine needs of a skill. One that prepares what its flows share (tool use: the
    code index) also has `prepare(config) -> dict`, found in each flow's `env.resources`."""

    name: str
    roles: Sequence[str]  # the persona roles its flows draw on (a run is refused if one is missing)
    empty_reason: str  # a seed's failure reason when no candidate survived and no step failed

    async def make_records(self, env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random) -> list[Record]:
        """The seed's candidate records; every team's messages go into `log`, never raising for a
        model's failure. Draws from `rng` only, so a resumed or sharded seed makes the same choices."""
        ...


class RecordShape(Protocol):
    """How a document skill turns an answered instruction into a record's chat turns."""

    def instruction_text(self, instruction: Instruction) -> str:
        """The instruction as the record's user turn shows it (kept in meta for deduplication)."""
        ...

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        """The record's chat turns for one answered instruction."""
        ...
