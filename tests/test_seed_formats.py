"""Seeds from every format a corpus comes in, made here on real-shaped data: their text, ids and
lineage; streaming that reads only what it needs; and one line for every bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrieval.chunking import chunk_markdown, chunk_text
from retrieval.seeds import SeedError, SeedOptions, seed_id
from retrieval.sources import read_seeds

BODIES = [
    "Sea otters hold paws while they sleep so that the current cannot pull them apart.",
    "Ravens solve puzzles of several steps and remember the people who wronged them.",
    "Octopuses taste with their arms, each arm with hundreds of suckers full of receptors.",
]
MARKUP = ("<div", "</p>", "<script", "<style", "tracking()", "color: red", "<!--")


def options(**fields: object) -> SeedOptions:
    return SeedOptions(**fields)  # type: ignore[arg-type]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows() -> list[dict[str, object]]:
    return [{"body": b, "doc_id": f"doc-{i}", "n": i} for i, b in enumerate(BODIES)]


# --- tables -----------------------------------------------------------------------------------


def table_file(kind: str, folder: Path) -> Path:
    path = folder / f"corpus.{kind}"
    if kind == "jsonl":
        write_jsonl(path, rows())
    elif kind == "json":
        path.write_text(json.dumps(rows(), indent=2), encoding="utf-8")
    elif kind == "csv":
        lines = ["doc_id,body,n"] + [f'{r["doc_id"]},"{r["body"]}",{r["n"]}' for r in rows()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows()), path)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet"])
def test_a_table_gives_one_seed_per_row_with_its_row_and_corpus_id(kind: str, tmp_path: Path) -> None:
    path = table_file(kind, tmp_path)
    read = read_seeds(path, "text", options(text_field="body", id_field="doc_id"))
    assert [s.text for s in read.seeds] == BODIES
    assert [s.id for s in read.seeds] == [seed_id(b) for b in BODIES]  # ids stay content hashes
    assert [s.source for s in read.seeds] == [str(path)] * 3
    assert [s.lineage.compact() for s in read.seeds] == [{"row": i, "corpus_id": f"doc-{i}"} for i in range(3)]


def test_a_saved_dataset_folder_and_a_datasetdict_folder_give_their_rows(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    Dataset.from_list(rows()).save_to_disk(str(tmp_path / "saved"))
    DatasetDict({"train": Dataset.from_list(rows()[:2]), "test": Dataset.from_list(rows())}).save_to_disk(str(tmp_path / "dd"))
    saved = read_seeds(tmp_path / "saved", "text", options(text_field="body", id_field="n")).seeds
    assert [s.text for s in saved] == BODIES and saved[2].lineage.compact() == {"row": 2, "corpus_id": "2"}
    assert [s.text for s in read_seeds(tmp_path / "dd", "text", options(text_field="body")).seeds] == BODIES[:2]
    assert len(read_seeds(tmp_path / "dd" / "test", "text", options(text_field="body")).seeds) == 3  # a split by its folder


def test_a_folder_mixes_tables_documents_and_text_files(tmp_path: Path) -> None:
    from datasets import Dataset

    table_file("jsonl", tmp_path)
    (tmp_path / "notes.md").write_text("# Notes\n\nHedgehogs eat beetles and slugs at night.", encoding="utf-8")
    Dataset.from_list([{"body": "Swifts sleep on the wing."}]).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "README.md").write_text("not a seed", encoding="utf-8")
    seeds = read_seeds(tmp_path, "text", options(text_field="body")).seeds
    assert [Path(s.source).name for s in seeds] == ["corpus.jsonl"] * 3 + ["notes.md", "saved"]
    assert seeds[3].lineage.headings == ["Notes"]  # and the saved dataset's own .json files were not read as tables


def test_rows_with_no_text_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": BODIES[0]}, {"text": ""}, {"text": None}, {"text": BODIES[1]}])
    read = read_seeds(path)
    assert [s.lineage.row for s in read.seeds] == [0, 3] and read.skipped == 2


def test_max_seeds_on_a_parquet_file_spreads_its_picks_and_reads_only_their_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": [f"Row {i} says the tide rose {i} centimetres." for i in range(1000)]}), path, row_group_size=100)
    groups: list[int] = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, i, **kw: groups.append(i) or real(self, i, **kw))
    seeds = read_seeds(path, "text", options(max_seeds=4)).seeds
    assert [s.lineage.row for s in seeds] == [0, 250, 500, 750]
    assert groups == [0, 2, 5, 7]  # 4 of the 10 row groups were read


def test_streaming_stops_reading_once_max_seeds_is_reached(tmp_path: Path) -> None:
    """Two good rows, then far more than any read buffer of lines that are not JSON: a reader that
    went past what it needed would fail on them."""
    path = tmp_path / "stream.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": BODIES[0]}) + "\n" + json.dumps({"text": BODIES[1]}) + "\n")
        handle.write(("{ not json at all " + "x" * 200 + "\n") * 40_000)  # about 8 MB
    assert path.stat().st_size > 8 * 1024 * 1024
    assert [s.text for s in read_seeds(path, "text", options(max_seeds=2)).seeds] == BODIES[:2]
    with pytest.raises(SeedError, match="line 3: malformed JSON"):
        read_seeds(path)  # without the cap, the bad line is reached and named


def test_a_json_array_is_read_an_item_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    items = [{"text": BODIES[0]}, {"text": BODIES[1]}] + [{"text": "y" * 1000}] * 5000
    path.write_text(json.dumps(items)[:-200], encoding="utf-8")  # cut short: the end is malformed
    assert [s.text for s in read_seeds(path, "text", options(max_seeds=2)).seeds] == BODIES[:2]
    with pytest.raises(SeedError, match="array.json: item 50"):
        read_seeds(path)


# --- bad tables: one line naming the file, the row and the problem -----------------------------


def bad(kind: str, folder: Path) -> Path:
    if kind == "missing column":
        return write_jsonl(folder / "a.jsonl", [{"text": "fine"}, {"body": "no text field"}])
    if kind == "not text":
        return write_jsonl(folder / "a.jsonl", [{"text": "fine"}, {"text": 42}])
    if kind == "malformed line":
        (folder / "a.jsonl").write_text('{"text": "fine"}\n{"text": "cut\n', encoding="utf-8")
        return folder / "a.jsonl"
    if kind == "empty file":
        (folder / "a.jsonl").write_text("\n\n", encoding="utf-8")
        return folder / "a.jsonl"
    if kind == "csv missing column":
        (folder / "a.csv").write_text("title,body\nx,y\n", encoding="utf-8")
        return folder / "a.csv"
    if kind == "csv open quote":  # without strict CSV, line 3 became part of line 2's text
        (folder / "a.csv").write_text('id,text\n1,"unterminated quote\n2,foo\n', encoding="utf-8")
        return folder / "a.csv"
    if kind == "control character":
        (folder / "a.jsonl").write_text('{"text": "fine"}\n{"text": "a\tb"}\n', encoding="utf-8")
        return folder / "a.jsonl"
    if kind == "csv ragged":
        (folder / "a.csv").write_text("text,n\nfine,1\nragged\n", encoding="utf-8")
        return folder / "a.csv"
    if kind == "parquet not text":
        pq.write_table(pa.table({"text": [1, 2]}), folder / "a.parquet")
        return folder / "a.parquet"
    if kind == "parquet corrupt":
        (folder / "a.parquet").write_bytes(b"PAR1 not really parquet")
        return folder / "a.parquet"
    (folder / "a.json").write_text('[{"text": "fine"}, 7]', encoding="utf-8")
    return folder / "a.json"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing column", "line 2: no 'text' field (it has: body); name the column with --text-field"),
        ("not text", "line 2: 'text' is a number, not text"),
        ("malformed line", "line 2: malformed JSON"),
        ("empty file", "the file holds no rows"),
        ("csv missing column", "line 2: no 'text' field (it has: title, body)"),
        ("csv ragged", "line 3: the row's fields do not match the header's 2"),
        ("csv open quote", "line 2: unterminated quoted field"),
        ("control character", "line 2: malformed JSON (invalid control character, column 12)"),
        ("parquet not text", "column 'text' holds int64, not text"),
        ("parquet corrupt", "not a readable Parquet file"),
        ("json not an object", "item 1: a JSON number, not an object"),
    ],
)
def test_a_bad_table_is_one_line_naming_file_row_and_problem(kind: str, message: str, tmp_path: Path) -> None:
    path = bad(kind, tmp_path)
    with pytest.raises(SeedError) as error:
        read_seeds(path)
    text = str(error.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


@pytest.mark.parametrize(
    ("kind", "where"), [("jsonl", "line 2"), ("json", "item 1"), ("csv", "line 3"), ("parquet", "row 1")]
)
def test_a_row_over_the_size_limit_is_refused_naming_file_row_and_size(
    kind: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One huge row must not slip past the limit a text file has (a 300 MiB JSONL line took 1.8 GB)."""
    from retrieval import tabular

    monkeypatch.setattr(tabular, "MAX_ROW_BYTES", 1 << 20)
    table = [{"text": BODIES[0]}, {"text": "word " * (3 << 18)}]  # the second: 3.75 MiB
    path = tmp_path / f"big.{kind}"
    if kind == "jsonl":
        write_jsonl(path, table)
    elif kind == "json":
        path.write_text(json.dumps(table), encoding="utf-8")
    elif kind == "csv":
        path.write_text("text\n" + "".join(f'"{r["text"]}"\n' for r in table), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(table), path)
    assert [s.text for s in read_seeds(path, "text", options(max_seeds=1)).seeds] == [BODIES[0]]
    with pytest.raises(SeedError) as error:
        read_seeds(path)
    text = str(error.value)
    assert text.startswith(f"{path}: {where}: ") and "over the 1 MiB limit for a row" in text and "\n" not in text
    assert kind == "csv" or " is 3 MiB, " in text  # a CSV reader stops at the limit, before the field's end


