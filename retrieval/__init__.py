"""Seeds in: files, tables, datasets and documents cut into chunks with their lineage; code
chunks and the code index; the bundled embeddings.

    seeds.py        what a seed is (Seed, SeedLineage, SeedOptions, SeedError)
    sources.py      which reader a --seeds takes (files, folders, tables, datasets, hf:), cut into seeds
    chunking.py     headings first, then paragraphs, with an optional overlap
    tabular.py      JSONL, JSON, CSV and Parquet rows, streamed
    hub.py          hf:NAME[:CONFIG][@SPLIT] streamed from the Hub, and save_to_disk folders
    documents.py    PDF, HTML, DOCX and PPTX to Markdown (markitdown)
    code_chunks.py  code cut at functions, classes and methods
    code_index.py   the Chroma code index tool use searches
    embedding.py    the bundled all-MiniLM-L6-v2
"""
