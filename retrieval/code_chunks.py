"""Code split into the pieces that matter: functions, classes and methods, with where they are.

Python goes through `ast` (qualified names, exact line spans, decorators included). Other
languages fall back to definitions found by pattern, then to fixed line windows. The same
split feeds the code index (one chunk per definition) and tool-use seeds (whole top-level
definitions packed up to a size). Code is only read, never imported or executed.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from pydantic import BaseModel

ChunkKind = Literal["function", "class", "method", "definition", "window"]

# Suffix -> language. Python is parsed; the others use DEFINITION_PATTERNS.
CODE_LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cc": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".swift": "swift",
    ".scala": "scala",
}

_JS = [
    r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>\w+)",
    r"^\s*(?:export\s+)?(?:default\s+)?class\s+(?P<name>\w+)",
    r"^\s*(?:export\s+)?(?:const|let|var)\s+(?P<name>\w+)\s*=\s*(?:async\s*)?(?:\([^)]*\)|\w+)\s*=>",
]
_C_LIKE = [
    r"^\s*(?:(?:public|private|protected|internal|static|final|abstract|override|virtual|async|inline|extern|const)\s+)*"
    r"[\w<>\[\]:*&, ]+?\s+\**(?P<name>\w+)\s*\([^;]*$",
    r"^\s*(?:(?:public|private|protected|internal|static|final|abstract|sealed|partial)\s+)*(?:class|interface|struct|enum)\s+(?P<name>\w+)",
]
DEFINITION_PATTERNS: dict[str, list[str]] = {
    "python": [r"^\s*(?:async\s+)?def\s+(?P<name>\w+)", r"^\s*class\s+(?P<name>\w+)"],  # when ast cannot parse it
    "javascript": _JS,
    "typescript": _JS + [r"^\s*(?:export\s+)?(?:interface|type)\s+(?P<name>\w+)"],
    "go": [r"^func\s+(?:\([^)]*\)\s*)?(?P<name>\w+)", r"^type\s+(?P<name>\w+)\s+(?:struct|interface)"],
    "rust": [
        r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(?P<name>\w+)",
        r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum|trait)\s+(?P<name>\w+)",
    ],  # fmt: skip
    "ruby": [r"^\s*def\s+(?:self\.)?(?P<name>[\w?!]+)", r"^\s*(?:class|module)\s+(?P<name>\w+)"],
    "php": [
        r"^\s*(?:(?:public|private|protected|static|abstract|final)\s+)*function\s+(?P<name>\w+)",
        r"^\s*(?:abstract\s+|final\s+)?class\s+(?P<name>\w+)",
    ],  # fmt: skip
    "kotlin": [r"^\s*(?:\w+\s+)*fun\s+(?:<[^>]*>\s*)?(?P<name>\w+)", r"^\s*(?:\w+\s+)*class\s+(?P<name>\w+)"],
    "swift": [r"^\s*(?:\w+\s+)*func\s+(?P<name>\w+)", r"^\s*(?:\w+\s+)*(?:class|struct|protocol)\s+(?P<name>\w+)"],
    "scala": [r"^\s*(?:\w+\s+)*def\s+(?P<name>\w+)", r"^\s*(?:\w+\s+)*(?:class|object|trait)\s+(?P<name>\w+)"],
    "java": _C_LIKE,
    "csharp": _C_LIKE,
    "c": _C_LIKE,
    "cpp": _C_LIKE,
}
_CONTROL_WORDS = {"if", "for", "while", "switch", "return", "catch", "else", "do", "sizeof", "new", "elif"}
WINDOW_LINES = 40
MAX_DEFINITION_LINES = 120
MAX_CHUNK_CHARS = 4000


class CodeChunk(BaseModel):
    """One definition (or window) of one file; lines are 1-based and inclusive."""

    path: str
    name: str
    kind: ChunkKind
    language: str
    start_line: int
    end_line: int
    text: str


ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "golang": "go", "c++": "cpp", "c#": "csharp",
           "cs": "csharp", "rs": "rust", "rb": "ruby", "kt": "kotlin"}  # fmt: skip


def language_of(suffix: str) -> str | None:
    return CODE_LANGUAGES.get(suffix.lower())


def code_language(name: str | None) -> str:
    """A language as a corpus names it ("Python", "py", ".py", "C++") as the chunkers know it;
    "text" (cut in line windows) for one they do not know."""
    key = (name or "").strip().lower()
    if key in CODE_LANGUAGES.values():
        return key
    return ALIASES.get(key) or language_of(key if key.startswith(".") else f".{key}") or "text"


def _lines(lines: list[str], start: int, end: int) -> str:
    return "\n".join(lines[start - 1 : end])[:MAX_CHUNK_CHARS]


def _python_chunks(path: str, text: str) -> list[CodeChunk] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.splitlines()
    chunks: list[CodeChunk] = []

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            end = node.end_lineno or node.lineno
            name = f"{prefix}{node.name}"
            if isinstance(node, ast.ClassDef):
                kind: ChunkKind = "class"
            else:
                kind = "method" if in_class else "function"
            chunks.append(CodeChunk(path=path, name=name, kind=kind, language="python", start_line=start,
                                    end_line=end, text=_lines(lines, start, end)))  # fmt: skip
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{name}.", True)

    visit(tree.body, "", False)
    return chunks


def _pattern_chunks(path: str, text: str, language: str) -> list[CodeChunk]:
    patterns = [re.compile(p) for p in DEFINITION_PATTERNS.get(language, [])]
    lines = text.splitlines()
    starts: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        for pattern in patterns:
            match = pattern.match(line)
            if match and match.group("name") not in _CONTROL_WORDS:
                starts.append((number, match.group("name")))
                break
    chunks = []
    for i, (start, name) in enumerate(starts):
        following = starts[i + 1][0] - 1 if i + 1 < len(starts) else len(lines)
        end = min(following, start + MAX_DEFINITION_LINES - 1)
        while end > start and not lines[end - 1].strip():
            end -= 1
        chunks.append(CodeChunk(path=path, name=name, kind="definition", language=language, start_line=start,
                                end_line=end, text=_lines(lines, start, end)))  # fmt: skip
    return chunks


def _window_chunks(path: str, text: str, language: str) -> list[CodeChunk]:
    lines = text.splitlines()
    chunks = []
    for start in range(1, len(lines) + 1, WINDOW_LINES):
        end = min(len(lines), start + WINDOW_LINES - 1)
        body = _lines(lines, start, end)
        if body.strip():
            chunks.append(CodeChunk(path=path, name=f"lines {start}-{end}", kind="window", language=language,
                                    start_line=start, end_line=end, text=body))  # fmt: skip
    return chunks


def chunk_code(path: str, text: str, language: str) -> list[CodeChunk]:
    """Every function, class and method of a file (Python: by `ast`; a file that does not parse,
    or another language: by definition patterns), else line windows."""
    chunks = _python_chunks(path, text) if language == "python" else None
    if not chunks:
        chunks = _pattern_chunks(path, text, language)
    return chunks or _window_chunks(path, text, language)


def top_level_blocks(text: str, language: str) -> list[str]:
    """The file cut just before each top-level definition, nothing lost: what a code seed is packed from."""
    lines = text.splitlines()
    chunks = chunk_code("", text, language)
    starts = sorted({c.start_line for c in chunks if c.kind != "method" and "." not in c.name} | {1})
    if len(chunks) and chunks[0].kind == "window":
        starts = [c.start_line for c in chunks]
    bounds = [*starts, len(lines) + 1]
    blocks = ["\n".join(lines[a - 1 : b - 1]).strip("\n") for a, b in zip(bounds, bounds[1:], strict=False)]
    return [b for b in blocks if b.strip()]


def pack_blocks(blocks: list[str], max_chars: int) -> list[str]:
    """Consecutive blocks joined up to about max_chars; a longer block is cut at line ends."""
    pieces: list[str] = []
    for block in blocks:
        if len(block) <= max_chars:
            pieces.append(block)
            continue
        current: list[str] = []
        for line in block.splitlines():
            if current and sum(len(x) + 1 for x in current) + len(line) > max_chars:
                pieces.append("\n".join(current))
                current = []
            current.append(line[:max_chars])
        if current:
            pieces.append("\n".join(current))
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + 2 + len(piece) <= max_chars:
            packed[-1] = f"{packed[-1]}\n\n{piece}"
        else:
            packed.append(piece)
    return packed
