"""PDF, HTML, DOCX and PPTX files as Markdown, through Microsoft's markitdown and its own
dependencies, so the passage a model sees holds text and Markdown, never markup.

- PDF: page by page with pdfminer (what markitdown's PDF converter runs on text pages), so every
  chunk knows its page; a text box's wrapped lines are joined.
- HTML: the main content first (trafilatura drops navigation, headers, footers, cookie banners;
  markitdown alone keeps them), then markitdown's HTML converter; a page where trafilatura finds
  no main content is converted whole (script and style are still dropped).
- DOCX: mammoth to HTML, then markitdown's HTML converter: what markitdown's DOCX converter does,
  less its equation pre-pass, which (markitdown 0.1.9) loses the XML namespaces of documents that
  python-docx and others write and then refuses them.
- PPTX: markitdown's converter, cut at its slide markers: every chunk knows its slide (as `page`).

HTML comments and image references are dropped from the Markdown: they are not text to teach from.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from retrieval.seeds import SeedError

DOCUMENT_SUFFIXES = (".pdf", ".html", ".htm", ".docx", ".pptx")
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
SLIDE = re.compile(r"<!-- Slide number: (\d+) -->")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


class Page(NamedTuple):
    """A document's text, or one page (slide) of it: number is 1-based, None for a whole document."""

    number: int | None
    markdown: str


def clean(markdown: str) -> str:
    text = IMAGE.sub("", COMMENT.sub("", markdown))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def html_to_markdown(html: str) -> str:
    """HTML to Markdown by markitdown's converter (script and style dropped)."""
    from markitdown.converters import HtmlConverter

    return clean(HtmlConverter().convert_string(html).markdown)


def _pdf(path: Path) -> Iterator[Page]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    try:
        for number, layout in enumerate(extract_pages(str(path)), start=1):
            boxes = [" ".join(box.get_text().split()) for box in layout if isinstance(box, LTTextContainer)]
            yield Page(number, "\n\n".join(b for b in boxes if b))
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AssertionError) as exc:
        raise SeedError(f"{path}: not a readable PDF ({_reason(exc)})") from None
    except Exception as exc:  # encrypted, or broken in a way pdfminer names its own way
        raise SeedError(f"{path}: not a readable PDF ({type(exc).__name__}: {_reason(exc)})") from None


def _html(path: Path) -> Iterator[Page]:
    import trafilatura

    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise SeedError(f"{path}: looks like a binary file, not HTML")
    html = raw.decode("utf-8", errors="replace")
    main = trafilatura.extract(
        html, output_format="html", include_tables=True, include_images=False, include_comments=False, include_links=False
    )
    yield Page(None, html_to_markdown(main or html))


def _docx(path: Path) -> Iterator[Page]:
    import mammoth

    try:
        with path.open("rb") as handle:
            html = mammoth.convert_to_html(handle).value
    except Exception as exc:  # not a zip, no document part, broken XML: mammoth's and zipfile's own errors
        raise SeedError(f"{path}: not a readable DOCX file ({_reason(exc)})") from None
    yield Page(None, html_to_markdown(html))


def _pptx(path: Path) -> Iterator[Page]:
    from markitdown import StreamInfo
    from markitdown.converters import PptxConverter

    try:
        with path.open("rb") as handle:
            markdown = PptxConverter().convert(io.BytesIO(handle.read()), StreamInfo(extension=".pptx")).markdown
    except Exception as exc:  # not a zip, not a presentation: python-pptx's own errors
        raise SeedError(f"{path}: not a readable PPTX file ({_reason(exc)})") from None
    parts = SLIDE.split(markdown)  # text before the first marker, then (number, text) pairs
    for number, text in zip(parts[1::2], parts[2::2], strict=True):
        yield Page(int(number), clean(text))


READERS: dict[str, Any] = {".pdf": _pdf, ".html": _html, ".htm": _html, ".docx": _docx, ".pptx": _pptx}


def read_document(path: Path) -> Iterator[Page]:
    """The document's Markdown, a page (slide) at a time where it has pages."""
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise SeedError(f"{path}: file is {size >> 20} MiB, over the {MAX_DOCUMENT_BYTES >> 20} MiB limit for documents")
    yield from READERS[path.suffix.lower()](path)
