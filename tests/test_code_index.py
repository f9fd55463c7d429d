"""Code chunking, code seeds, and the Chroma code index (with the real bundled MiniLM)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import retrieval.embedding as embedding
from retrieval.code_chunks import chunk_code
from retrieval.code_index import CodeIndex
from retrieval.seeds import SeedError
from retrieval.sources import load_code_seeds
from teams.cli.app import app
from tests.conftest import REPO

PY = '''"""Geometry helpers."""
import math


def circle_area(radius: float) -> float:
    """Area of a circle of the given radius."""
    return math.pi * radius ** 2


class Invoice:
    """A customer invoice."""

    def total(self, tax_rate: float) -> float:
        return 0.0

    @staticmethod
    def send_email(address: str) -> None:
        pass
'''
GO = """package text

func ReverseString(s string) string {
\treturn s
}

func (c *Counter) Increment() {
\tc.n++
}
"""


def write_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "geometry.py").write_text(PY)
    (root / "text.go").write_text(GO)
    (root / "notes.txt").write_text("not code")
    return root


def test_python_chunks_have_qualified_names_and_exact_lines() -> None:
    chunks = {c.name: c for c in chunk_code("g.py", PY, "python")}
    assert set(chunks) == {"circle_area", "Invoice", "Invoice.total", "Invoice.send_email"}
    assert (chunks["circle_area"].kind, chunks["circle_area"].start_line, chunks["circle_area"].end_line) == (
        "function", 5, 7)  # fmt: skip
    assert chunks["Invoice.total"].kind == "method" and chunks["Invoice"].kind == "class"
    send = chunks["Invoice.send_email"]
    assert send.text.startswith("    @staticmethod") and send.start_line == 16  # the decorator belongs to it


def test_other_languages_fall_back_to_definition_patterns_then_windows() -> None:
    go = chunk_code("t.go", GO, "go")
    assert [(c.name, c.kind, c.start_line) for c in go] == [
        ("ReverseString", "definition", 3),
        ("Increment", "definition", 7),
    ]
    broken = "def ok(:\n" + "x = 1\n" * 50
    windows = chunk_code("b.py", "\n".join(["x = 1"] * 50), "python")
    assert [c.kind for c in windows] == ["window", "window"] and windows[1].start_line == 41
    assert [c.name for c in chunk_code("b.py", broken, "python")] == ["ok"]  # unparsable Python: by pattern


def test_code_seeds_load_code_only_and_refuse_binary_and_invalid_utf8(tmp_path: Path) -> None:
    seeds = load_code_seeds(write_tree(tmp_path / "tree"))
    assert sorted(Path(s.source).name for s in seeds) == ["geometry.py", "text.go"]
    assert "def circle_area" in next(s.text for s in seeds if s.source.endswith(".py"))
    (tmp_path / "bad.py").write_bytes(b"def f():\n    return '\xff'\n")
    with pytest.raises(SeedError, match=r"bad\.py: not valid UTF-8"):
        load_code_seeds(tmp_path / "bad.py")
    (tmp_path / "bin.py").write_bytes(b"\x00\x01binary")
    with pytest.raises(SeedError, match="binary"):
        load_code_seeds(tmp_path / "bin.py")
    with pytest.raises(SeedError, match="no code files"):
        load_code_seeds(REPO / "examples" / "seeds")


def test_index_build_is_incremental_and_query_finds_the_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    real = embedding.embed_texts

    def counting(texts: list[str], batch_size: int = 64) -> list[list[float]]:
        embedded.extend(texts)
        return real(texts, batch_size)

    monkeypatch.setattr(embedding, "embed_texts", counting)
    tree = write_tree(tmp_path / "tree")
    index = CodeIndex(tmp_path / "index")
    stats = index.build(tree)
    assert (stats.files, stats.embedded_files, stats.chunks_embedded, stats.chunks_total) == (2, 2, 6, 6)
    assert len(embedded) == 6
    files = index.indexed_files()
    assert set(files) == {str((tree / "pkg" / "geometry.py").resolve()), str((tree / "text.go").resolve())}

    embedded.clear()
    again = CodeIndex(tmp_path / "index").build(tree)  # a new process would do the same
    assert (again.unchanged, again.chunks_embedded, again.chunks_total) == (2, 0, 6) and embedded == []

    (tree / "text.go").write_text(GO.replace("ReverseString", "UpperString"))
    changed = index.build(tree)
    assert (changed.embedded_files, changed.chunks_embedded, changed.chunks_total) == (1, 2, 6)
    assert len(embedded) == 2 and all(
        "Increment" in t or "UpperString" in t for t in embedded
    )  # the changed file alone

    hits = index.query("compute the area of a round shape", k=3)
    assert hits[0].name == "circle_area" and hits[0].start_line == 5 and hits[0].path.endswith("geometry.py")
    assert hits[0].distance < hits[1].distance

    (tree / "text.go").unlink()
    removed = index.build(tree)
    assert (removed.removed_files, removed.chunks_total) == (1, 4)
    assert all(h.name != "UpperString" for h in index.query("upper case a string", k=4))


def test_index_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    tree = write_tree(tmp_path / "tree")
    built = runner.invoke(app, ["index", "build", "--seeds", str(tree), "--index", str(tmp_path / "ix")])
    assert built.exit_code == 0, built.stderr
    assert "2 files: 2 embedded (6 chunks)" in built.stdout
    found = runner.invoke(
        app, ["index", "query", "send a message by email", "-k", "1", "--index", str(tmp_path / "ix")]
    )
    assert found.exit_code == 0 and "geometry.py:16" in found.stdout and "Invoice.send_email" in found.stdout
    missing = runner.invoke(app, ["index", "query", "x", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no code index here" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "file").write_text("x")
    bad = runner.invoke(app, ["index", "build", "--seeds", str(tree), "--index", str(tmp_path / "file")])
    assert bad.exit_code == 2 and "is not a folder" in bad.stderr
