"""The GitHub rules as plain `Filter` classes: license, file kind, extension, header, quality.

Paper (LLaMA §2): keep projects under the Apache, BSD and MIT licenses; filter low-quality
files with heuristics on line length and the proportion of alphanumeric characters; remove
boilerplate such as headers with regular expressions. Thresholds and the extension list are
RedPajama's reproduction (`data_prep/github/github_run_filter.py`, rp_v1).
"""

from __future__ import annotations

import os
import re

from pipeline.document import Document
from pipeline.filters import Filter
from sources.github.headers import strip_header

# --- licenses ---------------------------------------------------------------------------------
# BigQuery `bigquery-public-data.github_repos.licenses` uses these lowercase ids (GitHub's
# licensee detection): the paper's Apache, BSD and MIT are the first four.
PERMISSIVE = ("apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause")

_ALIASES = {
    "apache": "apache-2.0", "apache2": "apache-2.0", "apache-2": "apache-2.0", "apache 2": "apache-2.0",
    "apache 2.0": "apache-2.0", "apache license 2.0": "apache-2.0", "apache license, version 2.0": "apache-2.0",
    "apache software license": "apache-2.0", "asl 2.0": "apache-2.0",
    "mit license": "mit", "expat": "mit", "the mit license": "mit", "mit-0": "mit",
    "bsd-3": "bsd-3-clause", "3-clause bsd": "bsd-3-clause", "new bsd": "bsd-3-clause", "bsd 3-clause": "bsd-3-clause",
    "modified bsd": "bsd-3-clause", "revised bsd": "bsd-3-clause", "bsd 3-clause license": "bsd-3-clause",
    "bsd-2": "bsd-2-clause", "2-clause bsd": "bsd-2-clause", "simplified bsd": "bsd-2-clause",
    "freebsd": "bsd-2-clause", "bsd 2-clause": "bsd-2-clause", "bsd 2-clause license": "bsd-2-clause",
    "gplv2": "gpl-2.0", "gplv3": "gpl-3.0", "gpl2": "gpl-2.0", "gpl3": "gpl-3.0", "gpl": "gpl",
    "lgplv2": "lgpl-2.1", "lgplv3": "lgpl-3.0", "agplv3": "agpl-3.0", "mpl2": "mpl-2.0", "mpl 2.0": "mpl-2.0",
}
_NONE = {"", "none", "null", "noassertion", "no license", "unlicensed"}

# Drop reason per license family, the most specific prefix first.
_FAMILIES = (("agpl", "license_agpl"), ("lgpl", "license_lgpl"), ("gpl", "license_gpl"), ("mpl", "license_mpl"),
             ("epl", "license_epl"), ("isc", "license_isc"), ("unlicense", "license_unlicense"),
             ("cc0", "license_cc0"), ("artistic", "license_artistic"), ("bsd-4", "license_bsd_4_clause"))


# SPDX ids are at most ~40 characters (`BSD-3-Clause-No-Nuclear-License-2014`); a real expression
# of a few of them (`(Apache-2.0 OR MIT) AND BSD-3-Clause`) is far under this. A longer field (a
# 1 MB one took 2.3 s to parse, 2,000 nested parentheses 1.3 s) is kept, cut, as an unknown license.
MAX_EXPRESSION = 256


