"""Sample GitHub input: `data/raw/github/` with both input forms, all real code.

- `bigquery/github_repos-00000000000N.json.gz`: the BigQuery export (newline-delimited JSON,
  `repo_name`, `path`, `content`, `binary`, `license`) of real source files taken from the
  packages installed in this venv, each under its project's real license id (six: mit,
  requests: apache-2.0, click: bsd-3-clause, pygments: bsd-2-clause, py7zr: lgpl-2.1, certifi:
  mpl-2.0, dnspython: isc, tensorboard: apache-2.0), plus a fork of six (duplicates), a repo with
  no license, tensorboard's real 2 MB compiled bundle (file too large), a whitespace-minified
  copy of a tensorboard script, a binary row, a legacy cp1252 re-encoding of a real file
  (invalid UTF-8), rows missing fields and a broken JSON line.
- `mirrors/<owner>/<repo>/`: checkouts with their real LICENSE/COPYING files: idna (BSD-3),
  h11 (MIT), markupsafe (BSD-3, with its C source and compiled `.so`), six again (a duplicate
  across the two forms), pyppmd (LGPL), hypothesis (MPL-2.0), defusedxml (PSF: an unknown
  license), dpkg's shell library with Debian's GPL-2 text, and a folder with no license.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata as md
import json
import os
import random
import re
import shutil

FILES_PER_REPO = 25
MAX_SAMPLE_FILE = 120_000  # bytes: keeps the sample to a few MB

# (distribution, repo name, BigQuery license id or None, top-level folder in the wheel)
EXPORT_REPOS = [
    ("six", "benjaminp/six", "mit", ""),
    ("six", "someone/six-fork", "mit", ""),
    ("requests", "psf/requests", "apache-2.0", "requests"),
    ("click", "pallets/click", "bsd-3-clause", "click"),
    ("pygments", "pygments/pygments", "bsd-2-clause", "pygments/lexers"),
    ("py7zr", "miurahr/py7zr", "lgpl-2.1", "py7zr"),
    ("certifi", "certifi/python-certifi", "mpl-2.0", "certifi"),
    ("dnspython", "rthalley/dnspython", "isc", "dns"),
    ("sentencepiece", "someone/spm-scripts", None, "sentencepiece"),
]
MIRROR_REPOS = [  # (distribution, owner/repo, folder in the wheel)
    ("idna", "kjd/idna", "idna"),
    ("h11", "python-hyper/h11", "h11"),
    ("markupsafe", "pallets/markupsafe", "markupsafe"),
    ("six", "benjaminp/six", ""),
    ("pyppmd", "miurahr/pyppmd", "pyppmd"),
    ("hypothesis", "HypothesisWorks/hypothesis", "hypothesis/strategies"),
    ("defusedxml", "tiran/defusedxml", "defusedxml"),
]
# Pygments' generated builtin tables have lines over 1,000 characters (the max-line-length rule).
ALWAYS = {"pygments/lexers/_cocoa_builtins.py"}
# The Stack v1 rows: (distribution, file in the wheel, repo, path in the repo, SPDX licenses, stars).
# A file is left out when its distribution is not installed.
STACK_ROWS = [
    ("urllib3", "urllib3/fields.py", "urllib3/urllib3", "src/urllib3/fields.py", ["MIT"], 3500),
    ("urllib3", "urllib3/util/retry.py", "urllib3/urllib3", "src/urllib3/util/retry.py", ["MIT"], 3500),
    ("packaging", "packaging/version.py", "pypa/packaging", "src/packaging/version.py",
     ["Apache-2.0", "BSD-2-Clause"], 560),
    ("packaging", "packaging/markers.py", "pypa/packaging", "src/packaging/markers.py",
     ["Apache-2.0", "BSD-2-Clause"], 560),
    ("wrapt", "wrapt/decorators.py", "GrahamDumpleton/wrapt", "src/wrapt/decorators.py", ["BSD-2-Clause"], 2000),
    ("multivolumefile", "multivolumefile/stat.py", "miurahr/multivolumefile", "multivolumefile/stat.py",
     ["LGPL-2.1-or-later"], 5),
]
STACK_PATH = "the-stack/data/python/train-00000-of-00001.parquet"
LICENSE_NAME = re.compile(r"^(licen[cs]e|copying)([-._][\w.-]*)?$", re.IGNORECASE)


def _dist_files(dist_name: str, folder: str, rng: random.Random) -> list[tuple[str, bytes]]:
    """(path, bytes) of up to FILES_PER_REPO source files of an installed distribution."""
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return []
    found = []
    for f in sorted(dist.files or [], key=str):
        path = str(f)
        inside = path.startswith(folder + "/") if folder else "/" not in path
        if not inside or "__pycache__" in path or ".dist-info" in path:
            continue
        if not path.endswith((".py", ".c", ".h", ".pyi", ".so", ".typed")):
            continue
        data = dist.locate_file(f).read_bytes()
        if len(data) <= MAX_SAMPLE_FILE or path.endswith(".so"):
            found.append((path, data))
    if len(found) > FILES_PER_REPO:
        must = [f for f in found if f[0] in ALWAYS]
        found = sorted(set(rng.sample(found, FILES_PER_REPO)) | set(must))
    return found


def _license_files(dist_name: str) -> list[tuple[str, bytes]]:
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return []
    return [(os.path.basename(str(f)), dist.locate_file(f).read_bytes()) for f in sorted(dist.files or [], key=str)
            if ".dist-info" in str(f) and LICENSE_NAME.match(os.path.basename(str(f)))]


def _row(repo: str, path: str, content: str | None, license_id: str | None, binary: bool = False) -> bytes:
    return (json.dumps({"repo_name": repo, "path": path, "content": content, "binary": binary,
                        "license": license_id}) + "\n").encode()


def _export_rows(rng: random.Random) -> list[bytes]:
    rows = []
    for dist_name, repo, license_id, folder in EXPORT_REPOS:
        for path, data in _dist_files(dist_name, folder, rng):
            if path.endswith(".so"):
                rows.append(_row(repo, path, None, license_id, binary=True))  # BigQuery: binary, no content
            else:
                rows.append(_row(repo, path, data.decode("utf-8", "replace"), license_id))
    rows += _special_rows()
    return rows


def _special_rows() -> list[bytes]:
    rows = []
    try:
        board = md.distribution("tensorboard")
        plugin = "tensorboard/plugins/projector/tf_projector_plugin/"
        bundle = board.locate_file(plugin + "projector_binary.js").read_text("utf-8")
        rows.append(_row("tensorflow/tensorboard", plugin + "projector_binary.js", bundle, "apache-2.0"))
        script = board.locate_file(plugin + "index.js").read_text("utf-8")
        body = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)  # what a minifier does first
        minified = re.sub(r"\s*([{}();,=:])\s*", r"\1", " ".join(body.split()))
        rows.append(_row("tensorflow/tensorboard", plugin + "index.min.js", minified, "apache-2.0"))
    except (md.PackageNotFoundError, OSError):
        pass
    try:
        legacy = md.distribution("charset_normalizer").locate_file("charset_normalizer/constant.py").read_text("utf-8")
        encoded = legacy.encode("cp1252", "replace")  # a file saved in a legacy Windows code page
        line = b'{"repo_name": "jawah/charset_normalizer", "path": "legacy/constant.py", "license": "mit", ' \
               b'"content": "' + json.dumps(encoded.decode("latin-1"), ensure_ascii=False)[1:-1].encode("latin-1") + b'"}\n'
        rows.append(line)
    except (md.PackageNotFoundError, OSError):
        pass
    rows.append(b'{"repo_name": "psf/requests", "path": "requests/missing.py", "license": "apache-2.0"}\n')
    rows.append(b'{"path": "orphan.py", "content": "x = 1\\n", "license": "mit"}\n')
    rows.append(b'{"repo_name": "psf/requests", "path": "requests/broken.py", "content": "def f(\n')
    return rows


def _write_mirror(root: str, repo: str, files: list[tuple[str, bytes]]) -> None:
    for path, data in files:
        target = os.path.join(root, repo, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)


def _mirrors(root: str, rng: random.Random) -> None:
    for dist_name, repo, folder in MIRROR_REPOS:
        files = _dist_files(dist_name, folder, rng)
        if files:
            _write_mirror(root, repo, files + _license_files(dist_name))
    dpkg = "/usr/share/dpkg"
    if os.path.isdir(dpkg) and os.path.exists("/usr/share/common-licenses/GPL-2"):
        files = [(os.path.relpath(os.path.join(d, n), dpkg), open(os.path.join(d, n), "rb").read())
                 for d, _, names in sorted(os.walk(dpkg)) for n in sorted(names) if n.endswith((".sh", ".mk"))]
        files.append(("COPYING", open("/usr/share/common-licenses/GPL-2", "rb").read()))
        _write_mirror(root, "dpkg/dpkg", files)
    unlicensed = _dist_files("tokenizers", "tokenizers", rng) or _dist_files("wcwidth", "wcwidth", rng)
    _write_mirror(root, "someone/no-license", unlicensed[:4])


def _stack_row(repo: str, path: str, content: str | None, licenses: list[str], stars: int) -> dict:
    """One row in The Stack v1's schema (the max_stars/issues/forks repo the same here)."""
    data = (content or "").encode()
    lines = (content or "").splitlines() or [""]
    row = {"hexsha": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), "size": len(data),
           "ext": "py", "lang": "Python"}
    for kind, count in (("stars", stars), ("issues", stars // 20), ("forks", stars // 5)):
        row.update({f"max_{kind}_repo_path": path, f"max_{kind}_repo_name": repo,
                    f"max_{kind}_repo_head_hexsha": hashlib.sha1(repo.encode()).hexdigest(),
                    f"max_{kind}_repo_licenses": licenses, f"max_{kind}_count": count,
                    f"max_{kind}_repo_{kind}_event_min_datetime": "2015-01-12T09:41:05.000Z",
                    f"max_{kind}_repo_{kind}_event_max_datetime": "2022-03-01T18:02:11.000Z"})
    row.update({"content": content, "avg_line_length": sum(map(len, lines)) / len(lines),
                "max_line_length": max(map(len, lines)),
                "alphanum_fraction": sum(c.isalnum() for c in content or "") / max(len(content or ""), 1)})
    return row


def _write_stack(path: str) -> None:
    """The Stack v1 shard: STACK_ROWS plus a row with no content, in two row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for dist_name, wheel_path, repo, path_in_repo, licenses, stars in STACK_ROWS:
        try:
            content = md.distribution(dist_name).locate_file(wheel_path).read_text("utf-8")
        except (md.PackageNotFoundError, OSError):
            continue
        rows.append(_stack_row(repo, path_in_repo, content, licenses, stars))
    rows.append(_stack_row("urllib3/urllib3", "src/urllib3/contrib/socks.py", None, ["MIT"], 3500))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # No timestamps in Parquet's footer: the same rows give the same bytes.
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=4)


def build(out_dir: str, assets_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    rows = _export_rows(rng)
    os.makedirs(os.path.join(out_dir, "bigquery"), exist_ok=True)
    half = len(rows) // 2
    for n, part in enumerate((rows[:half], rows[half:])):
        path = os.path.join(out_dir, "bigquery", f"github_repos-{n:012d}.json.gz")
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(b"".join(part))
    mirrors = os.path.join(out_dir, "mirrors")
    if os.path.isdir(mirrors):
        shutil.rmtree(mirrors)
    _mirrors(mirrors, rng)
    _write_stack(os.path.join(out_dir, STACK_PATH))
