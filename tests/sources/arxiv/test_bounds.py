"""Hostile or broken LaTeX costs linear time: each construct below, repeated unclosed, made a
regex of the cleaner scan the rest of the paper once per repetition (minutes for a paper of a
few hundred KB) before it was written to scan once. And an oversized 00README is refused
before its parser sees it."""

from __future__ import annotations

import time

import pytest

from sources.arxiv import archive, macros, readme, tex

N = 50_000  # repetitions: 0.5-1 MB of LaTeX; quadratic, each case took minutes
PAPER = "\\documentclass{article}\n\\begin{document}\n\\section{Intro}\nSome running text here.\n\\end{document}\n"


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    assert time.perf_counter() - start < 2.0  # linear: tens of milliseconds
    return result


@pytest.mark.parametrize("opener", ["\\begin{figure}", "\\begin{tikzpicture*}", "\\[", "\\ref[", "\\cite[",
                                    "\\includegraphics["])
def test_prose_words_with_unclosed_openers_is_linear(opener):
    assert _timed(tex.prose_words, "alpha beta " + opener * N + " gamma") >= 2


def test_unclosed_comment_environments_are_left_in_linear_time():
    text = "a \\begin{comment} gone \\end{comment} b " + "\\begin{comment}" * N + " kept"
    assert _timed(tex.remove_comments, text) == "a  b " + "\\begin{comment}" * N + " kept"


@pytest.mark.parametrize("blank", [" ", "\t"])
def test_a_long_run_of_blanks_is_scanned_once(blank):
    text = "first % note\n" + blank * 200_000 + "x\nlast"
    assert _timed(tex.remove_comments, text) == "first\n" + blank * 200_000 + "x\nlast"
    assert _timed(tex.tidy, blank * 200_000 + "x" + blank * 3 + "\ny") == "x\ny"


def test_unclosed_bibliography_options_are_linear():
    text = "\\printbibliography[" * N + " text"
    assert _timed(tex.remove_bibliography, text) == "[" * N + " text"  # the commands go, a stray `[` stays
    assert tex.remove_bibliography("a \\printbibliography[heading=none] b") == "a  b"


@pytest.mark.parametrize("opener", ["\\documentclass[", "\\documentclass{"])
def test_main_file_choice_with_unclosed_documentclass_is_linear(opener):
    assert _timed(archive.find_main, {"a.tex": opener * N, "b.tex": PAPER}) == "b.tex"
    _, main, _ = _timed(archive.read_paper, archive.Unpacked({"a.tex": (opener * N).encode(),
                                                              "b.tex": PAPER.encode()}))
    assert main == "b.tex"


def test_a_macro_with_a_name_megabytes_long_costs_linear_time():
    # Found by the fuzz test (a huge field inside `\newcommand{\R}`): the names were compiled
    # into one regex per paper, seconds a megabyte.
    name = "R" + "a" * 4 * 2**20
    text = f"\\newcommand{{\\{name}}}{{x}} \\{name} and \\{name}{{}} y"
    assert _timed(macros.expand_macros, text) == (" x and x y", 2)


def test_a_line_break_with_space_opens_no_display_math():
    # `\\[2pt]` is a line break and a skip, not `\[`: the words after it are running text.
    assert tex.prose_words("alpha beta\\\\[2pt] gamma delta \\[x = y\\] epsilon") == 6  # and `pt`


def test_an_oversized_00readme_is_refused_unparsed():
    big = ("- sources: [a, b, {c: d}]\n" * 20_000).encode()  # 500 KB of YAML: seconds to parse
    directives = _timed(readme.read_directives, {"00README.yaml": big, "ms.tex": PAPER.encode()})
    assert directives.toplevel == [] and "over" in directives.errors[0]


def test_many_toplevel_lines_are_deduplicated_in_order():
    lines = "".join(f"f{i}.tex toplevelfile\n" for i in range(10_000)) * 2
    directives = _timed(readme.read_directives, {"00README.XXX": lines[: readme.MAX_README_BYTES].encode()})
    assert directives.toplevel[:2] == ["f0.tex", "f1.tex"] and len(directives.toplevel) == 10_000