def normalize_license(raw: object) -> str | None:
    """A license field, list or SPDX expression -> a BigQuery-style id (None when there is none)."""
    if raw is None:
        return None
    if isinstance(raw, (list, tuple)):  # The Stack's `max_stars_repo_licenses`: every one binds
        return _all_bind([normalize_license(part) for part in raw if str(part).strip()])
    text = " ".join(str(raw).strip().lower().split())
    if len(text) > MAX_EXPRESSION:  # no license expression: not parsed (its parentheses cost O(n^2))
        return text[:MAX_EXPRESSION]
    text = _unwrap(text)
    if text in _NONE:
        return None
    options = _split_top(text, " or ")
    if len(options) > 1:  # SPDX dual licensing: any permissive option is enough (AND binds tighter)
        options = [normalize_license(o) for o in options]
        return next((o for o in options if o in PERMISSIVE), options[0])
    parts = _split_top(text, " and ")
    if len(parts) > 1:
        return _all_bind([normalize_license(p) for p in parts])
    # SPDX `<license> WITH <exception>`: an exception only adds permissions (LLVM-exception,
    # Classpath-exception-2.0), so the license is the one before it.
    text = re.sub(r" with [\w.+-]+$", "", text)
    text = re.sub(r"(-only|-or-later|\+)$", "", text)
    return _ALIASES.get(text, text)


def _all_bind(ids: list[str | None]) -> str | None:
    """Licenses that all apply: the first non-permissive one decides."""
    return next((i for i in ids if i not in PERMISSIVE), ids[0]) if ids else None


def _unwrap(text: str) -> str:
    """`(a OR b)` -> `a OR b` when the parentheses enclose the whole expression."""
    while text.startswith("(") and text.endswith(")") and _depths(text[1:-1])[1]:
        text = text[1:-1].strip()
    return text


