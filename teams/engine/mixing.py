"""Mixed-skill runs: which skills a `--skills` spec names, and which seed goes to which skill.

A spec is `all`, or comma-separated skills with optional weights: `rc:2,fermi:1,coding`. A skill
is named in full, by its initials (`rc`, `rag`, `mcq`, `odqa`) or by a unique prefix. Seeds are
shared out in proportion to the weights (largest remainders), then shuffled with the run's
random seed: the same spec, seeds and `--seed` give the same assignment.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from taxonomies import TaxonomyError, available_skills, load_taxonomy

MIXED = "mixed"


def initials(skill: str) -> str:
    return "".join(part[0] for part in skill.split("_"))


def resolve_skill(name: str) -> str:
    """The skill a user's name means: the full name, its initials or a unique prefix."""
    known = available_skills()
    wanted = name.strip().lower()
    if wanted in known:
        return wanted
    for matches in (
        [s for s in known if "_" in s and initials(s) == wanted],
        [s for s in known if s.startswith(wanted)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise TaxonomyError(f"skill '{name}' is ambiguous: {', '.join(matches)}")
    raise TaxonomyError(f"unknown skill '{name}' (known: {', '.join(known)})")


def parse_skills(spec: str) -> dict[str, float]:
    """`all` or `a,b:2,c` -> {skill: weight}, in the order given. `all` is every skill that
    takes documents as seeds (tool use takes code and runs on its own)."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, weight_text = part.partition(":")
        if name.strip().lower() == "all":  # every skill whose seeds are documents
            names = [s for s in available_skills() if load_taxonomy(s).seeds == "text"]
        else:
            names = [resolve_skill(name)]
            if load_taxonomy(names[0]).seeds != "text":
                raise TaxonomyError(
                    f"--skills: {names[0]} takes {load_taxonomy(names[0]).seeds} seeds, not documents; "
                    f"run it on its own: agentinstruct run {names[0]} --seeds DIR"
                )
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise TaxonomyError(f"--skills: weight '{weight_text}' of '{name}' is not a number") from None
        if weight <= 0:
            raise TaxonomyError(f"--skills: weight of '{name}' must be positive, got {weight_text}")
        for skill in names:
            weights[skill] = weight
    if not weights:
        raise TaxonomyError("--skills names no skill")
    return weights


def apportion(weights: dict[str, float], total: int, rng: random.Random) -> dict[str, int]:
    """How many of `total` items each skill gets, proportional to its weight (largest remainders;
    ties, such as more skills than seeds, are broken by `rng`)."""
    whole = sum(weights.values())
    shares = {skill: total * w / whole for skill, w in weights.items()}
    counts = {skill: int(share) for skill, share in shares.items()}
    skills = list(weights)
    rng.shuffle(skills)
    order = sorted(skills, key=lambda s: -(shares[s] - counts[s]))  # stable: shuffled order breaks ties
    for skill in order[: total - sum(counts.values())]:
        counts[skill] += 1
    return counts


def assign_skills(seed_ids: Sequence[str], weights: dict[str, float], run_seed: int) -> dict[str, str]:
    """seed id -> skill, by weight, reproducibly for a given run seed."""
    rng = random.Random(f"{run_seed}:skills")
    counts = apportion(weights, len(seed_ids), rng)
    slots = [skill for skill, n in counts.items() for _ in range(n)]
    rng.shuffle(slots)
    return dict(zip(seed_ids, slots, strict=True))
