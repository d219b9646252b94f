"""Sample arXiv source dump: `data/raw/arxiv/` in the bulk layout as distributed.

`arXiv_src_2301_001.tar` holds `2301/<id>.gz` per paper (new-style ids), `arXiv_src_0501_001.tar`
old-style ids (`0501/math0501001.gz`), and `singles/` a plain folder of per-paper `.gz` /
`.tar.gz` files. Each `.gz` is a gzipped single `.tex` or a gzipped tar of a submission.

No real arXiv text is on this machine, so the papers are small LaTeX papers written here, with
real English prose as body text (the news articles of `lee_background.cor`): realistic preambles
(`\\newcommand` with arguments and an optional default, `\\def`, `\\DeclareMathOperator`),
`\\input` of section files, comments and `\\%`, a bibliography followed by an appendix. Plus what
the source must survive: a paper with no section, one of figures only, a member named
`../../etc/passwd` (outer and inner), `\\input{/etc/passwd}`, `\\def\\a{\\a\\a}`, a corrupt gzip, a
Latin-1 `.tex`, a PDF-only submission.

Besides, in `singles/`, two ways submissions come that the heuristics alone would get wrong:

  2302.00003.tar.gz  a 00README.json (Submission System 1.5) naming `camera_ready.tex` toplevel
                     and the superseded `main.tex` ignore; the heuristics would pick `main.tex`
                     (a main-file stem)                                    kept, from camera_ready.tex
  2302.00004         an e-print saved under its bare id (no extension; gzip of one .tex, as
                     arXiv serves it)                                      kept, id 2302.00004
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import tarfile

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath,amssymb,graphicx}
%% user macros: expanded inline by the cleaner
\newcommand{\R}{\mathbb{R}}
\def\E{\mathbb{E}}
\newcommand{\norm}[1]{\left\lVert #1 \right\rVert}
\newcommand{\inner}[2]{\langle #1, #2 \rangle}
\newcommand{\loss}[2][\theta]{\mathcal{L}_{#2}(#1)}
\DeclareMathOperator*{\argmin}{arg\,min}
\newcommand\method{\textsc{Rosella}}
\title{%s}
\author{A. Author \and B. Author}
\begin{document}
\maketitle
\begin{abstract}
%s
\end{abstract}
"""

BIBLIOGRAPHY = r"""
\begin{thebibliography}{9}
\bibitem{touvron2023} H. Touvron et al. LLaMA: Open and efficient foundation language models. 2023.
\bibitem{lewkowycz2022} A. Lewkowycz et al. Solving quantitative reasoning problems with language models. 2022.
\end{thebibliography}
"""

MATH = [
    r"We minimise $\loss{D}$ over $\theta \in \R^d$, and report $\inner{x}{y}$ and $\norm{x - y}$.",
    r"The estimate $\hat\theta = \argmin_\theta \loss[\phi]{D}$ satisfies $\E[\norm{\hat\theta}] \le 1$.",
    r"For all $u, v \in \R^n$ we have $\inner{u}{v} \le \norm{u}\,\norm{v}$, used by \method{} throughout.",
]


def _articles(assets_dir: str) -> list[str]:
    with open(os.path.join(assets_dir, "lee_background.cor"), encoding="utf-8") as f:
        return [line.strip() for line in f if len(line.split()) > 120]


def _escape(text: str) -> str:
    for char in "\\&%$#_{}~^":
        text = text.replace(char, "\\" + char)
    return text


def _section(title: str, article: str, rng: random.Random) -> str:
    sentences = _escape(article).split(". ")
    half = len(sentences) // 2
    first, second = ". ".join(sentences[:half]) + ".", ". ".join(sentences[half:])
    note = "% TODO: shorten this paragraph before submission\n" if rng.random() < 0.5 else ""
    return (f"\\section{{{title}}}\\label{{sec:{title.lower().split()[0]}}}\n{note}{first} % reviewer 2 asked\n\n"
            f"{rng.choice(MATH)} About 50\\% of the cases agree.\n\n{second}\n")


def paper_tex(rng: random.Random, articles: list[str], title: str, inputs: tuple[str, ...] = ()) -> str:
    picked = rng.sample(articles, 3)
    body = _section("Introduction", picked[0], rng)
    body += "".join(f"\\input{{{name}}}\n" for name in inputs)
    body += _section("Method and results", picked[1], rng) + "\n\\bibliographystyle{plain}\n" + BIBLIOGRAPHY
    body += "\n\\appendix\n" + _section("Additional proofs", picked[2], rng) + "\\end{document}\n"
    return PREAMBLE % (title, _escape(picked[0][:300])) + body


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _good_papers(rng: random.Random, articles: list[str], n: int) -> list[bytes]:
    """Per-paper `.gz` payloads: half gzipped tars with an \\input section file, half single .tex."""
    out = []
    for k in range(n):
        title = f"On {rng.choice(['robust', 'sparse', 'online', 'bayesian'])} estimation, part {k + 1}"
        if k % 2 == 0:
            section = _section("Related work", rng.choice(articles), rng).encode()
            main = paper_tex(rng, articles, title, inputs=("sections/related",)).encode()
            files = {"main.tex": main, "sections/related.tex": section, "figs/plot.pdf": b"%PDF-1.4 fake"}
            out.append(_gz(_tar(files)))
        else:
            out.append(_gz(paper_tex(rng, articles, title).encode()))
    return out


