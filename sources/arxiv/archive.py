"""Safe reading of arXiv source archives as distributed.

The bulk files are `arXiv_src_YYMM_NNN.tar`, holding `YYMM/<id>.gz` per paper (`2301.00001.gz`,
old style `math0501001.gz`); each `.gz` is either a gzipped single `.tex` or a gzipped tar of
the submission's files (arXiv's bulk-data documentation). A plain folder of per-paper `.gz` /
`.tar.gz` files, or of e-prints saved under their bare id, is read the same way, by content.
PDF-only submissions appear as `.pdf` members.

Nothing here touches the filesystem but the input path itself: papers are unpacked in memory,
members with absolute or `..` names and links are ignored (counted), and `\\input` / `\\include`
resolve only to members of the paper's own archive: one naming a path outside it (absolute, `..`,
a link member) is skipped and counted, the rest of the paper kept. Sizes are bounded before
anything is read.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import posixpath
import re
import tarfile
import zlib
from typing import Iterator

from pipeline.filters import RecordError
from sources.arxiv import readme as arxiv_readme
from sources.arxiv.tex import OPTION_CHARS, remove_comments

# arXiv caps a submission at 50 MB (arXiv help, "Submission size"); a paper that unpacks to more
# is not a submission as arXiv accepts them, whatever it claims to be.
MAX_PAPER_BYTES = 50 * 1024 * 1024
# The flattened LaTeX of one paper: the largest real papers are a few MB of source text.
MAX_TEX_CHARS = 16 * 1024 * 1024
# TeX's own bound on nested \input files (web2c texmf.cnf: max_in_open = 15).
MAX_INPUT_DEPTH = 15
# Files inlined into one paper, counting each repeat: a real paper inlines each of its files
# about once, a few hundred at most. Our bound; without it a fan-out (`\input{a}` fifty times in
# each of 15 nested files, all empty) is 50^15 inclusions within the depth and size bounds.
MAX_INCLUSIONS = 10_000
TEX_EXTENSIONS = (".tex", ".ltx", ".latex")
# Members kept in memory for \input: LaTeX sources and the text files papers \input.
TEXT_EXTENSIONS = TEX_EXTENSIONS + (".sty", ".def", ".txt", ".tikz", ".pgf", ".bbl", ".inc", ".cls", ".xxx", "")
MAIN_STEMS = ("main", "ms", "paper", "manuscript", "article")
# Ancillary files (data, code, supplementary TeX) sit in `anc/` at the submission's root and are
# never processed by TeX (arXiv help, "Ancillary files"): never a main file.
ANCILLARY_DIR = "anc/"


class PaperError(RecordError):
    """A paper that cannot be read; `kind` is its key under stats.json "errors"."""


@dataclasses.dataclass
class Unpacked:
    files: dict[str, bytes]  # safe member name -> bytes (text-like members only)
    ignored_members: int = 0  # unsafe names, links, devices
    links: set[str] = dataclasses.field(default_factory=set)  # link members' names (never followed)


# --- identifiers -------------------------------------------------------------------------------
_NEW_ID = re.compile(r"^(\d{4})\.(\d{4,5})(v\d+)?$")
_OLD_ID = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?)(\d{7})(v\d+)?$")
PAPER_SUFFIXES = (".tar.gz", ".tgz", ".gz", ".tar", ".tex", ".pdf")


def paper_stem(name: str) -> str:
    base = posixpath.basename(name)
    for suffix in PAPER_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def parse_arxiv_id(name: str) -> tuple[str, str] | None:
    """`2301/2301.00001.gz` -> ("2301.00001", "2301"); `math0501001.gz` -> ("math/0501001", "0501")."""
    stem = paper_stem(name)
    m = _NEW_ID.match(stem)
    if m:
        return f"{m.group(1)}.{m.group(2)}", m.group(1)
    m = _OLD_ID.match(stem)
    if m:
        return f"{m.group(1)}/{m.group(2)}", m.group(2)[:4]
    return None


def is_safe_name(name: str) -> bool:
    """A relative member name that stays inside the archive (`../../etc/passwd` does not)."""
    if not name or "\0" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return False
    norm = posixpath.normpath(name.replace("\\", "/"))
    return norm != ".." and not norm.startswith("../")


# --- bulk files ----------------------------------------------------------------------------------
def iter_members(handle, path: str) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(member name, bytes, error kind) of an outer `.tar`, streamed. Unsafe members, links and
    oversized members come with an error kind and no bytes; a broken tar ends with `bad_tar`."""
    try:
        with tarfile.open(fileobj=handle, mode="r|*") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not is_safe_name(member.name) or not member.isfile():
                    yield member.name, None, "unsafe_member"
                elif member.size > MAX_PAPER_BYTES:
                    yield member.name, None, "paper_too_large"
                else:
                    yield member.name, tar.extractfile(member).read(), None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        yield f"{path}!", str(exc).encode(), "bad_tar"


