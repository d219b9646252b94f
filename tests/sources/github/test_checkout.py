"""Reading GitHub checkouts (sources/github/checkout.py): repo roots, the nearest license, links
and special files never followed."""

from __future__ import annotations

import os

from pipeline import files
from sources.github.checkout import _repo_task, read_tree_file
from sources.github.source import GitHubConfig, GitHubSource
from tests.fixtures.github import COMMON, MIT_TEXT
from tests.fixtures.helpers import clean_docs, read_jsonl_gz, run_source


def test_repo_root_by_license_file_git_or_first_folder(tmp_path):
    root = str(tmp_path)
    licensed = {f"{root}/psf/requests": "apache-2.0"}
    assert _repo_task(f"{root}/psf/requests/src/api.py", root, licensed) == (
        f"{root}/psf/requests/src/api.py", "psf/requests", "src/api.py", "apache-2.0")
    os.makedirs(tmp_path / "tool" / ".git")
    assert _repo_task(f"{root}/tool/a/b.c", root, licensed)[1:] == ("tool", "a/b.c", None)
    assert _repo_task(f"{root}/loose/x/y.py", root, licensed)[1:] == ("loose", "x/y.py", None)
    # a single repo given as the input: its root is the mirror root
    assert _repo_task(f"{root}/psf/requests/api.py", f"{root}/psf/requests", {f"{root}/psf/requests": "mit"})[1:] == (
        "requests", "api.py", "mit")


def test_tree_file_of_100mb_is_dropped_unread(tmp_path):
    big = tmp_path / "big.c"
    with open(big, "wb") as f:
        f.truncate(100 << 20)  # sparse: no 100 MB written to disk
    d = read_tree_file(str(big), "o/r", "big.c", "mit", GitHubConfig().max_file_bytes)
    assert d.meta["problem"] == "file_too_large" and d.text == ""


def test_checkout_symlinks_and_fifos_are_never_followed(tmp_path):
    """A checkout holds symlinks (to a sibling, to outside the input, dangling) and may hold a
    FIFO: none is read (the outside file must not leak into the corpus, a FIFO would block the
    job forever); each is one counted drop, and the real file survives under its own name."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 'from outside the input'\n")
    repo = tmp_path / "raw" / "acme" / "app"
    (repo / "src").mkdir(parents=True)
    (repo / "LICENSE").write_text(MIT_TEXT)
    (repo / "src" / "main.py").write_text("def main():\n    return 'app'\n")
    os.symlink(outside / "secret.py", repo / "src" / "leak.py")
    os.symlink("main.py", repo / "src" / "alias.py")  # sorts before main.py: would win the dedup
    os.symlink(tmp_path / "missing.py", repo / "src" / "dangling.py")
    os.mkfifo(repo / "src" / "pipe.py")
    stats = run_source(GitHubSource(), files.expand_inputs(str(tmp_path / "raw")), str(tmp_path / "out"))
    assert stats["dropped"] == {"license_file": 1, "symlink": 3, "special_file": 1} and stats["errors"] == {}
    docs = clean_docs(str(tmp_path / "out"), "github")
    assert [d["meta"]["path"] for d in docs] == ["src/main.py"]


def test_checkout_license_is_the_nearest_license_file(tmp_path):
    """Real checkouts vendor code under its own license (third_party/x/COPYING, node_modules/y/
    LICENSE) and nest other checkouts (a submodule's own .git): that code keeps its own license,
    not the outer repo's. Code files named license.* are code, not license texts; Rails'
    MIT-LICENSE and REUSE's LICENSES/<id>.txt are license texts; a `license-check` script is not."""
    raw = tmp_path / "raw"

    def put(rel, text):
        os.makedirs(os.path.dirname(raw / rel), exist_ok=True)
        (raw / rel).write_text(text)

    common = lambda name: open(os.path.join(COMMON, name), encoding="utf-8").read()  # noqa: E731
    put("acme/app/LICENSE", common("BSD"))
    put("acme/app/src/main.py", "def main():\n    return 'app'\n")
    put("acme/app/src/license.py", "def license_text():\n    return 'see the LICENSE file'\n")
    put("acme/app/tools/license-check", "#!/bin/sh\ngrep -L Copyright \"$@\"\n")
    put("acme/app/tools/run.sh", "#!/bin/sh\nexec python -m app \"$@\"\n")
    put("acme/app/third_party/gplthing/COPYING", common("GPL-3"))
    put("acme/app/third_party/gplthing/gpl.c", "int gpl_only(void) { return 3; }\n")
    put("acme/app/node_modules/leftpad/LICENSE", common("GPL-2"))
    put("acme/app/node_modules/leftpad/index.js", "module.exports = function leftpad(s) { return s; };\n")
    put("acme/app/node_modules/mitpad/LICENSE", MIT_TEXT)
    put("acme/app/node_modules/mitpad/index.js", "module.exports = function mitpad(s) { return s + '!'; };\n")
    put("acme/app/vendor/sub/.git", "gitdir: ../../.git/modules/sub\n")  # a submodule checkout
    put("acme/app/vendor/sub/sub.py", "def sub():\n    return 'no license of its own'\n")
    put("rails/rails/MIT-LICENSE", MIT_TEXT)
    put("rails/rails/lib/rails.rb", "module Rails\n  def self.version\n    '7.1'\n  end\nend\n")
    put("kde/reuse/LICENSES/Apache-2.0.txt", common("Apache-2.0"))
    put("kde/reuse/src/k.py", "def k():\n    return 'reuse'\n")
    inputs = files.expand_inputs(str(raw)) + [str(raw / "acme/app/vendor/sub/.git")]  # _walk skips dot files
    stats = run_source(GitHubSource(), inputs, str(tmp_path / "out"))
    assert stats["errors"] == {}
    docs = {d["meta"]["path"]: d["meta"] for d in clean_docs(str(tmp_path / "out"), "github")}
    assert {path: (m["repo"], m["license"]) for path, m in docs.items()} == {
        "src/main.py": ("acme/app", "bsd-3-clause"), "src/license.py": ("acme/app", "bsd-3-clause"),
        "tools/run.sh": ("acme/app", "bsd-3-clause"), "node_modules/mitpad/index.js": ("acme/app", "mit"),
        "lib/rails.rb": ("rails/rails", "mit"), "src/k.py": ("kde/reuse", "apache-2.0")}
    rejected = {r["meta"]["path"]: r["drop_reason"]
                for r in read_jsonl_gz(str(tmp_path / "out" / "rejected" / "github" / "*.jsonl.gz"))}
    assert rejected["third_party/gplthing/gpl.c"] == "license_gpl"
    assert rejected["node_modules/leftpad/index.js"] == "license_gpl"
    assert rejected["vendor/sub/sub.py"] == "license_none"
