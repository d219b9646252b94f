"""LaTeX cleaning as in the LLaMA paper (§2, "ArXiv"), following Lewkowycz et al. (2022):
comments removed, user macros expanded inline, everything before the first section cut, the
bibliography removed. Pure functions on strings, testable without Beam or archives.

Where we differ from RedPajama's `arxiv_cleaner.py` (rp_v1), the public reference:
- RedPajama truncates at the first `\\appendix|\\begin{references}|\\begin{thebibliography}|
  \\bibliography`, losing appendices; we cut the bibliography block only and keep what follows.
- RedPajama expands only argument-less `\\newcommand` / `\\def`; we also expand macros with
  arguments (`#1`..`#9`, an optional first argument with its default) and `\\DeclareMathOperator`,
  with bounded recursion depth, expansion count and output size (`\\def\\a{\\a\\a}` ends as an error).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sources.arxiv.macros import LatexLimitError, Limits, expand_macros  # noqa: F401 (re-exported)

# --- comments -------------------------------------------------------------------------------
# A `%` starts a comment unless escaped by an odd number of backslashes (`\\%` is a line break
# then a comment; `\%` is a percent sign). A line holding only a comment goes entirely.
_FULL_LINE_COMMENT = re.compile(r"(?m)^[ \t]*%.*(?:\n|\Z)")
# `(?<![ \t])`: a match starts where a run of blanks starts, not at each of its characters (which
# made a long run of spaces quadratic to scan).
_EOL_COMMENT = re.compile(r"(?m)(?<![ \t])([ \t]*)(?<!\\)((?:\\\\)*)%.*$")
# The `comment` package's environment is a block comment too.
_COMMENT_BEGIN = re.compile(r"\\begin\{comment\}")


def remove_blocks(text: str, opener: re.Pattern, closer: Callable[[re.Match], str], repl: str = "") -> str:
    """`opener ... closer` blocks replaced by `repl`, leftmost first, as `re.sub` of
    `opener.*?closer` (DOTALL) would, but in linear time: an opener never closed is left as
    written, and once a closer is known to be absent past a point it is not searched for again
    (each unclosed `\\begin{figure}` made that regex scan to the end: quadratic)."""
    out, pos, next_closer = [], 0, {}
    for m in opener.finditer(text):
        if m.start() < pos:
            continue  # inside a block already removed
        end_tag = closer(m)
        at = next_closer.get(end_tag)
        if at is None or (at != -1 and at < m.end()):
            at = next_closer[end_tag] = text.find(end_tag, m.end())
        if at == -1:
            continue
        out.append(text[pos:m.start()])
        out.append(repl)
        pos = at + len(end_tag)
    out.append(text[pos:])
    return "".join(out)


def _keep_line_break(m: re.Match) -> str:
    return m.group(1) + m.group(2) if m.group(2) else ""


def remove_comments(text: str) -> str:
    """Drops `%` comments (not `\\%`), `comment` environments and `\\iffalse ... \\fi` blocks."""
    if "%" in text:
        text = _FULL_LINE_COMMENT.sub("", text)
        text = _EOL_COMMENT.sub(_keep_line_break, text)
    if "\\begin{comment}" in text:
        text = remove_blocks(text, _COMMENT_BEGIN, lambda m: "\\end{comment}")
    if "\\iffalse" in text:
        text = remove_iffalse(text)
    return text


# `\iffalse ... \fi` is the other way authors comment out a block. Conditionals nest (`\ifx`,
# `\ifdefined` inside count), an `\else` at the top level keeps its branch; `\ifthenelse` (a
# macro of the ifthen package) and `\newif\iffoo` (a declaration) take no `\fi`. An unclosed
# `\iffalse` is left alone rather than eating the rest of the paper.
_IFFALSE = re.compile(r"\\iffalse(?![A-Za-z@])")
_CONDITIONAL = re.compile(r"(\\newif\s*)?\\(if(?!thenelse(?![A-Za-z@]))[A-Za-z@]*|fi|else)(?![A-Za-z@])")


def _false_branch(text: str, i: int) -> tuple[int | None, int, int] | None:
    """After an `\\iffalse` ending at `i`: (end of a top-level `\\else` or None, start and end of
    its `\\fi`), or None when it is never closed."""
    depth, else_end = 1, None
    for m in _CONDITIONAL.finditer(text, i):
        word = m.group(2)
        if m.group(1) or (word == "else" and depth > 1):
            continue
        if word == "else":
            else_end = else_end or m.end()
        elif word == "fi":
            depth -= 1
            if depth == 0:
                return else_end, m.start(), m.end()
        else:
            depth += 1
    return None


def remove_iffalse(text: str) -> str:
    out, pos = [], 0
    for m in _IFFALSE.finditer(text):
        if m.start() < pos:
            continue  # inside a block already removed
        branch = _false_branch(text, m.end())
        if branch is None:
            break  # unclosed: the rest stays as written (and the scan stays linear)
        else_end, fi_start, fi_end = branch
        out.append(text[pos:m.start()])
        if else_end is not None:
            out.append(text[else_end:fi_start])
        pos = fi_end
    out.append(text[pos:])
    return "".join(out)


# --- structure: first section, bibliography ----------------------------------------------------
# Lewkowycz et al. (2022) / RedPajama: everything before the first sectioning command goes.
SECTIONING = re.compile(r"\\(?:part|chapter|section|subsection|subsubsection|paragraph|subparagraph)\*?(?![A-Za-z@])")
_BEGIN_DOCUMENT = re.compile(r"\\begin\{document\}")
_END_DOCUMENT = re.compile(r"\\end\{document\}")


def cut_before_first_section(text: str) -> str | None:
    """The text from the first sectioning command of the body to `\\end{document}`; None if none.

    The search starts after `\\begin{document}` so that `\\titleformat{\\section}` and the like
    in the preamble do not count.
    """
    begin = _BEGIN_DOCUMENT.search(text)
    start = begin.end() if begin else 0
    m = SECTIONING.search(text, start)
    if m is None:
        return None
    end = _END_DOCUMENT.search(text, m.start())
    return text[m.start():end.start() if end else len(text)]


_BIB_ENV = re.compile(r"\\begin\{(thebibliography|references)\}.*?(?:\\end\{\1\}|(?=\\appendix)|\Z)", re.S)
# An optional argument (`[heading=none]`) is at most OPTION_CHARS long here, without brackets:
# the bound keeps each stray `[` from scanning the rest of the paper (quadratic over many). Our
# bound: real options are a few key=value pairs.
OPTION_CHARS = 1000
_BIB_COMMANDS = re.compile(
    r"\\(?:bibliography|bibliographystyle|nobibliography|addbibresource)\s*\{[^{}]*\}"
    rf"|\\printbibliography(?:\s*\[[^\][]{{0,{OPTION_CHARS}}}\])?")


def remove_bibliography(text: str) -> str:
    """Removes the reference list and the commands that print it; appendices after it stay."""
    text = _BIB_ENV.sub("", text)
    return _BIB_COMMANDS.sub("", text)


# --- final tidying and a prose measure --------------------------------------------------------
_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
# Matched from the first blank of a run only (the lookbehind after it keeps the regex's fast scan
# for its first character): linear, where `[ \t]+\n` rescanned a long run from each of its blanks.
_TRAILING = re.compile(r"[ \t](?<![ \t]{2})[ \t]*\n")


def tidy(text: str) -> str:
    text = _TRAILING.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


_FLOAT_BEGIN = re.compile(r"\\begin\{(figure|table|tabular|tikzpicture)(\*?)\}")
# Math: `\[..\]` (not the `\\[2pt]` of a line break), then `$$..$$` and `$..$`; an escaped
# `\$` (a price) opens nothing.
_DISPLAY_BEGIN = re.compile(r"\\\[(?<!\\\\\[)")  # the lookbehind last: the fast scan for `\[` stays
_DOLLARS = re.compile(r"(?<!\\)\$\$.*?(?<!\\)\$\$|(?<!\\)\$(?:[^$\\]|\\.)*\$", re.S)
_REFS = re.compile(rf"\\(?:label|ref|cite[a-z]*|eqref|includegraphics|url)\s*(?:\[[^\][]{{0,{OPTION_CHARS}}}\])?"
                   r"\{[^{}]*\}")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")


def remove_math(text: str) -> str:
    return _DOLLARS.sub(" ", remove_blocks(text, _DISPLAY_BEGIN, lambda m: "\\]", " "))


def prose_words(text: str) -> int:
    """Words of running text: outside figures, tables and math, not command names."""
    text = remove_blocks(text, _FLOAT_BEGIN, lambda m: f"\\end{{{m.group(1)}{m.group(2)}}}", " ")
    text = _REFS.sub(" ", remove_math(text))
    return len(_WORD.findall(text))


_COMMAND = re.compile(r"\\[A-Za-z@]+\*?|[{}$&^_~]")


# fastText's lid.176 is trained and evaluated on sentences (Joulin et al., "Bag of Tricks for
# Efficient Text Classification", 2016); the first few paragraphs of a paper are plenty, and
# predicting on 20 KB instead costs ~5 ms a paper for the same answer.
LANGID_CHARS = 3_000


def plain_for_langid(text: str, limit: int = LANGID_CHARS) -> str:
    """Rough text for language identification: math and command names out."""
    text = remove_math(text[: limit * 2])
    return _COMMAND.sub(" ", text)[:limit]