# --- one paper -----------------------------------------------------------------------------------
def gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_PAPER_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise PaperError("bad_gzip", f"{type(exc).__name__}: {exc}") from None
    if len(out) > MAX_PAPER_BYTES:
        raise PaperError("paper_too_large", f"unpacks to over {MAX_PAPER_BYTES} bytes")
    return out


def _looks_like_tar(data: bytes) -> bool:
    return len(data) >= 512 and data[257:262] == b"ustar" or (len(data) >= 1024 and _v7_tar(data))


def _v7_tar(data: bytes) -> bool:
    try:
        tarfile.open(fileobj=io.BytesIO(data), mode="r:").close()
        return True
    except (tarfile.TarError, EOFError, OSError):
        return False


GZIP_MAGIC = b"\x1f\x8b"


def unpack(name: str, data: bytes) -> Unpacked:
    """A per-paper file (`.gz`, `.tar.gz`, `.tar`, `.tex`, or an e-print saved under its bare id)
    -> its text members, in memory. What it is comes from its bytes, not its name: arXiv serves
    e-prints gzip-encoded, and browsers and HTTP clients often undo that encoding and keep the
    `.gz` name (arXiv help, "Unpacking Retrieved Papers"), so a `.tar.gz` may be a plain tar."""
    if data.startswith(GZIP_MAGIC):
        data = gunzip(data)
    if data.startswith(b"%PDF") or name.endswith(".pdf"):
        raise PaperError("no_latex_source", "PDF-only submission")
    if data.startswith(b"%!PS"):
        raise PaperError("no_latex_source", "PostScript-only submission")
    if not name.endswith(".tex") and _looks_like_tar(data):
        return _unpack_tar(data)
    return Unpacked({paper_stem(name) + ".tex": data})


def _unpack_tar(data: bytes) -> Unpacked:
    out = Unpacked({})
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not is_safe_name(member.name) or not member.isfile():
                    out.ignored_members += 1  # never read, never written anywhere
                    if is_safe_name(member.name) and (member.issym() or member.islnk()):
                        out.links.add(posixpath.normpath(member.name.replace("\\", "/")))
                    continue
                name = posixpath.normpath(member.name.replace("\\", "/"))
                if posixpath.splitext(name)[1].lower() in TEXT_EXTENSIONS or arxiv_readme.is_readme(name):
                    out.files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PaperError("bad_tar", f"{type(exc).__name__}: {exc}") from None
    return out


