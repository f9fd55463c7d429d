"""What a seed is: one chunk of one source document, ided by the content hash of its text, with
its lineage (where in its source it came from). The readers (retrieval.sources and the format
modules beside it) make them; everything downstream works on them.

Bad input is refused with a SeedError whose message is one line naming the path (and the row or
page) and the problem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_FILE_BYTES = 20 * 1024 * 1024  # a text or code file; documents and tables have their own limits


class SeedError(ValueError):
    """Seeds that cannot be read: the message is one line naming the path and the problem."""


class SeedLineage(BaseModel):
    """Where in its source a seed's text came from, beyond the source itself: what a user needs
    to find the passage again. Fields that do not apply stay empty and are not written."""

    model_config = ConfigDict(extra="forbid")

    row: int | None = Field(None, description="0-based row of a table (JSONL, JSON, CSV, Parquet) or a dataset")
    page: int | None = Field(None, description="1-based page of a PDF, or slide of a PPTX")
    corpus_id: str | None = Field(None, description="the corpus's own id of the row (--id-field)")
    headings: list[str] = Field(default_factory=list, description="the Markdown heading path of the chunk")
    language: str | None = Field(None, description="the row's --language-field value, or a code file's language")

    def compact(self) -> dict[str, object]:
        """The fields that apply: what seeds.jsonl and a record's meta carry."""
        return self.model_dump(exclude_defaults=True)


class Seed(BaseModel):
    """One chunk of one source document: the unit a pipeline run works on."""

    id: str = Field(description="sha256 of the chunk text, first 16 hex digits")
    source: str = Field(description="the file the chunk came from, or hf:NAME[:CONFIG][@SPLIT]")
    chunk: int = Field(0, ge=0, description="the chunk's number within its document (row, page, file)")
    text: str
    lineage: SeedLineage = Field(default_factory=SeedLineage)


class SeedOptions(BaseModel):
    """How seeds are read and cut: the run config's seed settings, in one object for the readers."""

    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", min_length=1, description="the column that holds a row's text")
    id_field: str | None = Field(None, min_length=1, description="a column whose value is kept as corpus_id")
    language_field: str | None = Field(None, min_length=1, description="a column naming a row's (code) language")
    chunk_chars: int = Field(3000, ge=200, description="a chunk's size, in characters (at most about)")
    chunk_overlap: int = Field(0, ge=0, description="characters a chunk repeats from the one before it")
    max_seeds: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _overlap_fits(self) -> SeedOptions:
        if self.chunk_overlap > self.chunk_chars // 2:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be at most half of chunk_chars ({self.chunk_chars})")
        return self


def seed_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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
