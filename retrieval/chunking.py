"""Cutting a document into chunks that follow its structure: at Markdown headings first, then at
paragraph breaks (a paragraph too long is cut at sentence ends, then hard), each chunk keeping
the path of headings it sits under, and optionally repeating the end of the chunk before it.

A section that holds only headings (a title straight above its first subsection) joins the next
one, so no chunk is a bare heading. Text with no headings, and no overlap, is cut exactly as
plain paragraphs are (`chunk_text`), so the ids of such seeds do not change.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
FENCE = re.compile(r"^\s*(```|~~~)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Chunk(BaseModel):
    text: str
    headings: list[str] = Field(default_factory=list)


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split on paragraph breaks into chunks of at most about max_chars (a paragraph longer
    than that is split on sentence ends, then hard-cut)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        for sentence in SENTENCE_END.split(paragraph):
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


def sections(text: str) -> list[tuple[list[str], str]]:
    """(heading path, text) of each section, in order; headings inside fenced code do not count."""
    found: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    has_body = False
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else HEADING.match(line)
        if heading:
            if has_body:  # a section with text ends here; one of bare headings runs on into the next
                found.append(([title for _, title in path], "\n".join(lines)))
                lines, has_body = [], False
            level = len(heading.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level] + [(level, heading.group(2).strip())]
        elif line.strip():
            has_body = True
        lines.append(line)
    if any(line.strip() for line in lines):
        found.append(([title for _, title in path], "\n".join(lines)))
    return found


def _tail(text: str, limit: int) -> str:
    """The end of a chunk to repeat at the start of the next: whole paragraphs, else whole
    sentences, else words, of at most `limit` characters."""
    for parts, joiner in ((re.split(r"\n\s*\n", text), "\n\n"), (SENTENCE_END.split(text), " ")):
        taken: list[str] = []
        for part in reversed(parts):
            if len(joiner.join([part, *taken])) > limit:
                break
            taken.insert(0, part)
        if taken:
            return joiner.join(taken).strip()
    cut = text[-limit:]
    return cut.split(" ", 1)[-1].strip() if " " in cut else cut.strip()


def chunk_markdown(text: str, max_chars: int, overlap: int = 0, headings: bool = True) -> list[Chunk]:
    """The document's chunks: per section (with `headings`), each at most about max_chars, each
    after the first of its section starting with about `overlap` characters of the one before."""
    parts = sections(text) if headings else [([], text)]
    budget = max_chars - overlap - 2 if overlap else max_chars
    chunks: list[Chunk] = []
    for path, body in parts:
        previous = ""
        for piece in chunk_text(body, budget):
            tail = _tail(previous, overlap) if overlap and previous else ""
            chunks.append(Chunk(text=f"{tail}\n\n{piece}" if tail else piece, headings=path))
            previous = piece
    return chunks
