"""An `\\input` of a path outside the paper's archive (an author's machine path, a `..` path, a
link member pointing out) is skipped and counted, the paper kept; the file it names is never
opened, though it exists beside the input. And an `\\input` fan-out stays bounded."""

from __future__ import annotations

import io
import tarfile
import time

import pytest

from pipeline.document import Document
from sources.arxiv import archive
from sources.arxiv.source import clean_paper, read_counts, read_papers
from tests.fixtures import fuzz
from tests.fixtures.arxiv import WORDS, arxiv_steps, gzipped

SECRET = "the secret macros of the author's laptop"


def _paper(command: str) -> bytes:
    return (f"\\documentclass{{article}}\n\\begin{{document}}\n\\section{{Introduction}}\n{WORDS}\n"
            f"{command}\n\\section{{Method}}\nThe method text stays.\n\\end{{document}}\n").encode()


def _with_link(main: bytes, name: str, target: str) -> bytes:
    with io.BytesIO() as out:
        with tarfile.open(fileobj=out, mode="w") as tar:
            info = tarfile.TarInfo("main.tex")
            info.size = len(main)
            tar.addfile(info, io.BytesIO(main))
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        return out.getvalue()


def _read_watched(path: str, folder: str) -> tuple[list, fuzz.FuzzReport]:
    """Reads `path` under the fuzz harness's guard: any file opened outside `folder` is a failure."""
    records, report = [], fuzz.FuzzReport()

    def read(p):
        records.extend(read_papers(p))
        return records

    fuzz.check_mutant(read, [], path, folder, report, "literal", max_seconds=10, max_growth_mb=512)
    return records, report


@pytest.mark.parametrize("case", ["absolute", "dotdot", "symlink_absolute", "symlink_dotdot"])
def test_input_outside_the_archive_is_skipped_counted_never_opened(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "macros.tex").write_text(f"\\section{{Leak}} {SECRET}\n")
    folder = tmp_path / "in"
    folder.mkdir()
    data = {"absolute": lambda: gzipped(_paper(f"\\input{{{outside}/macros}}")),
            "dotdot": lambda: gzipped(_paper("\\input{../outside/macros}")),
            "symlink_absolute": lambda: gzipped(_with_link(_paper("\\input{macros}"), "macros.tex",
                                                           str(outside / "macros.tex"))),
            "symlink_dotdot": lambda: gzipped(_with_link(_paper("\\include{sec/macros}"), "sec/macros.tex",
                                                         "../../outside/macros.tex"))}[case]()
    (folder / "2301.00001.gz").write_bytes(data)
    records, report = _read_watched(str(folder / "2301.00001.gz"), str(folder))
    assert report.failures == []  # nothing opened outside `in/`
    (doc,) = records
    assert isinstance(doc, Document), doc
    assert doc.meta["unsafe_inputs_skipped"] == 1 and doc.meta["missing_inputs"] == 0
    assert read_counts(doc)["unsafe_inputs_skipped"] == 1
    assert SECRET not in doc.text and "Leak" not in doc.text
    status, doc = clean_paper(doc, arxiv_steps())
    assert status == "kept" and WORDS in doc.text and "The method text stays." in doc.text


def test_the_users_machine_path_of_the_issue_keeps_the_paper(tmp_path):
    path = tmp_path / "2301.00002.gz"
    path.write_bytes(gzipped(_paper("\\input{/Users/me/paper/macros}\n\\input{/Users/me/paper/defs.tex}")))
    (doc,) = read_papers(str(path))
    assert isinstance(doc, Document) and doc.meta["unsafe_inputs_skipped"] == 2
    assert "\\input" not in doc.text and "The method text stays." in doc.text


def test_input_fan_out_is_bounded():
    # 50 `\input`s in each of 15 nested files: 50^15 inclusions, each within the depth bound.
    files = {"main.tex": b"\\documentclass{x}\\begin{document}" + b"\\input{a1}" * 50 + b"\\end{document}",
             "a15.tex": b""}
    files.update({f"a{k}.tex": f"\\input{{a{k + 1}}}".encode() * 50 for k in range(1, 15)})
    start = time.perf_counter()
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "input_limit" and time.perf_counter() - start < 5


def test_repeated_inputs_count_their_characters_once_each():
    # A 6 MB section file input three times is 18 MB of LaTeX: over the bound, however shallow.
    files = {"main.tex": b"\\documentclass{x}\\begin{document}" + b"\\input{big}" * 3 + b"\\end{document}",
             "big.tex": b"word " * (6 * 2**20 // 5)}
    with pytest.raises(archive.PaperError) as info:
        archive.read_paper(archive.Unpacked(files))
    assert info.value.kind == "paper_too_large"
    files["main.tex"] = files["main.tex"].replace(b"\\input{big}" * 3, b"\\input{big}" * 2)
    assert len(archive.read_paper(archive.Unpacked(files))[0]) > 12 * 2**20 - 100
