import os
from pathlib import Path

import pytest
from loguru import logger

from retrieval.chunking import chunk_text
from retrieval.seeds import SeedError, seed_id
from retrieval.sources import load_seeds


def test_long_text_is_chunked_on_paragraphs_and_each_chunk_is_ided_by_its_hash(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(10)]
    (tmp_path / "long.md").write_text("\n\n".join(paragraphs), encoding="utf-8")
    seeds = load_seeds(tmp_path, max_chars=700)
    assert len(seeds) > 1
    assert all(len(s.text) <= 700 for s in seeds)
    assert [s.chunk for s in seeds] == list(range(len(seeds)))
    assert all(s.id == seed_id(s.text) for s in seeds)
    assert "Paragraph 0." in seeds[0].text and "Paragraph 9." in seeds[-1].text


def test_one_giant_paragraph_is_still_cut_under_the_limit() -> None:
    chunks = chunk_text("x" * 5000, max_chars=1000)
    assert len(chunks) == 5 and all(len(c) <= 1000 for c in chunks)


def test_empty_file_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "real.txt").write_text("Bees make honey from nectar.", encoding="utf-8")
    warnings: list[str] = []
    sink = logger.add(warnings.append, level="WARNING")
    try:
        seeds = load_seeds(tmp_path)
    finally:
        logger.remove(sink)
    assert [Path(s.source).name for s in seeds] == ["real.txt"]
    assert any("empty.txt" in w for w in warnings)


def test_identical_chunks_are_kept_once_and_max_seeds_caps(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("Same text in every file.", encoding="utf-8")
    (tmp_path / "d.txt").write_text("Other text.", encoding="utf-8")
    assert len(load_seeds(tmp_path)) == 2
    assert len(load_seeds(tmp_path, max_seeds=1)) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "folder holds no seed files"),
        (lambda p: (p / "bin.txt").write_bytes(b"\x00\x01\x02binary") and p / "bin.txt", "binary"),
        (lambda p: (p / "latin.txt").write_bytes("caf\xe9".encode("latin-1")) and p / "latin.txt", "not valid UTF-8"),
        (lambda p: (p / "blank.txt").write_text("  ") and p / "blank.txt", "no non-empty seed text"),
        (lambda p: os.symlink("b", p / "a") or os.symlink("a", p / "b") or p / "a", "symlink loop"),
        (lambda p: os.mkfifo(p / "fifo.txt") or p / "fifo.txt", "not a regular file or folder"),
        (lambda p: Path("/dev/zero"), "not a regular file or folder"),
        (lambda p: (p / "in").mkdir() or os.symlink("x.txt", p / "in" / "x.txt") or p / "in", "symlink loop"),
    ],
)
def test_bad_seed_paths_raise_one_line_errors_naming_the_path(tmp_path: Path, setup, message: str) -> None:
    path = setup(tmp_path)
    with pytest.raises(SeedError) as error:
        load_seeds(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"empty.txt": ""}, "no non-empty seed text found: its one document is empty"),
        ({"a.txt": "", "b.html": "<html><body></body></html>"}, "found: all its 2 documents are empty"),
        ({"a.txt": "", "b.jsonl": "{not json"}, "b.jsonl: line 1: malformed JSON"),
    ],
)
def test_when_reading_fails_the_error_is_the_only_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    """No 'skipped' warning before the error: the CLI's one line must stay one line."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    warnings: list[str] = []
    sink = logger.add(warnings.append, level="WARNING")
    try:
        with pytest.raises(SeedError) as error:
            load_seeds(tmp_path / next(iter(files)) if len(files) == 1 else tmp_path)
    finally:
        logger.remove(sink)
    assert message in str(error.value) and warnings == []
