"""Rows of a Hugging Face dataset as seed documents: `hf:NAME[:CONFIG][@SPLIT]` streamed from the
Hub with `datasets.load_dataset(..., streaming=True)` (nothing is downloaded whole), or a folder
written by `save_to_disk`, opened with `load_from_disk` (memory-mapped, so also never loaded
whole; its row count is known, so `spread` picks rows evenly).

A Hub that cannot be reached is found out with one short connection first, so the user gets one
line naming the dataset within seconds instead of minutes of retries; with HF_HUB_OFFLINE=1 the
`datasets` cache alone is used, as `datasets` does.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel

from retrieval.seeds import SeedError, SeedOptions
from retrieval.tabular import Row, make_row, picks, wanted_columns

HF_PREFIX = "hf:"
REACH_SECONDS = 5.0
SPEC = re.compile(r"^hf:(?P<name>[\w.\-]+(?:/[\w.\-]+)?)(?::(?P<config>[\w.\-]+))?(?:@(?P<split>[\w.\-\[\]:%]+))?$")


class HubSpec(BaseModel):
    name: str
    config: str | None = None
    split: str = "train"

    def __str__(self) -> str:
        return f"{HF_PREFIX}{self.name}{':' + self.config if self.config else ''}@{self.split}"


def is_hub(source: str | Path) -> bool:
    return str(source).startswith(HF_PREFIX)


def parse_spec(source: str) -> HubSpec:
    match = SPEC.match(source)
    if not match:
        raise SeedError(f"{source}: not a dataset name of the form hf:NAME[:CONFIG][@SPLIT] (e.g. hf:allenai/c4:en@train)")
    return HubSpec(name=match["name"], config=match["config"], split=match["split"] or "train")


def is_saved_dataset(path: Path) -> bool:
    """A folder written by Dataset.save_to_disk or DatasetDict.save_to_disk."""
    return path.is_dir() and (
        (path / "dataset_dict.json").is_file() or ((path / "state.json").is_file() and (path / "dataset_info.json").is_file())
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def check_reachable(spec: HubSpec) -> None:
    """One TCP connection to the Hub (HF_ENDPOINT, else huggingface.co), or a SeedError in seconds."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=REACH_SECONDS).close()
    except OSError as exc:
        raise SeedError(
            f"{spec}: the Hub at {endpoint} cannot be reached ({exc.strerror or exc}); "
            "with HF_HUB_OFFLINE=1 a copy in the datasets cache is used"
        ) from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def read_hub(source: str, options: SeedOptions) -> Iterator[Row]:
    """The rows of a Hub dataset's split, streamed."""
    spec = parse_spec(source)
    if not _offline():
        check_reachable(spec)
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        stream = datasets.load_dataset(spec.name, spec.config, split=spec.split, streaming=True)
        index = 0
        for values in stream:
            yield make_row(values, f"{spec}: row {index}", index, options)
            index += 1
    except SeedError:
        raise
    except Exception as exc:  # the Hub, the network or the dataset's own loader: one line naming it
        raise SeedError(f"{spec}: cannot be read: {_first_line(exc)}") from None
    if index == 0:
        raise SeedError(f"{spec}: the split holds no rows")


def _open_saved(path: Path) -> Any:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise SeedError(f"{path}: not a readable saved dataset ({_first_line(exc)})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if "train" in loaded:
            return loaded["train"]
        if len(loaded) == 1:
            return next(iter(loaded.values()))
        raise SeedError(f"{path}: a DatasetDict with splits {', '.join(loaded)}; name one by its folder, e.g. {path / next(iter(loaded))}")
    return loaded


def read_saved(path: Path, options: SeedOptions, spread: int | None = None) -> Iterator[Row]:
    """The rows of a save_to_disk folder (a DatasetDict: its train split, or its only one)."""
    dataset = _open_saved(path)
    columns = wanted_columns(path, dataset.column_names, options)
    feature = dataset.features[options.text_field]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise SeedError(f"{path}: column '{options.text_field}' holds {feature}, not text")
    if len(dataset) == 0:
        raise SeedError(f"{path}: the dataset holds no rows")
    dataset = dataset.select_columns(columns)
    indices = picks(len(dataset), spread) if spread is not None else None
    if indices is not None:
        dataset = dataset.select(indices)
    for position, values in enumerate(dataset):
        index = indices[position] if indices is not None else position
        yield make_row(values, f"{path}: row {index}", index, options)
