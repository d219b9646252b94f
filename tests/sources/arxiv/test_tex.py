"""arXiv LaTeX cleaning (sources/arxiv/tex.py): comments and `\\iffalse` blocks removed,
everything before the first section cut, the bibliography removed, prose words counted; one
test per rule on small literal papers run through the cleaning chain."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.document import Document
from sources.arxiv import archive, tex
from sources.arxiv.source import clean_paper
from tests.fixtures.arxiv import arxiv_steps


def _clean(latex: str, min_words: int = 3):
    doc = Document("arxiv/x", tex.remove_comments(latex), "arxiv", {})
    return clean_paper(doc, arxiv_steps(min_words))


# --- comments --------------------------------------------------------------------------------
def test_end_of_line_comment_removed_escaped_percent_kept():
    out = tex.remove_comments("About 50\\% of cases. % TODO cite\nNext line.\n")
    assert out == "About 50\\% of cases.\nNext line.\n"


def test_full_line_comment_and_comment_environment_removed():
    out = tex.remove_comments("a\n  % whole line\nb\n\\begin{comment}\nhidden\n\\end{comment}\nc")
    assert out == "a\nb\n\nc"


def test_iffalse_blocks_removed_nested_else_kept_unclosed_left():
    text = ("A \\iffalse old \\ifx\\a\\b x\\else y\\fi draft \\fi B "
            "\\iffalse gone \\else kept \\fi C \\newif\\ifdraft \\iffalse \\ifthenelse{1}{2}{3} z\\fi D")
    assert tex.remove_iffalse(text) == "A  B  kept  C \\newif\\ifdraft  D"
    assert tex.remove_iffalse("E \\iffalse never closed") == "E \\iffalse never closed"


def test_double_backslash_then_percent_is_a_comment():
    assert tex.remove_comments("row \\\\% note\nx") == "row \\\\\nx"


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_mac_and_windows_line_ends_end_comments_at_the_line(newline):
    paper = newline.join(["\\documentclass{article}", "\\begin{document}", "\\section{Intro}",
                          "First line. % a remark for the coauthors", "", "", "Second line stays.",
                          "Third line stays too.", "\\end{document}", ""])
    text, _, _ = archive.read_paper(archive.Unpacked({"paper.tex": paper.encode("latin-1")}))
    status, doc = clean_paper(Document("arxiv/x", text, "arxiv", {}), arxiv_steps())
    assert status == "kept"
    assert doc.text == "\\section{Intro}\nFirst line.\n\nSecond line stays.\nThird line stays too."


# --- structure -----------------------------------------------------------------------------------
def test_paragraph_alone_as_first_heading():
    paper = ("\\documentclass{article}\\titleformat{\\section}{x}\\begin{document}\\maketitle\n"
             "Preface words.\n\\paragraph{Setting.} We study one two three.\n\\end{document}\nafter")
    status, doc = _clean(paper)
    assert status == "kept"
    assert doc.text == "\\paragraph{Setting.} We study one two three."


def test_no_section_is_dropped():
    status, reason = _clean("\\documentclass{article}\\begin{document}Withdrawn.\\end{document}")
    assert (status, reason) == ("dropped", "no_section")


def test_bibliography_followed_by_appendix_keeps_appendix():
    paper = ("\\begin{document}\\section{Intro} Words here today.\n\\bibliographystyle{plain}\n"
             "\\bibliography{refs}\n\\begin{thebibliography}{9}\\bibitem{a} Ref one.\\end{thebibliography}\n"
             "\\appendix\n\\section{Proofs} Appendix text stays.\n\\printbibliography[heading=none]\n\\end{document}")
    status, doc = _clean(paper)
    assert status == "kept"
    assert "Appendix text stays." in doc.text and "\\appendix" in doc.text
    assert "bibitem" not in doc.text and "Ref one" not in doc.text and "refs" not in doc.text
    assert "printbibliography" not in doc.text


def test_paper_with_only_figures_is_dropped():
    figs = "".join(f"\\begin{{figure}}\\includegraphics{{f{i}}}\\caption{{Panel {i} of the data}}\\end{{figure}}"
                   for i in range(5))
    status, reason = _clean(f"\\begin{{document}}\\section{{Results}}{figs}\\end{{document}}", min_words=10)
    assert (status, reason) == ("dropped", "too_little_text")


def test_prose_words_skip_math_floats_and_commands_not_prices():
    text = ("\\section{Intro} Fares cost \\$5 to \\$9 today. $x + y = z$ \\[ a b c \\] \\cite{ab} "
            "\\begin{table}Hidden words here\\end{table} Done now.")
    assert tex.prose_words(text) == 7  # Intro Fares cost to today Done now


TOKENS = ["\\iffalse", "\\fi", "\\else", "\\ifx", "\\def\\a#1{#1#1}", "\\a", "\\b", "{", "}", "#1", "%",
          "\\%", "\n", " word", "\\section{S}", "\\paragraph", "\\begin{thebibliography}", "\\end{thebibliography}",
          "\\appendix", "[", "]", "\\newcommand{\\b}[2][x]{#2#1}", "\\def\\c{\\c}", "\\c", "$", "\\\\",
          "\\begin{document}", "\\end{document}", "\\begin{figure}", "\\end{figure}"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_cleaning_never_fails_other_than_a_limit(text):
    doc = Document("arxiv/x", tex.remove_comments(text), "arxiv", {})
    status, result = clean_paper(doc, arxiv_steps(min_words=0))
    assert status in ("kept", "dropped", "error")
    if status == "kept":
        assert tex.SECTIONING.match(result.text) and "\\begin{thebibliography}" not in result.text