def _depths(text: str) -> tuple[list[int], bool]:
    """The parenthesis depth before each character, and whether they balance."""
    depths, depth, ok = [], 0, True
    for char in text:
        depths.append(depth)
        depth += (char == "(") - (char == ")")
        ok = ok and depth >= 0
    return depths, ok and depth == 0


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split on `sep` outside parentheses."""
    depths, _ = _depths(text)
    parts, start, i = [], 0, 0
    while i < len(text):
        if depths[i] == 0 and text.startswith(sep, i):
            parts.append(text[start:i].strip())
            start = i = i + len(sep)
            continue
        i += 1
    return parts + [text[start:].strip()]


def license_reason(license_id: str | None) -> str:
    if license_id is None:
        return "license_none"
    for prefix, reason in _FAMILIES:
        if license_id.startswith(prefix):
            return reason
    return "license_unknown"


_TITLES = re.compile(r"gnu affero general public license|gnu (lesser|library) general public license"
                     r"|gnu general public license|mozilla public license|eclipse public license|apache license")


def _titled(scope: str) -> str | None:
    """The license named first in `scope` (with its version from the text after the name)."""
    match = _TITLES.search(scope)
    if match is None:
        return None
    title, after = match.group(0), scope[match.end():match.end() + 400]
    v3 = re.search(r"version 3|v3\b|-3\.0", after) is not None
    if "affero" in title:
        return "agpl-3.0"
    if "lesser" in title or "library" in title:
        return "lgpl-3.0" if v3 else "lgpl-2.1"
    if "general public" in title:
        return "gpl-3.0" if v3 else "gpl-2.0"
    if "mozilla" in title:
        return "mpl-2.0" if "2.0" in after else "mpl-1.1"
    if "eclipse" in title:
        return "epl-2.0" if "2.0" in after else "epl-1.0"
    return "apache-2.0" if "2.0" in after else None


def detect_license(text: str) -> str:
    """The license of a LICENSE/COPYING file from its text ('unknown' when not recognised).

    The license named first in the head wins: the GPL-3.0 text itself mentions the Affero GPL,
    the GPL-2.0 preamble mentions the Library GPL."""
    body = " ".join(text.lower().split())[:40000]
    titled = _titled(body[:1500])
    if titled:
        return titled
    if "free and unencumbered software released into the public domain" in body:
        return "unlicense"
    if "cc0 1.0 universal" in body:
        return "cc0-1.0"
    if "the artistic license 2.0" in body:
        return "artistic-2.0"
    if "permission is hereby granted, free of charge" in body:
        return "mit"
    if "with or without fee is hereby granted" in body:
        return "isc"
    if "redistribution and use in source and binary forms" in body:
        if "all advertising materials" in body:
            return "bsd-4-clause"
        return "bsd-3-clause" if re.search(r"neither the name|names of (its|the) contributors", body) \
            else "bsd-2-clause"
    return _titled(body) or "unknown"


def combine_licenses(found: list[tuple[str, str]]) -> str:
    """One repo license from its license files [(file name, id)]: a copyleft or unknown file wins
    (the conservative reading of a repo shipping both), else the first permissive by file name."""
    ids = [lid for _, lid in sorted(found)]
    blocking = [lid for lid in ids if lid not in PERMISSIVE]
    return blocking[0] if blocking else ids[0]


# LICENSE, LICENCE.md, COPYING.LESSER, LICENSE-APACHE, UNLICENSE, and Rails' MIT-LICENSE.
LICENSE_FILE = re.compile(r"^((mit|apache|apache2|bsd|gpl|lgpl|mpl|isc)[-_])?(licen[cs]e|copying|unlicense)"
                          r"([-._][\w.-]*)?$", re.IGNORECASE)
# REUSE (reuse.software) keeps a repo's license texts as LICENSES/<SPDX id>.txt.
LICENSES_FOLDER = re.compile(r"^licen[cs]es$", re.IGNORECASE)
# A license text is plain text or one of these markups; `license.py`, `License.java`,
# `license_test.go` are code about licenses.
LICENSE_TEXT_LANGUAGES = (None, "markdown", "restructuredtext", "html")


def license_folder(path: str) -> str | None:
    """The folder whose license `path` states (None when `path` is not a license file)."""
    folder, name = os.path.split(path)
    if language_of(name) not in LICENSE_TEXT_LANGUAGES:
        return None
    if LICENSE_FILE.match(name):
        return folder
    if LICENSES_FOLDER.match(os.path.basename(folder)) and not name.startswith("."):
        return os.path.dirname(folder)
    return None


def is_license_file(path: str) -> bool:
    return license_folder(path) is not None


# --- extensions and languages ------------------------------------------------------------------
# RedPajama rp_v1 `github_run_filter.py` extension list (endswith match), language by extension.
LANGUAGES = {
    ".asm": "assembly", ".bat": "batchfile", ".cmd": "batchfile", ".c": "c", ".h": "c", ".cs": "c#",
    ".cpp": "c++", ".hpp": "c++", ".c++": "c++", ".h++": "c++", ".cc": "c++", ".hh": "c++", ".C": "c++",
    ".H": "c++", ".cmake": "cmake", ".css": "css", ".dockerfile": "dockerfile", ".f90": "fortran",
    ".f": "fortran", ".f03": "fortran", ".f08": "fortran", ".f77": "fortran", ".f95": "fortran",
    ".for": "fortran", ".fpp": "fortran", ".go": "go", ".hs": "haskell", ".html": "html", ".java": "java",
    ".js": "javascript", ".jl": "julia", ".lua": "lua", ".md": "markdown", ".markdown": "markdown",
    ".php": "php", ".php3": "php", ".php4": "php", ".php5": "php", ".phps": "php", ".phpt": "php",
    ".pl": "perl", ".pm": "perl", ".pod": "perl", ".perl": "perl", ".ps1": "powershell",
    ".psd1": "powershell", ".psm1": "powershell", ".py": "python", ".rb": "ruby", ".rs": "rust",
    ".sql": "sql", ".scala": "scala", ".sh": "shell", ".bash": "shell", ".command": "shell", ".zsh": "shell",
    ".ts": "typescript", ".tsx": "typescript", ".tex": "tex", ".vb": "visual-basic", "Dockerfile": "dockerfile",
    "Makefile": "makefile", ".xml": "xml", ".rst": "restructuredtext", ".m": "objective-c", ".smali": "smali",
}
RPJ_EXTENSIONS = tuple(LANGUAGES)
# Beyond the allow-list, so that --extensions can add them with their comment syntax known.
LANGUAGES.update({".el": "emacs-lisp", ".lisp": "lisp", ".lsp": "lisp", ".cl": "lisp", ".scm": "scheme",
                  ".ss": "scheme", ".clj": "clojure", ".kt": "kotlin", ".swift": "swift", ".yaml": "yaml",
                  ".yml": "yaml", ".toml": "toml", ".r": "r", ".R": "r", ".erl": "erlang", ".ml": "ocaml",
                  ".dart": "dart", ".groovy": "groovy", ".htm": "html", ".tcl": "tcl", ".nix": "nix"})


def language_of(path: str) -> str | None:
    """The language of `path` by its extension (RedPajama's endswith rule), None if unknown."""
    name = path.rsplit("/", 1)[-1]
    if name in LANGUAGES:
        return LANGUAGES[name]
    _, dot, ext = name.rpartition(".")
    if not dot:
        return None
    return LANGUAGES.get("." + ext) or LANGUAGES.get("." + ext.lower())


# --- filters --------------------------------------------------------------------------------------
class LicenseFilter(Filter):
    """Keeps the paper's licenses; every other family is its own counted reason."""

    name = "license"

    def __init__(self, allowed: tuple[str, ...] = PERMISSIVE):
        self.allowed = frozenset(normalize_license(a) for a in allowed)

    def filter(self, doc: Document):
        license_id = normalize_license(doc.meta.get("license"))
        doc.meta["license"] = license_id
        return True if license_id in self.allowed else (False, license_reason(license_id))


class FileKindFilter(Filter):
    """Drops what the reader flagged (`meta["problem"]`: binary, not_utf8, file_too_large, empty)
    and a repo's own license files (pure boilerplate)."""

    name = "file_kind"

    def filter(self, doc: Document):
        problem = doc.meta.pop("problem", None)
        if problem:
            return False, problem
        if is_license_file(doc.meta.get("path", "")):
            return False, "license_file"
        return True


class ExtensionFilter(Filter):
    """RedPajama's extension allow-list; sets `meta["language"]`."""

    name = "extension_not_allowed"

    def __init__(self, extensions: tuple[str, ...] = RPJ_EXTENSIONS):
        self.extensions = tuple(extensions)

    def filter(self, doc: Document):
        path = doc.meta.get("path", "")
        if not path.endswith(self.extensions):
            return False, "extension_not_allowed"
        doc.meta["language"] = language_of(path) or path.rsplit(".", 1)[-1].lower()
        return True


class HeaderFilter(Filter):
    """Removes leading license/copyright comments (sources.github.headers)."""

    name = "empty_after_header"

    def filter(self, doc: Document):
        doc.text = strip_header(doc.text, doc.meta.get("language", ""))
        return bool(doc.text.strip()) or (False, "empty_after_header")


NON_ALNUM = re.compile(r"[\W_]+")


class QualityFilter(Filter):
    """RedPajama's code heuristics: max line length > 1000, mean line length > 100,
    alphanumeric fraction < 0.25 (rp_v1 `github_run_filter.py`; also The Stack's filtering)."""

    name = "quality"

    def __init__(self, max_line_length: int = 1000, max_mean_line_length: float = 100.0,
                 min_alphanumeric_fraction: float = 0.25):
        self.max_line_length = max_line_length
        self.max_mean_line_length = max_mean_line_length
        self.min_alphanumeric_fraction = min_alphanumeric_fraction

    def filter(self, doc: Document):
        lines = doc.text.splitlines() or [""]
        lengths = [len(line) for line in lines]
        if max(lengths) > self.max_line_length:
            return False, "max_line_length"
        if sum(lengths) / len(lengths) > self.max_mean_line_length:
            return False, "mean_line_length"
        alnum = len(NON_ALNUM.sub("", doc.text))  # str.isalnum, up to combining marks, at C speed
        if alnum / max(len(doc.text), 1) < self.min_alphanumeric_fraction:
            return False, "alphanumeric_fraction"
        return True
