"""The one way whole files of a run folder are written: to a temporary name beside the file, then
renamed over it, so a reader (or a crash) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    """Replace `path` with `text`. `durable` also waits for the disk (fsync) before the rename:
    for a rewrite that removes lines (a repair), not for files rewritten every second (run.json)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def rewrite_lines(path: Path, lines: Iterable[str]) -> None:
    """Replace a JSONL file with these lines, durably."""
    write_atomic(path, "".join(f"{line}\n" for line in lines), durable=True)
