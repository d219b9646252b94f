"""Stack Exchange post bodies (HTML) -> plain text that keeps the structure a reader needs.

Paragraphs become blank-line separated blocks, `<pre>` code blocks keep their lines verbatim
(fenced with ``` so code stays recognisable), inline `<code>` becomes `code`, list items become
"- item" / "1. item" lines, `<br>` a newline, links keep their text, images their alt text;
entities are unescaped by the parser. Everything else (tags, attributes, scripts) goes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = {"p", "div", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "ul", "ol", "dl"}
SKIP_TAGS = {"script", "style"}


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pre_depth = 0
        self.skip_depth = 0
        self.lists: list[list] = []  # stack of [kind, counter]
        # Just wrote a list marker: a "loose" Markdown list renders `<li><p>item</p></li>`, and
        # the paragraph must stay on the marker's line.
        self.after_marker = False
        self.cells = 0  # cells so far in the current table row
        self.tables = 0  # depth of <table>: the whitespace between its tags is layout, not text

    def _newlines(self, n: int) -> None:
        text = "".join(self.out)
        have = len(text) - len(text.rstrip("\n"))
        if text and have < n:
            self.out.append("\n" * (n - have))

    def handle_starttag(self, tag, attrs):
        if self.after_marker and tag in ("p", "div"):
            return
        self.after_marker = False
        if tag in SKIP_TAGS:
            self.skip_depth += 1
        elif tag == "pre":
            self._newlines(2)
            self.out.append("```\n")
            self.pre_depth += 1
        elif tag == "code" and not self.pre_depth:
            self.out.append("`")
        elif tag in ("ul", "ol"):
            self._newlines(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._newlines(1)
            indent = "  " * max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                self.out.append(f"{indent}{self.lists[-1][1]}. ")
            else:
                self.out.append(f"{indent}- ")
            self.after_marker = True
        elif tag == "table":
            self.tables += 1
            self._newlines(2)
        elif tag == "tr":  # Markdown tables (2020 on): one line a row, cells apart
            self._newlines(1)
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                self.out.append(" | ")
            self.cells += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)
        elif tag in BLOCK_TAGS:
            self._newlines(2)

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
            self._newlines(1)
            self.out.append("```")
            self._newlines(2)
        elif tag == "code" and not self.pre_depth:
            self.out.append("`")
        elif tag == "table":
            self.tables = max(0, self.tables - 1)
            self._newlines(2)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newlines(2 if not self.lists else 1)
        elif tag in BLOCK_TAGS:
            self._newlines(2)

    def handle_data(self, data):
        if self.skip_depth or ((self.after_marker or self.tables) and not data.strip()):
            return
        self.after_marker = False
        if self.pre_depth:
            self.out.append(data)
        else:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    builder = _TextBuilder()
    builder.feed(html)
    builder.close()
    text = "".join(builder.out)
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
