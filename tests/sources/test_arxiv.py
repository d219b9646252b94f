"""ArXiv source: one test per cleaning rule on small literal papers, hostile and bad input, and
one end-to-end job on the sample dump."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.document import Document, ErrorRecord, stable_id
from sources.arxiv import archive
from sources.arxiv import tex
from sources.arxiv.source import ArxivConfig, ArxivSource, clean_paper, read_papers
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _steps(min_words: int = 3):
    return ArxivSource(ArxivConfig(min_words=min_words, detect_language=False)).steps()


def _clean(latex: str, min_words: int = 3):
    doc = Document("arxiv/x", tex.remove_comments(latex), "arxiv", {})
    return clean_paper(doc, _steps(min_words))


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


# --- macros ------------------------------------------------------------------------------------
def test_macro_with_two_arguments_used_three_times():
    text = "\\newcommand{\\pair}[2]{(#1, #2)}\n$\\pair{a}{b}$, $\\pair{x^2}{\\alpha}$ and $\\pair c d$."
    out, n = tex.expand_macros(text)
    assert n == 3
    assert out.strip() == "$(a, b)$, $(x^2, \\alpha)$ and $(c, d)$."


def test_def_without_arguments():
    out, n = tex.expand_macros("\\def\\R{\\mathbb{R}}\nLet $x \\in \\R^n$ and $\\Re z$.")
    assert out.strip() == "Let $x \\in \\mathbb{R}^n$ and $\\Re z$."  # \Re is not \R
    assert n == 1


def test_optional_default_argument_and_math_operator():
    text = ("\\newcommand{\\loss}[2][\\theta]{L_{#2}(#1)}\\DeclareMathOperator*{\\argmin}{arg\\,min}"
            "$\\loss{D}$ $\\loss[\\phi]{D}$ $\\argmin_x$")
    out, _ = tex.expand_macros(text)
    assert out == "$L_{D}(\\theta)$ $L_{D}(\\phi)$ $\\operatorname*{arg\\,min}_x$"


def test_def_with_parameters_nested_macros_and_empty_group():
    text = "\\def\\vec#1{\\mathbf{#1}}\\newcommand\\LLM{large language model}\\newcommand{\\x}{\\vec{x}}" \
           "The \\LLM{} sees $\\x$."
    out, n = tex.expand_macros(text)
    assert out == "The large language model sees $\\mathbf{x}$."
    assert n == 3


def test_renew_replaces_provide_does_not_and_at_internals_untouched():
    text = ("\\newcommand{\\a}{1}\\renewcommand{\\a}{2}\\providecommand{\\a}{3}\\providecommand{\\b}{4}"
            "\\def\\@x{y}\\renewcommand{\\section}{z}[\\a\\b]")
    out, _ = tex.expand_macros(text)
    assert out.endswith("[24]")
    assert "\\def\\@x{y}" in out and "\\renewcommand{\\section}{z}" in out


def test_recursive_def_is_bounded():
    with pytest.raises(tex.LatexLimitError) as info:
        tex.expand_macros("\\def\\a{\\a\\a}\n\\a")
    assert info.value.kind == "macro_recursion"


def test_wide_macro_bomb_hits_size_or_count_limit():
    letters = "abcdefghij"
    text = "".join("\\def\\m" + a + "{" + ("\\m" + b) * 10 + "}" for a, b in zip(letters, letters[1:]))
    text += "\\def\\mj{" + "x" * 100 + "}\\ma"
    with pytest.raises(tex.LatexLimitError) as info:
        tex.expand_macros(text, tex.Limits(max_expansions=10**9))
    assert info.value.kind == "macro_size_limit"
    with pytest.raises(tex.LatexLimitError) as info:
        tex.expand_macros(text)
    assert info.value.kind in ("macro_expansion_limit", "macro_size_limit")


def test_unbalanced_braces_are_bounded():
    with pytest.raises(tex.LatexLimitError) as info:
        tex.expand_macros("\\newcommand{\\x}[1]{x}" + "\\x{ab " * 10000)
    assert info.value.kind == "macro_scan_limit"
    out, n = tex.expand_macros("\\newcommand{\\x}[1]{<#1>}" + "\\x{ab} " * 10000)  # balanced: fine
    assert n == 10000 and out.count("<ab>") == 10000


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
    status, result = clean_paper(doc, _steps(min_words=0))
    assert status in ("kept", "dropped", "error")
    if status == "kept":
        assert tex.SECTIONING.match(result.text) and "\\begin{thebibliography}" not in result.text


# --- archives ------------------------------------------------------------------------------------
def test_arxiv_ids_new_and_old():
    assert archive.parse_arxiv_id("2301/2301.00001.gz") == ("2301.00001", "2301")
    assert archive.parse_arxiv_id("0704.0001.tar.gz") == ("0704.0001", "0704")
    assert archive.parse_arxiv_id("0501/math0501001.gz") == ("math/0501001", "0501")
    assert archive.parse_arxiv_id("hep-th9901001.gz") == ("hep-th/9901001", "9901")


def test_input_resolved_inside_archive_only():
    files = {"paper/main.tex": b"\\documentclass{x}\\begin{document}\\input{sec/a}\n%\\input{sec/hidden}\n"
                               b"\\include{sec/b.tex}\\input epsf \\end{document}",
             "paper/sec/a.tex": b"A text % note\n", "paper/sec/b.tex": b"B text", "other.tex": b"\\section{x}"}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "paper/main.tex"
    assert "A text\n" in text and "B text" in text and "hidden" not in text
    assert flat.missing_inputs == 1  # epsf: a system file, not in the archive


@pytest.mark.parametrize("target", ["/etc/passwd", "../../etc/passwd", "sec/../../x", "|ls"])
def test_input_outside_archive_is_refused(target):
    files = {"main.tex": f"\\documentclass{{x}}\\begin{{document}}\\input{{{target}}}\\end{{document}}".encode()}
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "unsafe_input"


def test_input_cycle_is_bounded():
    files = {"main.tex": b"\\documentclass{x}\\begin{document}\\input{a}", "a.tex": b"\\input{main}"}
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "input_depth"


def test_inner_member_traversal_and_links_ignored_and_counted():
    raw = _tar({"../../etc/passwd": b"root:x:0:0", "/abs.tex": b"x", "ms.tex": b"\\section{A} b"})
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r") as src, io.BytesIO() as out:
        with tarfile.open(fileobj=out, mode="w") as tar:
            for member in src.getmembers():
                tar.addfile(member, src.extractfile(member))
            link = tarfile.TarInfo("secret.tex")  # a symlink to a file outside the archive
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
        unpacked = archive.unpack("2301.00001.gz", _gz(out.getvalue()))
    assert list(unpacked.files) == ["ms.tex"] and unpacked.ignored_members == 3
    text, main, _ = archive.read_paper(unpacked)
    assert main == "ms.tex" and "root" not in text


def test_readme_toplevelfile_names_the_main_file():
    files = {"00README.XXX": b"b.tex toplevelfile\n", "a.tex": b"\\documentclass{x}\\begin{document}A",
             "b.tex": b"\\documentclass{x}\\begin{document}B"}
    assert archive.read_paper(archive.Unpacked(files))[1] == "b.tex"


def test_bad_inputs_become_errors(tmp_path):
    good = _gz(b"\\documentclass{article}\\begin{document}\\section{A} text\\end{document}")
    latin1 = _gz("\\section{Caf\u00e9} na\u00efve".encode("latin-1"))
    outer = _tar({"2301/2301.00001.gz": good[:40] + b"junk" * 20, "2301/2301.00002.gz": latin1,
                  "2301/2301.00003.gz": _gz(b"\x00\x01binary"), "2301/2301.00004.pdf": b"%PDF-1.4",
                  "../../etc/passwd": b"root:x:0:0"})
    bulk = tmp_path / "arXiv_src_2301_001.tar"
    bulk.write_bytes(outer[: len(outer) - 1500])  # truncated: the last member is cut
    records = list(read_papers(str(bulk)))
    kinds = [r.kind if isinstance(r, ErrorRecord) else "doc" for r in records]
    assert kinds[:4] == ["bad_gzip", "doc", "binary_file", "no_latex_source"]
    assert kinds[4] in ("unsafe_member", "bad_tar")
    latin = records[1]
    assert latin.meta["encoding"] == "latin-1" and "Caf\u00e9" in latin.text
    assert all("root:x" not in (r.excerpt if isinstance(r, ErrorRecord) else r.text) for r in records)


# --- the whole job ---------------------------------------------------------------------------------
def test_job_on_sample(tmp_path):
    from samples import arxiv as sample
    from pipeline.assets import asset_path

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    sample.build(str(raw), os.path.dirname(asset_path("lid.176.ftz")), seed=1)
    stats = run_source(ArxivSource(), [str(p) for p in sorted(raw.rglob("*")) if p.is_file()], str(out))
    assert stats["errors"] == {"bad_gzip": 1, "macro_recursion": 1, "no_latex_source": 1,
                               "unsafe_input": 1, "unsafe_member": 1}
    assert stats["dropped"] == {"no_section": 1, "too_little_text": 1}
    # 16 good papers, paragraph_first, latin1, inner_traversal and the singles 2302.00003 / 2302.00004
    assert stats["documents_out"] == 21 and stats["arxiv_read"]["ignored_members"] == 1
    assert stats["arxiv_read"]["readme_errors"] == 0
    assert stats["arxiv_read"]["decoded_latin1"] == 1
    docs = {d["meta"]["arxiv_id"]: d for d in clean_docs(str(out), "arxiv")}
    assert "math/0501000" in docs and docs["math/0501000"]["meta"]["url"] == "https://arxiv.org/abs/math/0501000"
    for doc in docs.values():
        assert doc["meta"]["language"] == "en"
        assert doc["text"].startswith(("\\section", "\\paragraph")) and "thebibliography" not in doc["text"]
        assert "\\newcommand" not in doc["text"] and "\\norm" not in doc["text"] and "50\\% of" in doc["text"]
        assert "reviewer 2" not in doc["text"] and "TODO" not in doc["text"]  # comments removed
        assert "Additional proofs" in doc["text"]  # the appendix after the bibliography
    assert "\\input" not in docs["2301.00001"]["text"] and "Related work" in docs["2301.00001"]["text"]
    # the 00README.json's top-level file, not the draft the heuristics prefer
    with gzip.open(raw / "singles" / "2302.00003.tar.gz") as f, tarfile.open(fileobj=f) as tar:
        submission = {m.name: tar.extractfile(m).read().decode() for m in tar}
    assert archive.find_main({n: t for n, t in submission.items() if n.endswith(".tex")}) == "main.tex"
    readme = docs["2302.00003"]
    assert readme["meta"]["main_file"] == "camera_ready.tex" and readme["meta"]["toplevel_files"] == ["camera_ready.tex"]
    cleaned = {}
    for name in ("camera_ready.tex", "main.tex"):
        text = archive.read_paper(archive.Unpacked({name: submission[name].encode()}))[0]
        cleaned[name] = clean_paper(Document("arxiv/x", text, "arxiv", {}), _steps())[1].text
    assert readme["text"] == cleaned["camera_ready.tex"] != cleaned["main.tex"]
    bare = docs["2302.00004"]  # saved under its bare id: gzip, no extension
    assert bare["meta"]["url"].endswith("/abs/2302.00004") and bare["meta"]["main_file"] == "2302.00004.tex"
    errors = read_jsonl_gz(str(out / "errors" / "arxiv" / "*.jsonl.gz"))
    assert len(errors) == 5 and all("root:x" not in e["excerpt"] for e in errors)
    assert sorted(os.listdir(tmp_path)) == ["out", "raw"]


# --- real-format variations of submissions -----------------------------------------------------------
WORDS = " ".join(f"word{i}" for i in range(40))


def _paper_in_bulk(tmp_path, name: str, files: dict[str, bytes]):
    """Writes one submission as it comes in a bulk tar (`YYMM/<id>.gz`, a gzipped tar) and reads it."""
    bulk = tmp_path / "arXiv_src_2301_001.tar"
    bulk.write_bytes(_tar({name: _gz(_tar(files))}))
    (record,) = read_papers(str(bulk))
    assert not isinstance(record, ErrorRecord), record
    return record


def test_subfiles_parts_are_inlined_without_their_own_document(tmp_path):
    part = "\\documentclass[../main.tex]{{subfiles}}\n\\begin{{document}}\n\\section{{{0}}}\n{0} {1}\n\\end{{document}}\n"
    doc = _paper_in_bulk(tmp_path, "2301/2301.00007.gz", {
        "main.tex": b"\\documentclass{article}\n\\usepackage{subfiles}\n\\begin{document}\n\\maketitle\n"
                    b"\\subfile{sections/intro}\n\\subfile{sections/method}\n\\end{document}\n",
        "sections/intro.tex": part.format("Introduction", WORDS).encode(),
        "sections/method.tex": part.format("Method", WORDS).encode()})
    assert doc.meta["main_file"] == "main.tex"
    status, doc = clean_paper(doc, _steps())
    assert status == "kept"
    assert "\\section{Introduction}" in doc.text and "\\section{Method}" in doc.text  # not cut at the first part's end
    assert "documentclass" not in doc.text and "\\end{document}" not in doc.text


def test_preamble_continued_in_an_input_file_keeps_its_macros():
    files = {"main.tex": b"\\documentclass{article}\n\\input{defs}\n\\section{A} $\\R$ " + WORDS.encode() + b"\n\\end{document}",
             "defs.tex": b"\\newcommand{\\R}{\\mathbb{R}}\n\\begin{document}\n"}
    text, _, _ = archive.read_paper(archive.Unpacked(files))
    status, doc = clean_paper(Document("arxiv/x", text, "arxiv", {}), _steps())
    assert status == "kept" and "$\\mathbb{R}$" in doc.text


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_mac_and_windows_line_ends_end_comments_at_the_line(newline):
    paper = newline.join(["\\documentclass{article}", "\\begin{document}", "\\section{Intro}",
                          "First line. % a remark for the coauthors", "", "", "Second line stays.",
                          "Third line stays too.", "\\end{document}", ""])
    text, _, _ = archive.read_paper(archive.Unpacked({"paper.tex": paper.encode("latin-1")}))
    status, doc = clean_paper(Document("arxiv/x", text, "arxiv", {}), _steps())
    assert status == "kept"
    assert doc.text == "\\section{Intro}\nFirst line.\n\nSecond line stays.\nThird line stays too."


def test_nested_input_resolved_from_the_main_files_folder():
    # LaTeX runs in the main file's folder: an \input inside sec/a.tex names sec/b from there.
    files = {"paper/main.tex": b"\\documentclass{article}\\begin{document}\\input{sec/a}\\end{document}",
             "paper/sec/a.tex": b"\\section{A} text of a. \\input{sec/b}", "paper/sec/b.tex": b"text of b."}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "paper/main.tex" and "text of b." in text and flat.missing_inputs == 0


def test_import_package_paths_are_inlined_and_stay_inside():
    files = {"main.tex": b"\\documentclass{article}\\usepackage{import}\\begin{document}"
                         b"\\import{chapters/}{one}\n\\subimport*{chapters/}{two.tex}\\end{document}",
             "chapters/one.tex": b"\\section{One} one text. \\input{fig}", "chapters/fig.tex": b"figure text.",
             "chapters/two.tex": b"\\section{Two} two text."}
    text, _, flat = archive.read_paper(archive.Unpacked(files))
    assert "one text. figure text." in text and "two text." in text and flat.missing_inputs == 0
    files["main.tex"] = b"\\documentclass{article}\\begin{document}\\import{/etc/}{passwd}\\end{document}"
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "unsafe_input"


def test_def_with_a_space_before_its_body_is_expanded():
    out, n = tex.expand_macros("\\def\\eps {\\varepsilon}\n\\def\\vv #1{\\vec{#1}}\n$\\eps < \\vv x$")
    assert (out.strip(), n) == ("$\\varepsilon < \\vec{x}$", 2)


# --- 00README: the submission's own word on its top-level file(s) ----------------------------------
def _doc(title: str, body: str = WORDS, preamble: str = "") -> bytes:
    return (f"\\documentclass{{article}}\n{preamble}\\title{{{title}}}\n\\begin{{document}}\n\\maketitle\n"
            f"\\section{{{title}}}\n{body}\n\\end{{document}}\n").encode()


def _readme_json(*sources: tuple[str, str | None], compiler: str = "pdflatex") -> bytes:
    """A 00README.json as Submission System 1.5 writes it (arXiv help, "The 00README File Format")."""
    entries = [{"filename": name, **({"usage": usage} if usage else {})} for name, usage in sources]
    return json.dumps({"process": {"compiler": compiler}, "sources": entries, "stamp": True,
                       "texlive_version": 2023, "version": 2}, indent=2).encode()


# An old draft left in the archive: named `main.tex` and longer, so the heuristics would take it.
OLD_DRAFT = _doc("Old draft", body=WORDS * 5)


def test_readme_json_names_a_main_the_heuristics_would_not_pick(tmp_path):
    files = {"main.tex": OLD_DRAFT, "arxiv_final.tex": _doc("Final version"), "fig1.pdf": b"%PDF-1.5",
             "00README.json": _readme_json(("arxiv_final.tex", "toplevel"), ("fig1.pdf", "include"))}
    assert archive.read_paper(archive.Unpacked({k: v for k, v in files.items() if k.endswith(".tex")}))[1] == "main.tex"
    doc = _paper_in_bulk(tmp_path, "2301/2301.00011.gz", files)
    assert doc.meta["main_file"] == "arxiv_final.tex" and doc.meta["toplevel_files"] == ["arxiv_final.tex"]
    assert doc.meta["readme_errors"] == 0
    status, doc = clean_paper(doc, _steps())
    assert status == "kept" and doc.text.startswith("\\section{Final version}") and "Old draft" not in doc.text


@pytest.mark.parametrize("readme", [("00README.XXX", b"main.tex ignore\nnostamp\n"),
                                    ("00README.json", _readme_json(("main.tex", "ignore")))])
def test_file_marked_ignore_is_never_the_main(readme):
    files = {"main.tex": OLD_DRAFT, "submission.tex": _doc("Submitted"), readme[0]: readme[1]}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "submission.tex" and "Old draft" not in text and flat.readme_errors == 0


def _yaml_readme(*names: str) -> bytes:
    return ("process:\n  compiler: pdflatex\nsources:\n"
            + "".join(f"  - filename: {n}\n    usage: toplevel\n" for n in names)).encode()


@pytest.mark.parametrize("readme", [
    ("00README.XXX", b"paper.tex toplevelfile\r\nappendix.tex toplevelfile\r\n"),
    ("00README.json", _readme_json(("paper.tex", "toplevel"), ("appendix.tex", None), ("fig.eps", "include"))),
    ("00README.yaml", _yaml_readme("paper.tex", "appendix.tex"))])
def test_several_toplevel_files_are_joined_in_the_readme_order(readme):
    if readme[0].endswith(".yaml"):
        pytest.importorskip("yaml")
    files = {"paper.tex": _doc("Introduction", preamble="\\newcommand{\\R}{\\mathbb{R}}\n"),
             "appendix.tex": _doc("Supplementary proofs", body="On $\\Rn$ we have " + WORDS,
                                  preamble="\\newcommand{\\Rn}{\\mathbb{R}^n}\n"),
             readme[0]: readme[1]}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "paper.tex" and flat.toplevel_files == ["paper.tex", "appendix.tex"]
    status, doc = clean_paper(Document("arxiv/x", text, "arxiv", {}), _steps())
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
    files = {"a.tex": _doc("A"), "b.tex": _doc("B"), "00README.XXX": b"a.tex toplevelfile\n",
             "00README.json": _readme_json(("b.tex", "toplevel"))}
    assert archive.read_paper(archive.Unpacked(files))[1] == "b.tex"
    files["00README.json"] = b'{"sources": [{"filename": "b.tex",'
    _, main, flat = archive.read_paper(archive.Unpacked(files))
    assert (main, flat.readme_errors) == ("a.tex", 1)


def test_readme_names_are_relative_to_its_folder():
    files = {"paper/00README.json": _readme_json(("./src/final.tex", "toplevel")), "paper/main.tex": OLD_DRAFT,
             "paper/src/final.tex": _doc("Final"), "paper/src/sec.tex": b"x"}
    assert archive.read_paper(archive.Unpacked(files))[1] == "paper/src/final.tex"


# --- e-prints fetched one by one, and files a browser already gunzipped -------------------------------
MS = _doc("Introduction")


@pytest.mark.parametrize("content", ["gzip_tar", "gzip_tex", "tar", "tex"])
@pytest.mark.parametrize("name,arxiv_id", [("2301.00021v2", "2301.00021"), ("hep-th9901001", "hep-th/9901001")])
def test_eprint_saved_under_its_bare_id_is_read_by_content(tmp_path, name, arxiv_id, content):
    data = {"gzip_tar": _gz(_tar({"ms.tex": MS, "fig.eps": b"%!PS"})), "gzip_tex": _gz(MS),
            "tar": _tar({"ms.tex": MS}), "tex": MS}[content]
    path = tmp_path / name
    path.write_bytes(data)
    (doc,) = read_papers(str(path))
    assert isinstance(doc, Document), doc
    assert doc.meta["arxiv_id"] == arxiv_id and doc.id == stable_id("arxiv", arxiv_id)
    assert "\\section{Introduction}" in doc.text


def test_eprint_that_is_a_pdf_is_counted_and_other_names_stay_unsupported(tmp_path):
    (tmp_path / "2301.00022").write_bytes(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    (tmp_path / "notes").write_bytes(MS)
    assert [r.kind for r in read_papers(str(tmp_path / "2301.00022"))] == ["no_latex_source"]
    assert [r.kind for r in read_papers(str(tmp_path / "notes"))] == ["unsupported_file"]


@pytest.mark.parametrize("name", ["2301.00023.tar.gz", "2301.00023.gz"])
def test_gz_named_file_already_gunzipped_by_a_browser_is_read(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_tar({"ms.tex": MS}) if name.endswith(".tar.gz") else MS)
    (doc,) = read_papers(str(path))
    assert isinstance(doc, Document) and doc.meta["arxiv_id"] == "2301.00023"


def test_job_reads_readmes_and_eprints(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    bulk = {
        "2301/2301.00031.gz": _gz(_tar({"main.tex": OLD_DRAFT, "final.tex": _doc("Final version"),
                                         "00README.json": _readme_json(("final.tex", "toplevel"))})),
        "2301/2301.00032.gz": _gz(_tar({"ms.tex": _doc("Fallback"), "00README.json": b"{\"sources\": [}"})),
        "2301/2301.00033.gz": _gz(_tar({"part1.tex": _doc("First part"), "part2.tex": _doc("Second part"),
                                         "00README.XXX": b"part1.tex toplevelfile\npart2.tex toplevelfile\n"})),
    }
    (raw / "arXiv_src_2301_001.tar").write_bytes(_tar(bulk))
    (raw / "2302.00041v1").write_bytes(_gz(_tar({"ms.tex": _doc("Eprint")})))
    (raw / "2302.00042.tar.gz").write_bytes(_tar({"ms.tex": _doc("Gunzipped")}))
    stats = run_source(ArxivSource(ArxivConfig(min_words=3, detect_language=False)),
                       [str(p) for p in sorted(raw.iterdir())], str(out))
    assert stats["documents_in"] == stats["documents_out"] == 5 and stats["errors"] == {}
    assert stats["arxiv_read"]["readme_errors"] == 1
    docs = {d["meta"]["arxiv_id"]: d for d in clean_docs(str(out), "arxiv")}
    assert docs["2301.00031"]["text"].startswith("\\section{Final version}")
    assert docs["2301.00032"]["meta"]["main_file"] == "ms.tex"
    joined = docs["2301.00033"]["text"]
    assert joined.index("\\section{First part}") < joined.index("\\section{Second part}")
    assert docs["2301.00033"]["meta"]["toplevel_files"] == ["part1.tex", "part2.tex"]
    assert docs["2302.00041"]["text"].startswith("\\section{Eprint}") and "2302.00042" in docs


def test_ancillary_tex_is_never_the_main(tmp_path):
    # A supplement in `anc/` (not processed by TeX on arXiv), longer than the paper and named `main`.
    doc = _paper_in_bulk(tmp_path, "2301/2301.00024.gz", {
        "article.tex": _doc("Introduction"), "figure1.pdf": b"%PDF-1.5",
        "anc/main.tex": _doc("Supplementary tables", body=WORDS * 10), "anc/code.py": b"print(1)\n"})
    assert doc.meta["main_file"] == "article.tex" and "Supplementary tables" not in doc.text
