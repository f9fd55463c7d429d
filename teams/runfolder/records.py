"""What a record says, read from its JSON (a line of records.jsonl or dropped.jsonl): the prompt
the trainee is given, the instruction itself, and the context around it. Deduplication compares
these, and the stats measure their diversity."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_WORD = re.compile(r"\w+")


def prompt_text(record: dict[str, Any]) -> str:
    """What the trainee is given: every system and user turn."""
    return "\n\n".join(m["content"] for m in record["messages"] if m["role"] in ("system", "user"))


def instruction_text(record: dict[str, Any]) -> str:
    """The instruction itself (for reading comprehension, the question and its options), else the
    last user turn."""
    meta_instruction = record.get("meta", {}).get("instruction")
    if isinstance(meta_instruction, str) and meta_instruction.strip():
        return meta_instruction
    users = [m["content"] for m in record["messages"] if m["role"] == "user"]
    return users[-1] if users else ""


def context_text(record: dict[str, Any]) -> str:
    """The rest of the prompt (the passage): two records are near duplicates only when both their
    instructions and their contexts are alike, so one generic question about two different
    passages, or two questions about one passage, are both kept."""
    prompt, instruction = prompt_text(record), instruction_text(record)
    head, found, tail = prompt.rpartition(instruction)
    return (head + tail).strip() if found else ""


def chain_of(record: dict[str, Any]) -> str:
    """Records refined from one instruction are variants made on purpose (an answer flipped, a
    passage made unanswerable): never near duplicates of each other."""
    meta = record.get("meta", {})
    key = str(meta.get("instruction_key", record["id"])).split(".")[0]
    return f"{meta.get('seed_id', '')}:{key}"


def normalise(text: str) -> str:
    """Case, accents' composed forms, punctuation and spacing do not make two texts different."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))
