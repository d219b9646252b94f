"""The arXiv job end to end (sources/arxiv/source.py): the sample dump, and bulk tars with
00READMEs beside single e-prints."""

from __future__ import annotations

import gzip
import os
import tarfile

from pipeline.document import Document
from sources.arxiv import archive
from sources.arxiv.source import ArxivConfig, ArxivSource, clean_paper
from tests.fixtures.arxiv import OLD_DRAFT, arxiv_steps, gzipped, latex_paper, readme_json, tarred
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


def test_job_on_sample(tmp_path):
    from pipeline.assets import asset_path
    from samples import arxiv as sample

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    sample.build(str(raw), os.path.dirname(asset_path("lid.176.ftz")), seed=1)
    stats = run_source(ArxivSource(), [str(p) for p in sorted(raw.rglob("*")) if p.is_file()], str(out))
    assert stats["errors"] == {"bad_gzip": 1, "macro_recursion": 1, "no_latex_source": 1, "unsafe_member": 1}
    assert stats["dropped"] == {"no_section": 1, "too_little_text": 1}
    # 16 good papers, paragraph_first, latin1, inner_traversal, input_passwd (its `\input{/etc/passwd}`
    # skipped) and the singles 2302.00003 / 2302.00004
    assert stats["documents_out"] == 22 and stats["arxiv_read"]["ignored_members"] == 1
    assert stats["arxiv_read"]["unsafe_inputs_skipped"] == 1
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
    passwd = docs["2301.00106"]  # input_passwd: the paper kept, the file outside never read
    assert passwd["meta"]["unsafe_inputs_skipped"] == 1 and "Additional proofs" in passwd["text"]
    assert all("root:x" not in d["text"] for d in docs.values())
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
        cleaned[name] = clean_paper(Document("arxiv/x", text, "arxiv", {}), arxiv_steps())[1].text
    assert readme["text"] == cleaned["camera_ready.tex"] != cleaned["main.tex"]
    bare = docs["2302.00004"]  # saved under its bare id: gzip, no extension
    assert bare["meta"]["url"].endswith("/abs/2302.00004") and bare["meta"]["main_file"] == "2302.00004.tex"
    errors = read_jsonl_gz(str(out / "errors" / "arxiv" / "*.jsonl.gz"))
    assert len(errors) == 4 and all("root:x" not in e["excerpt"] for e in errors)
    assert sorted(os.listdir(tmp_path)) == ["out", "raw"]


def test_job_reads_readmes_and_eprints(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    bulk = {
        "2301/2301.00031.gz": gzipped(tarred({"main.tex": OLD_DRAFT, "final.tex": latex_paper("Final version"),
                                         "00README.json": readme_json(("final.tex", "toplevel"))})),
        "2301/2301.00032.gz": gzipped(tarred({"ms.tex": latex_paper("Fallback"), "00README.json": b"{\"sources\": [}"})),
        "2301/2301.00033.gz": gzipped(tarred({"part1.tex": latex_paper("First part"), "part2.tex": latex_paper("Second part"),
                                         "00README.XXX": b"part1.tex toplevelfile\npart2.tex toplevelfile\n"})),
    }
    (raw / "arXiv_src_2301_001.tar").write_bytes(tarred(bulk))
    (raw / "2302.00041v1").write_bytes(gzipped(tarred({"ms.tex": latex_paper("Eprint")})))
    (raw / "2302.00042.tar.gz").write_bytes(tarred({"ms.tex": latex_paper("Gunzipped")}))
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