def _special_papers(rng: random.Random, articles: list[str]) -> dict[str, bytes]:
    """The cases the cleaner must drop, survive or count, keyed by a short label."""
    good = paper_tex(rng, articles, "A paper with extras").encode()
    no_section = (PREAMBLE % ("Withdrawn", "Withdrawn.") + "This paper has been withdrawn by the author.\n"
                  "\\end{document}\n").encode()
    figures = (PREAMBLE % ("Figures", "Only figures.") + "\\section{Results}\n" + "".join(
        f"\\begin{{figure}}\\includegraphics{{f{i}.pdf}}\\caption{{Panel {i}.}}\\end{{figure}}\n" for i in range(6))
        + "\\end{document}\n").encode()
    paragraph_first = paper_tex(rng, articles, "Notes").replace("\\section{Introduction}", "\\paragraph{Setting.}", 1)
    recursive = paper_tex(rng, articles, "Bomb").replace(
        "\\begin{document}", "\\def\\a{\\a\\a}\n\\begin{document}\n\\a", 1)
    passwd = paper_tex(rng, articles, "Leak").replace("\\appendix", "\\appendix\n\\input{/etc/passwd}", 1)
    latin1 = paper_tex(rng, articles, "Caf\u00e9 na\u00efve r\u00e9sum\u00e9").encode("latin-1")
    return {
        "inner_traversal": _gz(_tar({"../../etc/passwd": b"root:x:0:0\n", "paper.tex": good})),
        "no_section": _gz(no_section),
        "figures_only": _gz(figures),
        "paragraph_first": _gz(paragraph_first.encode()),
        "recursive_macro": _gz(recursive.encode()),
        "input_passwd": _gz(_tar({"main.tex": passwd.encode()})),
        "latin1": _gz(latin1),
        "corrupt_gzip": _gz(good)[:200] + b"\x00garbage" * 10,
    }


def readme_submission(rng: random.Random, articles: list[str]) -> dict[str, bytes]:
    """A submission whose 00README.json names the top-level file: `camera_ready.tex`, beside a
    superseded draft `main.tex` that `find_main` would prefer (stem `main`, also a full document)."""
    readme = {"process": {"compiler": "pdflatex"},
              "sources": [{"filename": "camera_ready.tex", "usage": "toplevel"},
                          {"filename": "main.tex", "usage": "ignore"}],
              "stamp": False}
    return {"00README.json": json.dumps(readme, indent=2).encode(),
            "camera_ready.tex": paper_tex(rng, articles, "Robust estimation, camera-ready version").encode(),
            "main.tex": paper_tex(rng, articles, "Robust estimation, first draft").encode()}


def _bulk(path: str, members: dict[str, bytes]) -> None:
    with open(path, "wb") as f:
        f.write(_tar(members))


def build(out_dir: str, assets_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    articles = _articles(assets_dir)
    good = _good_papers(rng, articles, 16)
    special = _special_papers(rng, articles)
    members = {f"2301/2301.{k + 1:05d}.gz": data for k, data in enumerate(good[:10])}
    for k, (label, data) in enumerate(special.items()):
        members[f"2301/2301.{k + 101:05d}.gz"] = data  # label order: see _special_papers
    members["2301/2301.00200.pdf"] = b"%PDF-1.5\n% a PDF-only submission\n"
    members["../../etc/passwd"] = b"root:x:0:0:root:/root:/bin/bash\n"
    _bulk(os.path.join(out_dir, "arXiv_src_2301_001.tar"), members)
    old = {f"0501/{arch}05010{k:02d}.gz": data for k, (arch, data) in
           enumerate(zip(["math", "hep-th", "cond-mat", "astro-ph"], good[10:14]))}
    _bulk(os.path.join(out_dir, "arXiv_src_0501_001.tar"), old)
    singles = os.path.join(out_dir, "singles")
    os.makedirs(singles, exist_ok=True)
    for k, data in enumerate(good[14:]):
        suffix = ".tar.gz" if data[:2] == b"\x1f\x8b" and k % 2 == 0 else ".gz"
        with open(os.path.join(singles, f"2302.{k + 1:05d}{suffix}"), "wb") as f:
            f.write(data)
    extra = {"2302.00003.tar.gz": _gz(_tar(readme_submission(rng, articles))),
             # `curl -o 2302.00004 https://.../e-print/2302.00004`: no extension, the gzip arXiv serves
             "2302.00004": _gz(paper_tex(rng, articles, "Online estimation, fetched by id").encode())}
    for name, data in extra.items():
        with open(os.path.join(singles, name), "wb") as f:
            f.write(data)
