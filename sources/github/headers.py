"""Header boilerplate removal for source files: leading license/copyright comments go, code stays.

The paper removes "boilerplate, such as headers, with regular expressions". RedPajama's
reproduction (as packaged in data-juicer's `clean_copyright_mapper`) deletes the first
`/* ... */` block that mentions "copyright" and then every leading line starting with `//`,
`#` or `--` -- which also deletes `#include`, `#define`, `#!/usr/bin/env` and a Markdown
`# Title`. Here the comment syntax is the file's language's (from its extension), so `#` is a
comment only where it is one, and only the comment blocks *before the first line of code* are
examined:

- a shebang, a PEP 263 coding line, `<?xml ...?>`, `<!DOCTYPE ...>` and a lone `<?php` are kept;
- a run of line comments (`#`, `//`, `--`, `;`, `%`) that contains a license or copyright
  statement loses the paragraphs that are boilerplate (separated by empty comment lines) and
  keeps the others (a one-line description, `shellcheck` or `go:build` directives);
- a block comment (`/* */`, `<!-- -->`, `{- -}`, `--[[ ]]`, `(* *)`) that contains one is removed;
- a Python module docstring is removed only when it *starts* as a license or copyright notice
  (a docstring that documents the module and mentions its license at the end is documentation).
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class CommentSyntax:
    line: tuple[str, ...] = ()
    blocks: tuple[tuple[str, str], ...] = ()
    docstring: bool = False


C_LIKE = CommentSyntax(line=("//",), blocks=(("/*", "*/"),))
HASH = CommentSyntax(line=("#",))
SQL = CommentSyntax(line=("--",), blocks=(("/*", "*/"),))
MARKUP = CommentSyntax(blocks=(("<!--", "-->"),))

SYNTAX: dict[str, CommentSyntax] = {
    **{lang: C_LIKE for lang in ("c", "c++", "c#", "java", "javascript", "typescript", "go", "rust", "scala",
                                "css", "php", "kotlin", "swift", "smali", "objective-c", "dart", "groovy")},
    **{lang: HASH for lang in ("shell", "perl", "ruby", "cmake", "dockerfile", "makefile", "powershell",
                              "r", "yaml", "toml", "julia", "tcl", "nix")},
    "python": CommentSyntax(line=("#",), docstring=True),
    "sql": SQL,
    "lua": CommentSyntax(line=("--",), blocks=(("--[[", "]]"),)),
    "haskell": CommentSyntax(line=("--",), blocks=(("{-", "-}"),)),
    "ocaml": CommentSyntax(blocks=(("(*", "*)"),)),
    "emacs-lisp": CommentSyntax(line=(";",), blocks=(("#|", "|#"),)),
    "lisp": CommentSyntax(line=(";",), blocks=(("#|", "|#"),)),
    "scheme": CommentSyntax(line=(";",), blocks=(("#|", "|#"),)),
    "clojure": CommentSyntax(line=(";",)),
    "html": MARKUP, "xml": MARKUP, "markdown": MARKUP,
    "tex": CommentSyntax(line=("%",)),
    "erlang": CommentSyntax(line=("%",)),
    "matlab": CommentSyntax(line=("%",), blocks=(("%{", "%}"),)),
    "fortran": CommentSyntax(line=("!",)),
    "assembly": CommentSyntax(line=(";", "#", "//"), blocks=(("/*", "*/"),)),
    "batchfile": CommentSyntax(line=("::", "rem ", "REM ", "@rem ", "@REM ")),
    "visual-basic": CommentSyntax(line=("'",)),
}
SYNTAX["powershell"] = CommentSyntax(line=("#",), blocks=(("<#", "#>"),))
SYNTAX["objective-c"] = CommentSyntax(line=("//", "%"), blocks=(("/*", "*/"),))

# A license or copyright statement: one of these makes a comment a header. Phrases from the
# standard notices (Apache-2.0 appendix, MIT, BSD, GNU "How to Apply", MPL-2.0 Exhibit A, SPDX).
STRONG = re.compile(
    r"copyright|\u00a9|\(c\)\s*\d{4}|spdx-license-identifier|licensed under|under the terms of the"
    r"|permission is hereby granted|redistribution and use|all rights reserved"
    r"|is free software|general public licen[cs]e|mozilla public licen[cs]e|apache licen[cs]e"
    r"|use of this source code is governed|released under the|licen[cs]e: ",
    re.IGNORECASE,
)
# Inside a header comment, the paragraphs that are part of the notice (warranty disclaimers,
# "you may not use this file...", the license URL) match this wider pattern.
BOILERPLATE = re.compile(
    STRONG.pattern + r"|licen[cs]|warrant|merchantab|liabilit|redistribut|gnu\.org|free software foundation"
    r"|the software|this software|as is\b|contributors|authors? or copyright|permissions? and",
    re.IGNORECASE,
)
CODING_LINE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")  # PEP 263
PROLOGUE = re.compile(r"^(<\?xml\b.*\?>|<!DOCTYPE\b[^>]*>|<\?php)\s*$", re.IGNORECASE)
DOCSTRING_START = re.compile(r"^[rRuU]?(\"\"\"|''')")
HAS_WORD = re.compile(r"[^\W_]")
NOTICE_FIELD = re.compile(r"^\s*:(copyright|license|licence):", re.IGNORECASE)


def strip_header(text: str, language: str) -> str:
    """`text` without its leading license/copyright comments (unchanged when there are none)."""
    syntax = SYNTAX.get(language)
    if syntax is None or not text:
        return text
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i, removed = 0, False
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#!") or PROLOGUE.match(stripped) \
                or (i < 2 and language == "python" and CODING_LINE.match(lines[i])):
            out.append(lines[i])
            i += 1
            continue
        block = _block_end(lines, i, syntax)
        if block is not None:
            end, is_header = block
        elif _line_marker(stripped, syntax):
            end, kept = _line_run(lines, i, syntax)
            is_header = kept is not None
            if is_header and kept:
                out.extend(kept)
                removed = True
                i = end
                continue
        elif syntax.docstring and DOCSTRING_START.match(stripped):
            end, is_header = _docstring(lines, i)
            if is_header:  # a license docstring: the next statement is the first one now
                i, removed = _skip_blank(lines, end), True
                continue
            if end is not None:
                kept = _drop_notice_fields(lines[i:end])
                removed = removed or len(kept) < end - i
                out.extend(kept)
                i = end
            break  # a documenting docstring is the first statement: code starts here
        else:
            break  # the first line of code
        if end is None:
            break  # an unterminated comment: leave the file as it is
        if is_header:
            i, removed = _skip_blank(lines, end), True
        else:
            out.extend(lines[i:end])
            i = end
    if not removed:
        return text
    result = "".join(out) + "".join(lines[i:])
    return result.lstrip("\r\n") if not result.startswith("#!") else result


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _line_marker(stripped: str, syntax: CommentSyntax) -> str | None:
    for marker in syntax.line:
        if stripped.startswith(marker):
            return marker
    return None


def _line_run(lines: list[str], i: int, syntax: CommentSyntax) -> tuple[int, list[str] | None]:
    """A run of line comments from `i`: (end, None) when not a header, else (end, lines kept)."""
    marker = _line_marker(lines[i].strip(), syntax)
    end = i
    while end < len(lines) and _line_marker(lines[end].strip(), syntax) == marker:
        if any(_block_opens(lines[end].strip(), syntax)):
            break
        end += 1
    run = lines[i:end]
    if not STRONG.search("".join(run)):
        return end, None
    paragraphs: list[list[str]] = [[]]
    separator = None
    for line in run:
        body = line.strip()[len(marker):]
        if HAS_WORD.search(body):
            paragraphs[-1].append(line)
        else:
            separator = separator or line
            paragraphs.append([])
    kept = [p for p in paragraphs if p and not BOILERPLATE.search("".join(p))]
    out: list[str] = []
    for n, paragraph in enumerate(kept):
        if n and separator:
            out.append(separator)
        out.extend(paragraph)
    return end, out


def _block_opens(stripped: str, syntax: CommentSyntax):
    return (pair for pair in syntax.blocks if stripped.startswith(pair[0]))


def _block_end(lines: list[str], i: int, syntax: CommentSyntax) -> tuple[int | None, bool] | None:
    """A block comment opening at line `i`: (line after it or None if unterminated, is header)."""
    stripped = lines[i].lstrip()
    for opener, closer in sorted(syntax.blocks, key=lambda p: -len(p[0])):
        if not stripped.startswith(opener):
            continue
        rest, start = stripped[len(opener):], i
        for j in range(i, len(lines)):
            segment = rest if j == start else lines[j]
            at = segment.find(closer)
            if at < 0:
                continue
            if segment[at + len(closer):].strip():
                return None, False  # code follows the comment on its line: leave it alone
            comment = "".join([stripped] + lines[i + 1:j + 1])
            return j + 1, bool(STRONG.search(comment))
        return None, False
    return None


def _drop_notice_fields(doc_lines: list[str]) -> list[str]:
    """A documenting docstring without its reST `:copyright:` / `:license:` field lines
    (the Pocoo/Pygments/Requests convention), and the blank line that preceded them."""
    kept: list[str] = []
    for line in doc_lines:
        if NOTICE_FIELD.match(line) and '"""' not in line and "'''" not in line:
            while kept and len(kept) > 1 and not kept[-1].strip():
                kept.pop()
            continue
        kept.append(line)
    return kept


def _docstring(lines: list[str], i: int) -> tuple[int | None, bool]:
    """The module docstring at `i`: (line after it, whether it starts as a license notice)."""
    stripped = lines[i].strip()
    quote = DOCSTRING_START.match(stripped).group(1)
    body_start = stripped.index(quote) + 3
    first_rest = stripped[body_start:]
    if quote in first_rest:
        end, body = i + 1, [first_rest[:first_rest.index(quote)]]
    else:
        end, body = None, [first_rest]
        for j in range(i + 1, len(lines)):
            if quote in lines[j]:
                body.append(lines[j][:lines[j].index(quote)])
                if lines[j][lines[j].index(quote) + 3:].strip():
                    return None, False
                end = j + 1
                break
            body.append(lines[j])
    if end is None:
        return None, False
    first = next((b.strip() for b in body if b.strip()), "")
    return end, bool(STRONG.search(first))
