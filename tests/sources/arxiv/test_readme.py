"""A submission's 00README (sources/arxiv/readme.py): its word on the top-level file(s), old
`00README.XXX` and new `00README.json` / `.yaml`, and unusable ones counted and set aside."""

from __future__ import annotations

import pytest

from pipeline.document import Document
from sources.arxiv import archive
from sources.arxiv.source import clean_paper
from tests.fixtures.arxiv import OLD_DRAFT, WORDS, arxiv_steps, latex_paper, paper_in_bulk, readme_json


def test_readme_toplevelfile_names_the_main_file():
    files = {"00README.XXX": b"b.tex toplevelfile\n", "a.tex": b"\\documentclass{x}\\begin{document}A",
             "b.tex": b"\\documentclass{x}\\begin{document}B"}
    assert archive.read_paper(archive.Unpacked(files))[1] == "b.tex"


def test_readme_json_names_a_main_the_heuristics_would_not_pick(tmp_path):
    files = {"main.tex": OLD_DRAFT, "arxiv_final.tex": latex_paper("Final version"), "fig1.pdf": b"%PDF-1.5",
             "00README.json": readme_json(("arxiv_final.tex", "toplevel"), ("fig1.pdf", "include"))}
    assert archive.read_paper(archive.Unpacked({k: v for k, v in files.items() if k.endswith(".tex")}))[1] == "main.tex"
    doc = paper_in_bulk(tmp_path, "2301/2301.00011.gz", files)
    assert doc.meta["main_file"] == "arxiv_final.tex" and doc.meta["toplevel_files"] == ["arxiv_final.tex"]
    assert doc.meta["readme_errors"] == 0
    status, doc = clean_paper(doc, arxiv_steps())
    assert status == "kept" and doc.text.startswith("\\section{Final version}") and "Old draft" not in doc.text


@pytest.mark.parametrize("readme", [("00README.XXX", b"main.tex ignore\nnostamp\n"),
                                    ("00README.json", readme_json(("main.tex", "ignore")))])
def test_file_marked_ignore_is_never_the_main(readme):
    files = {"main.tex": OLD_DRAFT, "submission.tex": latex_paper("Submitted"), readme[0]: readme[1]}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "submission.tex" and "Old draft" not in text and flat.readme_errors == 0


def _yaml_readme(*names: str) -> bytes:
    return ("process:\n  compiler: pdflatex\nsources:\n"
            + "".join(f"  - filename: {n}\n    usage: toplevel\n" for n in names)).encode()


@pytest.mark.parametrize("readme", [
    ("00README.XXX", b"paper.tex toplevelfile\r\nappendix.tex toplevelfile\r\n"),
    ("00README.json", readme_json(("paper.tex", "toplevel"), ("appendix.tex", None), ("fig.eps", "include"))),
    ("00README.yaml", _yaml_readme("paper.tex", "appendix.tex"))])
def test_several_toplevel_files_are_joined_in_the_readme_order(readme):
    if readme[0].endswith(".yaml"):
        pytest.importorskip("yaml")
    files = {"paper.tex": latex_paper("Introduction", preamble="\\newcommand{\\R}{\\mathbb{R}}\n"),
             "appendix.tex": latex_paper("Supplementary proofs", body="On $\\Rn$ we have " + WORDS,
                                  preamble="\\newcommand{\\Rn}{\\mathbb{R}^n}\n"),
             readme[0]: readme[1]}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "paper.tex" and flat.toplevel_files == ["paper.tex", "appendix.tex"]
    status, doc = clean_paper(Document("arxiv/x", text, "arxiv", {}), arxiv_steps())
    assert status == "kept"
    assert doc.text.index("\\section{Introduction}") < doc.text.index("\\section{Supplementary proofs}")
    assert "$\\mathbb{R}^n$" in doc.text  # the second part's own macro, expanded
    assert "documentclass" not in doc.text and "\\end{document}" not in doc.text


@pytest.mark.parametrize("payload", [
    # arXiv's help page example, typo and all
    b'{\n  "process": {\n     "compiler": "pdflatex\'\n  },\n  "sources": [\n'
    b'    { "filename": "my_super_paper.tex", "usage": "toplevel" }\n  ]\n}\n',
    b"[" * 100_000,  # nested past Python's recursion limit
    b'{"sources": "my_super_paper.tex"}',
    b'{"sources": [{"usage": "toplevel"}]}',
    b'{"sources": [{"filename": "my_super_paper.tex", "usage": "toplevel"}]',  # truncated
    b"\x00\x01\x02 not text",
    b'{"sources": [{"filename": "not_in_archive.tex", "usage": "toplevel"}]}',
], ids=["quote_typo", "deep_nesting", "sources_not_list", "no_filename", "truncated", "binary", "absent_file"])
def test_unusable_readme_json_falls_back_to_the_heuristics_and_is_counted(payload):
    files = {"00README.json": payload, "intro.tex": b"\\section{Intro} " + WORDS.encode(),
             "ms.tex": b"\\documentclass{article}\\begin{document}\\input{intro}\\end{document}"}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "ms.tex" and "\\section{Intro}" in text and flat.readme_errors == 1


def test_new_readme_rules_over_the_old_one_and_the_old_one_is_the_fallback():
    files = {"a.tex": latex_paper("A"), "b.tex": latex_paper("B"), "00README.XXX": b"a.tex toplevelfile\n",
             "00README.json": readme_json(("b.tex", "toplevel"))}
    assert archive.read_paper(archive.Unpacked(files))[1] == "b.tex"
    files["00README.json"] = b'{"sources": [{"filename": "b.tex",'
    _, main, flat = archive.read_paper(archive.Unpacked(files))
    assert (main, flat.readme_errors) == ("a.tex", 1)


def test_readme_names_are_relative_to_its_folder():
    files = {"paper/00README.json": readme_json(("./src/final.tex", "toplevel")), "paper/main.tex": OLD_DRAFT,
             "paper/src/final.tex": latex_paper("Final"), "paper/src/sec.tex": b"x"}
    assert archive.read_paper(archive.Unpacked(files))[1] == "paper/src/final.tex"
