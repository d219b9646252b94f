"""Small clean-shard fixtures of real text for the tokenizer and token-shard tests: news articles
(lee_background.cor), a Project Gutenberg novel (botchan.txt) and this project's own Python code,
written as `data/clean/<source>/<source>-00000-of-00001.jsonl.gz` like the corpus jobs write them."""

from __future__ import annotations

import os

from pipeline.document import Document, stable_id
from pipeline.writers import gzip_lines
from pipeline.assets import asset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def news() -> list[str]:
    with open(asset_path("lee_background.cor"), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def novel_chapters(size: int = 6000) -> list[str]:
    """Botchan (after the Gutenberg header) cut into ~`size`-character parts at line ends."""
    with open(asset_path("botchan.txt"), encoding="utf-8-sig") as f:
        text = f.read().replace("\r\n", "\n")
    start = text.find("*** START OF")
    text = text[text.find("\n", start) + 1:] if start >= 0 else text
    parts, current, length = [], [], 0
    for line in text.split("\n"):
        current.append(line)
        length += len(line) + 1
        if length >= size:
            parts.append("\n".join(current).strip())
            current, length = [], 0
    parts.append("\n".join(current).strip())
    return [p for p in parts if p]


def code_files() -> list[str]:
    """Real Python code that does not change while the project does: standard-library modules."""
    stdlib = os.path.dirname(os.__file__)
    names = ["textwrap.py", "difflib.py", "heapq.py", "bisect.py", "fnmatch.py", "shlex.py", "calendar.py",
             "string.py", "colorsys.py", "glob.py", "json/__init__.py", "json/decoder.py", "json/encoder.py",
             "json/scanner.py", "json/tool.py", "csv.py", "getopt.py", "gettext.py", "base64.py", "quopri.py"]
    out = []
    for name in names:
        with open(os.path.join(stdlib, name), encoding="utf-8") as f:
            out.append(f.read())
    return out


def write_clean(data: str, source: str, texts: list[str]) -> str:
    """Writes `texts` as the source's one clean shard; returns its path."""
    folder = os.path.join(data, "clean", source)
    os.makedirs(folder, exist_ok=True)
    docs = [Document(stable_id(source, str(i)), text, source, {}) for i, text in enumerate(texts)]
    docs.sort(key=lambda d: d.id)
    path = os.path.join(folder, f"{source}-00000-of-00001.jsonl.gz")
    with open(path, "wb") as f:
        f.write(gzip_lines([d.to_json() for d in docs]))
    return path


def build_corpus(data: str) -> dict[str, int]:
    """Four sources of real text; returns characters per source."""
    articles = news()
    corpus = {
        "commoncrawl": articles[:200],
        "wikipedia": articles[200:],
        "books": novel_chapters(),
        "github": code_files(),
    }
    for source, texts in corpus.items():
        write_clean(data, source, texts)
    return {source: sum(map(len, texts)) for source, texts in corpus.items()}


def write_ascii_json_shard(data: str, source: str, name: str, docs: list[tuple[str, str]]) -> str:
    """(id, text) pairs as a clean shard written the way Python's json module and pandas write by
    default (ensure_ascii): non-ASCII as \\uXXXX escapes, so a lone surrogate stays one in the file."""
    import gzip
    import json

    folder = os.path.join(data, "clean", source)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    lines = "".join(json.dumps({"id": i, "text": t, "source": source, "meta": {}}) + "\n" for i, t in docs)
    with open(path, "wb") as f:
        f.write(gzip.compress(lines.encode("ascii"), mtime=0))
    return path