# A file with more NUL bytes than one in this many is binary (random bytes hold one in 256); a
# text file with a stray NUL or two (a bad editor, a cut-and-paste) is text, NULs dropped.
MAX_NUL_FRACTION = 1000


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8, else Latin-1 (what pre-2010 European submissions mostly are).

    Line ends become `\n`: submissions come from Windows (`\r\n`) and classic Mac OS (`\r`
    alone), and TeX reads all three as the end of a line; a `%` comment must end there too."""
    nuls = data.count(b"\0")
    if nuls * MAX_NUL_FRACTION > len(data):
        raise PaperError("binary_file", f"{nuls} NUL bytes: not a text file")
    if nuls:
        data = data.replace(b"\0", b"")  # TeX ignores them: ^^@ has category 9 (The TeXbook, ch. 7)
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.removeprefix("\ufeff"), encoding


# --- main file, \input ---------------------------------------------------------------------------
# Options and class name bounded (sources/arxiv/tex.py OPTION_CHARS) and ended by a bracket or
# brace: a stray `\documentclass[` repeated would otherwise scan the rest of the file once each.
_DOCCLASS = re.compile(rf"\\document(?:class|style)\s*(?:\[[^\][]{{0,{OPTION_CHARS}}}\])?"
                       rf"\s*\{{([^{{}}]{{0,{OPTION_CHARS}}})\}}")
_BEGIN_DOC = "\\begin{document}"


def _main_score(name: str, text: str) -> tuple:
    cls = _DOCCLASS.search(text)
    if cls and cls.group(1).strip() in ("standalone", "subfiles"):
        return (0,)
    stem = posixpath.splitext(posixpath.basename(name))[0].lower()
    return (2 * bool(cls) + 2 * (_BEGIN_DOC in text), stem in MAIN_STEMS, len(text), name)


def find_main(texts: dict[str, str], ignore: set[str] = frozenset()) -> str:
    """The main file by heuristics: `\\documentclass` and `\\begin{document}` (a lone .tex file is
    its own main). Files a 00README marks `ignore`, and ancillary files, are never chosen."""
    candidates = [n for n in texts if n.lower().endswith(TEX_EXTENSIONS) and n not in ignore
                  and not n.startswith(ANCILLARY_DIR)]
    if len(candidates) == 1:
        return candidates[0]
    scored = sorted(((_main_score(n, texts[n]), n) for n in candidates), reverse=True)
    if not scored or scored[0][0][0] == 0:
        raise PaperError("no_main_tex", f"no file with \\documentclass among {len(candidates)} .tex files")
    return scored[0][1]


# `\input{f}`, `\input f`, `\include{f}`, `\subfile{f}` (subfiles package), and the import
# package's `\import{dir/}{f}` / `\subimport{dir/}{f}` (and `\inputfrom`, `\includefrom`, ...).
_INPUT = re.compile(
    r"\\(?:(?:sub)?(?:import|inputfrom|includefrom)\*?\s*\{([^{}]*)\}\s*\{([^{}]*)\}"
    r"|(?:input|include|subfile)(?![A-Za-z@])\s*(?:\{([^{}]*)\}|([^\s{}\\%]+)))")
_BEGIN_DOC_RE = re.compile(r"\\begin\s*\{document\}")
_END_DOC_RE = re.compile(r"\\end\s*\{document\}")


def document_body(text: str) -> str:
    """An inlined file that is a document of its own (a `subfiles` or `docmute` part, with its
    own `\\documentclass` and `\\begin{document}`): only its body, as those packages typeset it.
    Its `\\end{document}` would otherwise end the whole paper at the first part. (A file that
    only continues the main file's preamble up to `\\begin{document}` is left whole.)"""
    begin = _BEGIN_DOC_RE.search(text)
    if begin is None or not _DOCCLASS.search(text, 0, begin.start()):
        return text
    end = _END_DOC_RE.search(text, begin.end())
    return text[begin.end():end.start() if end else len(text)]


# What `Flattener.resolve` returns for a path leading outside the archive: no member name holds
# a NUL (`is_safe_name`), so it is never one.
UNSAFE = "\0outside the archive"
_DRIVE_OR_URL = re.compile(r"[A-Za-z]:|[A-Za-z][A-Za-z0-9+.-]*://")


class Flattener:
    """Replaces `\\input`/`\\include` with the member's text, comments removed, bounded."""

    def __init__(self, files: dict[str, bytes], links: set[str] = frozenset()):
        self.files = files
        self.links = links  # link members: an `\input` of one is outside the archive for us
        self.texts: dict[str, str] = {}
        self.encoding = "utf-8"
        self.missing_inputs = 0
        self.unsafe_inputs = 0  # `\input`s of a path outside the archive, skipped
        self.chars = 0  # characters inlined so far, each inclusion counted
        self.inclusions = 0
        self.root_dir = ""  # the main file's folder: LaTeX runs there, so `\input` paths start there
        self.toplevel_files: list[str] = []  # the paper's top-level file(s), in order (read_paper)
        self.readme_errors = 0  # 00READMEs unreadable, or naming files not in the archive

    def text(self, name: str) -> str:
        if name not in self.texts:
            text, encoding = decode(self.files[name])
            if encoding != "utf-8":
                self.encoding = encoding
            self.texts[name] = remove_comments(text)
        return self.texts[name]

    def resolve(self, target: str, base_dir: str) -> str | None:
        """The member an `\\input` names (from the file's folder, the main file's, the root), None
        when the archive lacks it, or UNSAFE when it is not there and the path leads outside the
        archive (absolute, `~`, `..`, a pipe or URL, a link member). Only `self.files` is looked in."""
        target = target.strip().strip('"')
        if target.startswith(("/", "\\", "|", "~")) or _DRIVE_OR_URL.match(target) or "\0" in target:
            return UNSAFE  # absolute, a pipe (`|cmd`), home (`~/`), a drive (`C:`), a URL; `..` judged once joined
        outside = False
        for candidate in (target, target + ".tex"):
            for root in dict.fromkeys((base_dir, self.root_dir, "")):
                name = posixpath.normpath(posixpath.join(root, candidate))
                if not is_safe_name(name) or name in self.links:
                    outside = True
                elif name in self.files:
                    return name
        return UNSAFE if outside else None

    def flatten(self, name: str, depth: int = 0) -> str:
        if depth > MAX_INPUT_DEPTH:
            raise PaperError("input_depth", f"\\input nested deeper than {MAX_INPUT_DEPTH} (a cycle?)")
        self.inclusions += 1
        if self.inclusions > MAX_INCLUSIONS:
            raise PaperError("input_limit", f"over {MAX_INCLUSIONS} files inlined (an \\input fan-out)")
        text = self.text(name)
        self.chars += len(text)
        if self.chars > MAX_TEX_CHARS:
            raise PaperError("paper_too_large", f"flattened LaTeX over {MAX_TEX_CHARS} characters")
        base_dir = posixpath.dirname(name)
        if depth == 0:
            self.root_dir = base_dir
        else:
            text = document_body(text)
        out, pos = [], 0
        for m in _INPUT.finditer(text):
            out.append(text[pos:m.start()])
            pos = m.end()
            if m.group(2) is not None:  # \import{dir}{file}: the path is the folder + the file
                target = posixpath.join(m.group(1).strip(), m.group(2).strip())
            else:
                target = m.group(3) if m.group(3) is not None else m.group(4)
            member = self.resolve(target, base_dir)
            if member == UNSAFE:
                self.unsafe_inputs += 1  # an author's machine path (`/Users/me/macros`): skipped
                continue
            if member is None:
                self.missing_inputs += 1  # e.g. a system file (`\input epsf`) or a figure left out
                continue
            out.append(self.flatten(member, depth + 1))
        out.append(text[pos:])
        return "".join(out)


def toplevel_files(texts: dict[str, str], directives: arxiv_readme.Directives) -> tuple[list[str], int]:
    """(the paper's top-level files in order, how many files its 00README names that are not in
    the archive): those the 00README declares, else the one `find_main` picks."""
    declared = [n for n in directives.toplevel if n in texts]
    missing = len(directives.toplevel) - len(declared)
    if declared:
        return declared, missing
    return [find_main(texts, directives.ignore)], missing


def split_document(text: str) -> tuple[str, str]:
    """(preamble, body) of a flattened file; a file without `\\begin{document}` is all body."""
    begin = _BEGIN_DOC_RE.search(text)
    if begin is None:
        return "", text
    end = _END_DOC_RE.search(text, begin.end())
    return text[:begin.start()], text[begin.end():end.start() if end else len(text)]


def join_toplevel(parts: list[str]) -> str:
    """Several top-level files as one paper. arXiv compiles each and joins the PDFs in the
    00README's order; here the preambles (with the user macros each part defines) come first,
    less the later parts' `\\documentclass`, then one `\\begin{document}` and the bodies in order."""
    splits = [split_document(part) for part in parts]
    preambles = [splits[0][0]] + [_DOCCLASS.sub("", preamble) for preamble, _ in splits[1:]]
    return "".join(preambles) + "\\begin{document}" + "\n".join(body for _, body in splits) + "\n\\end{document}\n"


def read_paper(unpacked: Unpacked) -> tuple[str, str, Flattener]:
    """(flattened LaTeX with comments removed, main file name, the flattener and its counts).

    The top-level file(s) come from the paper's 00README when it names them (several are joined
    in its order), else from `find_main`; a 00README that cannot be read, or that names files
    the archive lacks, is counted in `flattener.readme_errors` and the heuristics decide."""
    flattener = Flattener(unpacked.files, unpacked.links)
    texts = {}
    for name in unpacked.files:
        if name.lower().endswith(TEX_EXTENSIONS):
            try:
                texts[name] = flattener.text(name)
            except PaperError:
                if len(unpacked.files) == 1:
                    raise
    if not texts:
        raise PaperError("no_latex_source", "no .tex file in the submission")
    directives = arxiv_readme.read_directives(unpacked.files)
    mains, missing = toplevel_files(texts, directives)
    flattener.readme_errors = len(directives.errors) + missing
    flattener.toplevel_files = mains
    parts = [flattener.flatten(name) for name in mains]
    return (parts[0] if len(parts) == 1 else join_toplevel(parts)), mains[0], flattener