def test_an_unknown_id_field_names_its_option(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="no 'uid' column .* --id-field"):
        read_seeds(table_file("parquet", tmp_path), "text", options(text_field="body", id_field="uid"))


# --- the Hub -------------------------------------------------------------------------------------


def test_an_hf_name_with_no_hub_fails_in_one_line_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    with pytest.raises(SeedError) as offline:  # HF_HUB_OFFLINE=1, as in every test
        read_seeds("hf:allenai/some-corpus:en@train")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SeedError) as unreachable:
        read_seeds("hf:allenai/some-corpus")
    assert time.monotonic() - started < 15
    assert str(offline.value).startswith("hf:allenai/some-corpus:en@train: ") and "\n" not in str(offline.value)
    assert "hf:allenai/some-corpus@train: the Hub at http://127.0.0.1:9 cannot be reached" in str(unreachable.value)
    with pytest.raises(SeedError, match="not a dataset name of the form"):
        read_seeds("hf:")


# --- documents -----------------------------------------------------------------------------------


def test_a_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page in range(1, 4):
        pdf.add_page()
        pdf.multi_cell(0, 10, f"Page {page}: the glacier moved {page + 1} metres this year, the survey team wrote.")
    pdf.output(str(tmp_path / "survey.pdf"))
    seeds = read_seeds(tmp_path / "survey.pdf").seeds
    assert [s.lineage.page for s in seeds] == [1, 2, 3]
    assert seeds[1].text == "Page 2: the glacier moved 3 metres this year, the survey team wrote."


