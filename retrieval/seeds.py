"""Seeds in: read `.txt`/`.md` files, split long ones into chunks, id each chunk by content hash.
Code seeds (tool use) are source files split at top-level definitions; they are read, never run.

Bad input is refused with a SeedError whose message names the path and the problem; files that
are merely empty are skipped with a warning so one blank file never stops a run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, Field

from retrieval.code_chunks import CODE_LANGUAGES, language_of, pack_blocks, top_level_blocks

TEXT_SUFFIXES = (".txt", ".md")
MAX_FILE_BYTES = 20 * 1024 * 1024


class SeedError(ValueError):
    """Seeds that cannot be read: the message is one line naming the path and the problem."""


class Seed(BaseModel):
    """One chunk of one source document: the unit a pipeline run works on."""

    id: str = Field(description="sha256 of the chunk text, first 16 hex digits")
    source: str = Field(description="the file the chunk came from")
    chunk: int = Field(0, ge=0)
    text: str


def seed_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split on paragraph breaks into chunks of at most about max_chars (a paragraph longer
    than that is split on sentence ends, then hard-cut)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        for sentence in sentences:
            pieces.extend(sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def read_text_file(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SeedError(f"{path}: file is {size // (1024 * 1024)} MiB, over the {MAX_FILE_BYTES >> 20} MiB limit")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SeedError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not valid UTF-8 (byte {exc.start})") from None


def seed_files(path: Path) -> list[Path]:
    """The seed files a path names: the file itself, or every .txt/.md file below a folder."""
    if not path.exists():
        raise SeedError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    files = [p for p in files if p.name.lower() != "readme.md"]
    if not files:
        raise SeedError(f"{path}: folder holds no .txt or .md files")
    return files


def iter_seeds(path: Path, max_chars: int = 3000) -> Iterator[Seed]:
    for file in seed_files(path):
        text = read_text_file(file).strip()
        if not text:
            logger.warning("skipping empty seed file {}", file)
            continue
        for number, chunk in enumerate(chunk_text(text, max_chars)):
            yield Seed(id=seed_id(chunk), source=str(file), chunk=number, text=chunk)


def load_seeds(path: Path, max_chars: int = 3000, max_seeds: int | None = None) -> list[Seed]:
    """All seeds under a path, duplicates (same content hash) dropped, at most max_seeds."""
    seen: set[str] = set()
    seeds: list[Seed] = []
    for seed in iter_seeds(path, max_chars):
        if seed.id in seen:
            continue
        seen.add(seed.id)
        seeds.append(seed)
        if max_seeds is not None and len(seeds) >= max_seeds:
            break
    if not seeds:
        raise SeedError(f"{path}: no non-empty seed text found")
    return seeds


# --- code seeds ------------------------------------------------------------------------------


def code_files(path: Path) -> list[Path]:
    """The code files a path names: the file itself (a known language), or every one below a folder."""
    if not path.exists():
        raise SeedError(f"{path}: no such file or folder")
    if path.is_file():
        if language_of(path.suffix) is None:
            raise SeedError(f"{path}: not a code file of a known language ({', '.join(sorted(CODE_LANGUAGES))})")
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and language_of(p.suffix) and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise SeedError(f"{path}: folder holds no code files ({', '.join(sorted(CODE_LANGUAGES))})")
    return files


def load_code_seeds(path: Path, max_chars: int = 3000, max_seeds: int | None = None) -> list[Seed]:
    """Code seeds: each file cut at top-level definitions and packed up to about max_chars,
    duplicates dropped, at most max_seeds."""
    seen: set[str] = set()
    seeds: list[Seed] = []
    for file in code_files(path):
        text = read_text_file(file)
        if not text.strip():
            logger.warning("skipping empty code file {}", file)
            continue
        language = language_of(file.suffix) or "text"
        for number, chunk in enumerate(pack_blocks(top_level_blocks(text, language), max_chars)):
            seed = Seed(id=seed_id(chunk), source=str(file), chunk=number, text=chunk)
            if seed.id in seen:
                continue
            seen.add(seed.id)
            seeds.append(seed)
            if max_seeds is not None and len(seeds) >= max_seeds:
                return seeds
    if not seeds:
        raise SeedError(f"{path}: no non-empty code found")
    return seeds


#: how a skill's seeds are read, by its taxonomy's `seeds:` (documents or source code)
SEED_LOADERS: dict[str, Callable[..., list[Seed]]] = {"text": load_seeds, "code": load_code_seeds}
