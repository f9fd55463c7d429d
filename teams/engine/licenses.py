"""The license a dataset card may name: one of the Hugging Face Hub's license ids
(hub_licenses.yaml). The Hub refuses a card with any other (`"license" must be one of [...]`), so
an unknown id, from `export --license` or `license:` in a run's config, is refused here, before a
run starts or an export writes (or pushes) anything."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

import yaml

HUB_LICENSES = Path(__file__).with_name("hub_licenses.yaml")


class LicenseError(ValueError):
    """A license id the Hub does not know: one line for the user."""


@cache
def hub_licenses() -> dict[str, str]:
    """The Hub's license ids, each with its full name."""
    return yaml.safe_load(HUB_LICENSES.read_text(encoding="utf-8"))


def check_license(license_id: str) -> str:
    """The id, if the Hub knows it; else a LicenseError naming it, with the nearest id the Hub
    knows when one is near (`MIT`: `mit`)."""
    known = hub_licenses()
    if license_id in known:
        return license_id
    nearest = difflib.get_close_matches(license_id.lower(), known, n=1)
    hint = f" (did you mean '{nearest[0]}'?)" if nearest else ""
    raise LicenseError(
        f"unknown license '{license_id}'{hint}: use a Hub license id such as apache-2.0, mit, cc-by-4.0, or 'other' "
        "(all: https://huggingface.co/docs/hub/repositories-licenses)"
    )
