"""A record's meta: where it came from, for every skill alike. The run folder adds the pointer to
the seed's transcript when it commits the seed, since it is the one that knows where that lives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrieval.seeds import Seed
from teams.flows.runtime import FlowEnv
from teams.flows.types import Lineage


def record_meta(
    env: FlowEnv,
    seed: Seed,
    pair: Lineage,
    personas: Mapping[str, str],
    tokens: Mapping[str, int],
    **particular: Any,
) -> dict[str, Any]:
    """The lineage of one record: run and seed (with where in its source the seed's text came
    from: row or page, corpus id, heading path), what is particular to the skill (transformation,
    question or task type...), the pair's key and refinement, the seed's personas (role -> name)
    with the pair's writer, the model of each, and tokens."""
    return {
        "run_id": env.run_id,
        "seed_id": seed.id,
        "seed_source": env.source_name(seed),
        "seed_chunk": seed.chunk,
        "seed_lineage": seed.lineage.compact(),
        **particular,
        "instruction_key": pair.key,
        "refinement": pair.refinement(),
        "personas": {**personas, "instruction_writer": pair.writer},
        "models": {role: env.pool.spec_for(env.library.get(name).uses_model_role).label for role, name in personas.items()},
        "tokens": dict(tokens),
    }
