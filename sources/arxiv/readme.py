"""arXiv's `00README`: the directives that name a submission's top-level TeX file(s).

Two generations are found in distributed sources (arXiv help, "The 00README File Format"):

- `00README.XXX`, read by the old AutoTeX: one directive a line, `<file> toplevelfile`,
  `<file> ignore`, `<file> include`, `<file> landscape`, `<file> keepcomments`, `<file> fontmap`,
  or a bare `nostamp` / `nohypertex`. The order of lines is otherwise unimportant, but several
  `toplevelfile` lines join those files, in the order written, into one paper.
- `00README.json` (or `.yaml` / `.yml`), written by Submission System 1.5 for new submissions:
  `{"process": {"compiler": "pdflatex"}, "sources": [{"filename": "ms.tex", "usage":
  "toplevel"}, {"filename": "old.tex", "usage": "ignore"}, ...], "stamp": true}`. `usage` is
  `toplevel`, `include`, `ignore` or `append`; toplevel files are compiled in the order listed,
  and an entry that says nothing but its `filename` is a toplevel file. When both generations
  are present the new one rules (arXiv converts the old file into it); the file name's stem is
  matched without regard to case, as arXiv's own reader does.

Only the choice of top-level files is taken from here. A 00README that cannot be read (bad
JSON, wrong shapes, a YAML one without PyYAML) is reported in `Directives.errors`, never raised:
the paper then falls back to the next 00README or to the heuristics of `arxiv_archive.find_main`.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath

STEM = "00README"
OLD_EXTENSIONS = (".xxx",)
JSON_EXTENSIONS = (".json",)
YAML_EXTENSIONS = (".yaml", ".yml")
# A real 00README lists at most every file of a submission: a few KB. Anything this large (some
# 4,000 entries) is not one, and is not handed to a parser: YAML takes ~3 s a MB even with libyaml
# (measured, PyYAML 6.0 CSafeLoader), so 1 MB made one paper a few seconds.
MAX_README_BYTES = 256 * 1024
_TOPLEVEL_KEYWORD = "toplevelfile"
# Keys that give a `sources` entry a role other than toplevel when `usage` is absent
# (a `.dvi` with `orientation: landscape` is not a file to compile).
_ROLE_KEYS = ("usage", "orientation", "keep_comments", "fontmaps")


@dataclasses.dataclass
class Directives:
    readme: str = ""  # the member whose directives were used ("" when none)
    toplevel: list[str] = dataclasses.field(default_factory=list)  # archive member names, in order
    ignore: set[str] = dataclasses.field(default_factory=set)
    errors: list[str] = dataclasses.field(default_factory=list)  # 00READMEs present but unusable


class ReadmeError(ValueError):
    pass


def is_readme(name: str) -> bool:
    stem, ext = posixpath.splitext(posixpath.basename(name))
    return stem.upper() == STEM and ext.lower() in ("",) + OLD_EXTENSIONS + JSON_EXTENSIONS + YAML_EXTENSIONS


def _generation(name: str) -> int:
    """2 for the JSON/YAML 00README, 1 for `00README.XXX`; a bare `00README` is either (sniffed)."""
    return 1 if posixpath.splitext(name)[1].lower() in OLD_EXTENSIONS else 2


def _member(folder: str, filename: str) -> str:
    """A 00README's file name as an archive member name (relative to the 00README's folder)."""
    return posixpath.normpath(posixpath.join(folder, filename.strip().replace("\\", "/")))


def _decode(data: bytes) -> str:
    if len(data) > MAX_README_BYTES:
        raise ReadmeError(f"over {MAX_README_BYTES} bytes")
    if b"\0" in data:
        raise ReadmeError("binary, not a 00README")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_old(text: str, folder: str = "") -> Directives:
    """`00README.XXX` lines: `<file> toplevelfile` (in order) and `<file> ignore`."""
    out = Directives()
    for line in text.split("\n"):
        words = line.split()
        if len(words) < 2:
            continue  # `nostamp`, `nohypertex`, blank lines
        name = _member(folder, words[0])
        if words[1] == _TOPLEVEL_KEYWORD:
            out.toplevel.append(name)
        elif words[1] == "ignore":
            out.ignore.add(name)
    out.toplevel = list(dict.fromkeys(out.toplevel))  # each once, first place (a list test was quadratic)
    return out


def _load_structured(text: str, name: str):
    ext = posixpath.splitext(name)[1].lower()
    if ext in YAML_EXTENSIONS or (ext == "" and not text.lstrip().startswith("{")):
        try:
            import yaml  # optional: present wherever a dependency pulled PyYAML in
        except ImportError:
            raise ReadmeError("a YAML 00README and no PyYAML to read it") from None
        try:  # libyaml's parser when PyYAML has it: the pure-Python one takes ~15 s a MB
            return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            raise ReadmeError(f"invalid YAML: {str(exc)[:200]}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: `[[[[...` nested past the stack
        raise ReadmeError(f"invalid JSON: {str(exc)[:200]}") from None


def parse_new(text: str, name: str = "00README.json", folder: str = "") -> Directives:
    """The Submission System 1.5 00README (JSON or YAML). Raises ReadmeError on anything else."""
    data = _load_structured(text, name)
    if not isinstance(data, dict):
        raise ReadmeError(f"top level is a {type(data).__name__}, not a mapping")
    sources = data.get("sources") or []
    if not isinstance(sources, list):
        raise ReadmeError(f"'sources' is a {type(sources).__name__}, not a list")
    out = Directives()
    for entry in sources:
        filename = entry.get("filename") if isinstance(entry, dict) else None
        usage = entry.get("usage") if isinstance(entry, dict) else None
        if not isinstance(filename, str) or not filename.strip() or not isinstance(usage, (str, type(None))):
            raise ReadmeError(f"'sources' entry without a file name (a {type(entry).__name__})")
        member = _member(folder, filename)
        if usage == "toplevel" or not any(entry.get(key) is not None for key in _ROLE_KEYS):
            out.toplevel.append(member)
        elif usage == "ignore":
            out.ignore.add(member)
    out.toplevel = list(dict.fromkeys(out.toplevel))
    return out


def read_directives(files: dict[str, bytes]) -> Directives:
    """The directives of the submission's 00README (the new generation first, then the old one);
    each one that cannot be read is named in `errors` and the next is tried."""
    readmes = [n for n in files if is_readme(n)]
    if not readmes:
        return Directives()
    depth = min(n.count("/") for n in readmes)  # the submission's own, not one of a bundled folder
    errors = []
    for name in sorted((n for n in readmes if n.count("/") == depth), key=lambda n: (-_generation(n), n)):
        folder = posixpath.dirname(name)
        try:
            text = _decode(files[name])
            if _generation(name) == 1 or (posixpath.splitext(name)[1] == "" and _looks_old(text)):
                found = parse_old(text, folder)
            else:
                found = parse_new(text, name, folder)
        except ReadmeError as exc:
            errors.append(f"{name}: {exc}")
            continue
        found.readme, found.errors = name, errors
        return found
    return Directives(errors=errors)


def _looks_old(text: str) -> bool:
    """A bare `00README` in the old line format (`main.tex toplevelfile`), not JSON or YAML."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[", "---")):
        return False
    return not any(":" in line for line in stripped.split("\n") if line.strip())
