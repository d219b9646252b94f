"""Reading arXiv sources (sources/arxiv/archive.py): paper ids, the main file, `\\input`s
resolved inside the paper's own archive only, hostile members and broken files as counted
errors, and e-prints saved under their bare id or already gunzipped, read by content."""

from __future__ import annotations

import io
import tarfile

import pytest

from pipeline.document import Document, ErrorRecord, stable_id
from sources.arxiv import archive
from sources.arxiv.source import clean_paper, read_papers
from tests.fixtures.arxiv import WORDS, arxiv_steps, gzipped, latex_paper, paper_in_bulk, tarred


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


@pytest.mark.parametrize("command", [
    "\\input{/Users/me/paper/macros}", "\\input{/etc/passwd}", "\\input{../../etc/passwd}", "\\input ../x.tex",
    "\\include{sec/../../x}", "\\subfile{/home/me/intro}", "\\input{|ls}", "\\input{https://x.org/a}", "\\input{~/paper/x}",
    "\\import{/etc/}{passwd}", "\\subimport{../}{secret}"])
def test_input_outside_archive_is_skipped_and_counted_and_the_paper_kept(command):
    files = {"main.tex": f"\\documentclass{{x}}\\begin{{document}}Before. {command} After.\\end{{document}}".encode(),
             "etc/passwd": b"root:x:0:0", "x.tex": b"inside x", "secret.tex": b"inside secret"}
    text, main, flat = archive.read_paper(archive.Unpacked(files))
    assert main == "main.tex" and "Before.  After." in text
    assert "root" not in text and "inside" not in text and "passwd" not in text
    assert flat.unsafe_inputs == 1 and flat.missing_inputs == 0


def test_input_found_from_one_folder_is_not_outside_from_another():
    # `..` from the input file's own folder stays inside; from the root it would not: inlined.
    files = {"main.tex": b"\\documentclass{x}\\begin{document}\\input{sec/a}\\end{document}",
             "sec/a.tex": b"A. \\input{../macros}", "macros.tex": b"macro text"}
    text, _, flat = archive.read_paper(archive.Unpacked(files))
    assert "A. macro text" in text and flat.unsafe_inputs == 0


def test_input_cycle_is_bounded():
    files = {"main.tex": b"\\documentclass{x}\\begin{document}\\input{a}", "a.tex": b"\\input{main}"}
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "input_depth"


def test_inner_member_traversal_and_links_ignored_and_counted():
    raw = tarred({"../../etc/passwd": b"root:x:0:0", "/abs.tex": b"x", "ms.tex": b"\\section{A} b"})
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r") as src, io.BytesIO() as out:
        with tarfile.open(fileobj=out, mode="w") as tar:
            for member in src.getmembers():
                tar.addfile(member, src.extractfile(member))
            link = tarfile.TarInfo("secret.tex")  # a symlink to a file outside the archive
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
        unpacked = archive.unpack("2301.00001.gz", gzipped(out.getvalue()))
    assert list(unpacked.files) == ["ms.tex"] and unpacked.ignored_members == 3
    text, main, _ = archive.read_paper(unpacked)
    assert main == "ms.tex" and "root" not in text


def test_bad_inputs_become_errors(tmp_path):
    good = gzipped(b"\\documentclass{article}\\begin{document}\\section{A} text\\end{document}")
    latin1 = gzipped("\\section{Caf\u00e9} na\u00efve".encode("latin-1"))
    outer = tarred({"2301/2301.00001.gz": good[:40] + b"junk" * 20, "2301/2301.00002.gz": latin1,
                  "2301/2301.00003.gz": gzipped(b"\x00\x01binary"), "2301/2301.00004.pdf": b"%PDF-1.4",
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


# --- real-format variations of submissions -----------------------------------------------------------
def test_subfiles_parts_are_inlined_without_their_own_document(tmp_path):
    part = "\\documentclass[../main.tex]{{subfiles}}\n\\begin{{document}}\n\\section{{{0}}}\n{0} {1}\n\\end{{document}}\n"
    doc = paper_in_bulk(tmp_path, "2301/2301.00007.gz", {
        "main.tex": b"\\documentclass{article}\n\\usepackage{subfiles}\n\\begin{document}\n\\maketitle\n"
                    b"\\subfile{sections/intro}\n\\subfile{sections/method}\n\\end{document}\n",
        "sections/intro.tex": part.format("Introduction", WORDS).encode(),
        "sections/method.tex": part.format("Method", WORDS).encode()})
    assert doc.meta["main_file"] == "main.tex"
    status, doc = clean_paper(doc, arxiv_steps())
    assert status == "kept"
    assert "\\section{Introduction}" in doc.text and "\\section{Method}" in doc.text  # not cut at the first part's end
    assert "documentclass" not in doc.text and "\\end{document}" not in doc.text


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
    assert flat.unsafe_inputs == 0


def test_ancillary_tex_is_never_the_main(tmp_path):
    # A supplement in `anc/` (not processed by TeX on arXiv), longer than the paper and named `main`.
    doc = paper_in_bulk(tmp_path, "2301/2301.00024.gz", {
        "article.tex": latex_paper("Introduction"), "figure1.pdf": b"%PDF-1.5",
        "anc/main.tex": latex_paper("Supplementary tables", body=WORDS * 10), "anc/code.py": b"print(1)\n"})
    assert doc.meta["main_file"] == "article.tex" and "Supplementary tables" not in doc.text


# --- e-prints fetched one by one, and files a browser already gunzipped -------------------------------
MS = latex_paper("Introduction")


@pytest.mark.parametrize("content", ["gzip_tar", "gzip_tex", "tar", "tex"])
@pytest.mark.parametrize("name,arxiv_id", [("2301.00021v2", "2301.00021"), ("hep-th9901001", "hep-th/9901001")])
def test_eprint_saved_under_its_bare_id_is_read_by_content(tmp_path, name, arxiv_id, content):
    data = {"gzip_tar": gzipped(tarred({"ms.tex": MS, "fig.eps": b"%!PS"})), "gzip_tex": gzipped(MS),
            "tar": tarred({"ms.tex": MS}), "tex": MS}[content]
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
    path.write_bytes(tarred({"ms.tex": MS}) if name.endswith(".tar.gz") else MS)
    (doc,) = read_papers(str(path))
    assert isinstance(doc, Document) and doc.meta["arxiv_id"] == "2301.00023"


def test_a_stray_nul_byte_is_dropped_as_tex_does_and_binary_stays_an_error(tmp_path):
    # The fuzz test's one-NUL mutants lost whole papers as `binary_file`; TeX ignores NUL (^^@ has
    # category 9), so the paper is read without it. Random bytes (a NUL in 256) stay binary.
    paper = latex_paper("Introduction", body=WORDS * 5).replace(b"word3 ", b"word3\0 ", 1)  # 2 KB, 1 NUL
    (tmp_path / "2301.00025.gz").write_bytes(gzipped(tarred({"ms.tex": paper, "sec.tex": b"x"})))
    (doc,) = read_papers(str(tmp_path / "2301.00025.gz"))
    assert isinstance(doc, Document) and "word3 word4" in doc.text and "\0" not in doc.text
    noise = bytes(range(256)) * 8
    assert [r.kind for r in read_papers(_write(tmp_path / "2301.00026.gz", gzipped(noise)))] == ["binary_file"]


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
