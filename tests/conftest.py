"""Shared fixtures: no test reaches a real model endpoint, and every test writes under tmp."""

from __future__ import annotations

import itertools
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

# huggingface_hub reads HF_HUB_OFFLINE once, when first imported (a test module may import it at
# collection, before any fixture runs): set it for the whole session before that can happen.
os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SEEDS = REPO / "examples" / "seeds"
TINY_SEED = REPO / "examples" / "tiny" / "seed.txt"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConnectionRefusedError(f"tests may not reach {host}: use the fake server on 127.0.0.1")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network_and_tmp_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any accidental call to a real endpoint fails; the default runs/ folder is a temp one; the fakes count from 1."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    # the fake models number their answers: from 1 in every test, so what a test's run keeps (its
    # near duplicates, say) does not depend on how many calls the tests before it made
    from tests import fakes  # here: importing it at the top would import huggingface_hub before HF_HUB_OFFLINE is set

    monkeypatch.setattr(fakes, "_counter", itertools.count(1))


def ferry_logs(folder: Path, count: int = 6) -> Path:
    """A folder of small, distinct text seeds: the runs that compare record for record use them."""
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"s{i}.txt").write_text(
            f"Log {i}: the ferry crossed the bay {i + 4} times, carrying cyclists in the morning and vans at night.",
            encoding="utf-8",
        )
    return folder


def comparable(folder: Path) -> list[dict[str, Any]]:
    """A run's records without what names the run, in a fixed order: runs that should give the
    same records (with workers, on Ray, resumed) compare equal."""
    rows = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    for row in rows:
        row["meta"].pop("run_id")
    return sorted(rows, key=lambda r: r["id"])
