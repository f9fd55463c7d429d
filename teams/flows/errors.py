"""One readable line from any error: what users and transcripts see instead of a traceback."""

from __future__ import annotations

from pydantic import ValidationError


def one_line(error: BaseException | str, limit: int = 400) -> str:
    """For a pydantic ValidationError (or the traceback text AutoGen re-raises it as), the field
    and the message; otherwise the last non-empty line."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")  # a validator's own sentence, as it wrote it
        return f"{'.'.join(str(p) for p in first['loc']) or '(value)'}: {message}"[:limit]
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("For further information")]
    for previous, line in zip(lines, lines[1:], strict=False):
        if "[type=" in line:
            return f"{previous}: {line.split(' [type=')[0]}"[:limit]
    return (lines[-1] if lines else type(error).__name__)[:limit]