PAGE = """<!doctype html><html><head><title>Bees</title><style>body { color: red }</style>
<script>tracking();</script></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop our honey</a></li></ul></nav>
<header><div class="banner">Subscribe to our newsletter</div></header>
<main><article><h1>How bees make honey</h1>
<p>Bees collect <b>nectar</b> from flowers and carry it to the hive in their honey stomachs, then pass it on.</p>
<h2>In the hive</h2><div><p>House bees fan the nectar with their wings until most of its water is gone, and cap each cell with wax.</p></div>
</article></main><footer><p>Copyright 2024 Example Corp. Privacy policy.</p></footer></body></html>"""


def test_a_web_page_loses_its_markup_navigation_and_boilerplate(tmp_path: Path) -> None:
    (tmp_path / "bees.html").write_text(PAGE, encoding="utf-8")
    seeds = read_seeds(tmp_path / "bees.html").seeds
    text = "\n".join(s.text for s in seeds)
    assert "House bees fan the nectar" in text and "honey stomachs" in text
    assert not any(m in text for m in MARKUP)
    assert not any(junk in text for junk in ("Shop our honey", "newsletter", "Copyright", "Home"))
    assert seeds[-1].lineage.headings == ["How bees make honey", "In the hive"]


def test_a_docx_and_a_pptx_become_markdown_with_headings_and_slides(tmp_path: Path) -> None:
    import docx
    import pptx

    document = docx.Document()
    document.add_heading("Tides", 1)
    document.add_paragraph("The moon pulls the oceans, and most coasts see two tides a day.")
    document.add_heading("Spring tides", 2)
    document.add_paragraph("When the sun and the moon line up, the tides run highest.")
    document.save(str(tmp_path / "tides.docx"))
    deck = pptx.Presentation()
    for n in range(2):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Volcano {n}"
        slide.placeholders[1].text = f"Lava from vent {n} flows downhill."
    deck.save(str(tmp_path / "volcanoes.pptx"))
    seeds = read_seeds(tmp_path).seeds
    by_file = {(Path(s.source).name, s.chunk, s.lineage.page): s for s in seeds}
    assert by_file[("tides.docx", 1, None)].text == "## Spring tides\n\nWhen the sun and the moon line up, the tides run highest."
    assert by_file[("tides.docx", 1, None)].lineage.headings == ["Tides", "Spring tides"]
    assert by_file[("volcanoes.pptx", 0, 2)].text.endswith("Lava from vent 1 flows downhill.")
    assert not any(m in s.text for s in seeds for m in MARKUP)


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".pptx"])
def test_a_broken_document_is_one_line(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not what the name says")
    with pytest.raises(SeedError) as error:
        read_seeds(path)
    assert str(error.value).startswith(f"{path}: not a readable") and "\n" not in str(error.value)


# --- chunking ------------------------------------------------------------------------------------


def test_chunks_split_at_headings_then_paragraphs_and_keep_their_heading_path() -> None:
    text = "# Guide\n\n## Setup\n\n" + "\n\n".join(f"Setup step {i}. " + "word " * 30 for i in range(6)) + "\n\n## Use\n\nRun it."
    chunks = chunk_markdown(text, max_chars=400)
    assert chunks[0].text.startswith("# Guide\n\n## Setup")  # a bare title joins its first section
    assert {tuple(c.headings) for c in chunks} == {("Guide", "Setup"), ("Guide", "Use")}
    assert chunks[-1].text == "## Use\n\nRun it." and all(len(c.text) <= 400 for c in chunks)


def test_overlap_repeats_the_end_of_the_chunk_before() -> None:
    text = "\n\n".join(f"Paragraph {i} tells of the river." for i in range(40))
    chunks = chunk_markdown(text, max_chars=300, overlap=60)
    assert len(chunks) > 2 and all(len(c.text) <= 300 for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):
        last = before.text.split("\n\n")[-1]
        assert after.text.startswith(last)


def test_text_with_no_headings_is_cut_as_before() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(10))
    assert [c.text for c in chunk_markdown(text, 700)] == chunk_text(text, 700)


def test_headings_inside_code_fences_do_not_split() -> None:
    chunks = chunk_markdown("# Script\n\n```bash\n# not a heading\necho hi\n```\n", 3000)
    assert len(chunks) == 1 and chunks[0].headings == ["Script"]


def test_an_overlap_over_half_the_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        SeedOptions(chunk_chars=1000, chunk_overlap=600)
