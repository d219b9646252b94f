"""Sample Stack Exchange dump: `data/raw/stackexchange/` in the archive.org layout.

Posts are real text: questions and answers are made from the docstrings of Python's standard
library (each post quotes and explains a real function's documentation), written as the
dump's `Posts.xml` (one `<row/>` a line, HTML bodies escaped, `&#xA;` newlines). 30 sites plus
a meta site, as `.7z` archives and plain folders, with sizes spread so that the top-28 cut
removes the smallest; plus what the source must survive: a malformed row, rows missing
attributes, an entity-bomb file and a truncated `.7z`.

Two things of the dump as extracted, and what should happen to them:

  <TABLES_SITE>/Users.xml, Comments.xml   the site's other tables beside its Posts.xml
                                          (BOM, CRLF, as the dump writes them)   skipped, not read
  <BACKSPACE_SITE>/Posts.xml, question 1  its body holds `&#x8;` (a pasted backspace,
                                          a character XML 1.0 forbids)          kept, without it
"""

from __future__ import annotations

import html
import inspect
import os
import random
import re
from xml.sax.saxutils import quoteattr

SITES = [
    "stackoverflow.com", "math.stackexchange.com", "superuser.com", "serverfault.com", "askubuntu.com",
    "unix.stackexchange.com", "physics.stackexchange.com", "english.stackexchange.com", "tex.stackexchange.com",
    "stats.stackexchange.com", "electronics.stackexchange.com", "gaming.stackexchange.com",
    "softwareengineering.stackexchange.com", "scifi.stackexchange.com", "apple.stackexchange.com",
    "codereview.stackexchange.com", "dba.stackexchange.com", "salesforce.stackexchange.com",
    "gis.stackexchange.com", "mathoverflow.net", "security.stackexchange.com", "ell.stackexchange.com",
    "diy.stackexchange.com", "wordpress.stackexchange.com", "worldbuilding.stackexchange.com",
    "magento.stackexchange.com", "rpg.stackexchange.com", "academia.stackexchange.com",
    "chemistry.stackexchange.com", "biology.stackexchange.com",
]
META_SITE = "meta.stackexchange.com"
MODULES = ["json", "os.path", "re", "itertools", "functools", "collections", "textwrap", "string", "shutil",
           "random", "statistics", "heapq", "bisect", "fnmatch", "difflib", "base64", "zlib", "gzip", "csv",
           "calendar", "datetime", "fractions", "decimal", "html", "urllib.parse", "operator", "copy", "math"]


def _functions():
    import importlib

    out = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or not callable(obj):
                continue
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 80 and getattr(obj, "__module__", module_name) in (module_name, None):
                out.append((f"{module_name}.{name}", doc))
    return out


def _paragraphs(doc: str) -> list[str]:
    return [p.strip() for p in doc.split("\n\n") if p.strip()]


def _question_html(name: str, doc: str) -> str:
    first = html.escape(_paragraphs(doc)[0])
    return (f"<p>The documentation of <code>{name}</code> says:</p>\n<blockquote><p>{first}</p></blockquote>\n"
            f"<p>What does this mean in practice &amp; when should I use it?</p>\n")


def _answer_html(name: str, doc: str, rng: random.Random, funcs) -> str:
    paras = _paragraphs(doc)
    start = rng.randrange(len(paras))
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paras[start:start + 2])
    other, other_doc = funcs[rng.randrange(len(funcs))]
    body += f"<p>Compare <code>{other}</code>: {html.escape(_paragraphs(other_doc)[0])}</p>\n"
    module, func = name.rsplit(".", 1)
    code = f"import {module}\n\nresult = {name}(...)  # see the signature above\nprint(result)\n"
    body += f"<pre><code>{html.escape(code)}</code></pre>\n"
    if rng.random() < 0.5:
        body += "<ul>\n<li>it is part of the standard library</li>\n<li>no install needed</li>\n</ul>\n"
    return body


def _row(**attrs) -> str:
    return "  <row " + " ".join(f"{k}={quoteattr(str(v), {chr(10): '&#xA;'})}" for k, v in attrs.items()) + " />"


def posts_xml(site: str, n_questions: int, funcs, rng: random.Random, post_id: int = 1) -> str:
    rows = []
    for q in range(n_questions):
        name, doc = funcs[rng.randrange(len(funcs))]
        qid = post_id
        post_id += 1
        n_answers = rng.choice([0, 1, 2, 3, 5]) if q else 5
        scores = [100, 10, 9, 2, -5] if q == 0 else [rng.randint(-3, 60) for _ in range(n_answers)]
        answer_ids = list(range(post_id, post_id + n_answers))
        post_id += n_answers
        accepted = {"AcceptedAnswerId": answer_ids[-1]} if answer_ids and rng.random() < 0.6 else {}
        rows.append(_row(Id=qid, PostTypeId=1, **accepted, CreationDate=f"2019-0{1 + q % 9}-1{q % 10}T12:00:00.000",
                         Score=rng.randint(-2, 80), ViewCount=rng.randint(10, 90000), Body=_question_html(name, doc),
                         OwnerUserId=rng.randint(1, 999), Title=f"What does {name} do, and when should I use it?",
                         Tags=f"<python><{name.split('.')[0]}>", AnswerCount=n_answers, CommentCount=0,
                         ContentLicense="CC BY-SA 4.0"))
        order = list(zip(answer_ids, scores))
        rng.shuffle(order)  # the dump is in id order; shuffle scores so sorting matters
        for aid, score in sorted(order):
            rows.append(_row(Id=aid, PostTypeId=2, ParentId=qid, CreationDate="2019-10-10T10:00:00.000",
                             Score=score, Body=_answer_html(name, doc, rng, funcs), OwnerUserId=rng.randint(1, 999),
                             CommentCount=0, ContentLicense="CC BY-SA 4.0"))
    if n_questions > 3:  # an orphan answer whose question is not in the dump
        rows.append(_row(Id=post_id + 10, PostTypeId=2, ParentId=999999, Score=1, Body="<p>Orphaned answer.</p>",
                         CreationDate="2020-01-01T00:00:00.000"))
        rows.append(_row(Id=post_id + 11, PostTypeId=5, Body="<p>A tag wiki excerpt, not a thread.</p>"))
    return '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n"


BACKSPACE_SITE, TABLES_SITE = SITES[2], SITES[1]  # two site folders (see build)


def with_backspace(xml: str) -> str:
    """The first question's body with a `&#x8;` character reference in it, as real dump rows have."""
    typed = "What does this mean in practice"
    first = xml.index(typed)
    return xml[:first] + "What does this mean in&#x8; practice" + xml[first + len(typed):]


def other_tables(posts: str) -> dict[str, str]:
    """Users.xml and Comments.xml for a site's posts, in the dump's layout (BOM, CRLF line ends)."""
    post_ids = [int(i) for i in re.findall(r'<row Id="(\d+)" PostTypeId="1"', posts)][:3]
    users = [_row(Id=-1, Reputation=1, CreationDate="2010-07-20T14:47:43.787", DisplayName="Community",
                  LastAccessDate="2010-07-20T14:47:43.787", Location="on the server farm",
                  AboutMe="<p>Hi, I'm not really a person.</p>\n", Views=0, UpVotes=5007, DownVotes=1920,
                  AccountId=-1)]
    users += [_row(Id=uid, Reputation=100 + 37 * uid, CreationDate=f"2011-0{uid}-02T09:30:00.000",
                   DisplayName=f"user{uid}", Views=uid, UpVotes=uid, DownVotes=0, AccountId=1000 + uid)
              for uid in range(1, 4)]
    comments = [_row(Id=cid, PostId=pid, Score=cid % 3, Text=f"Which Python version is this about? (post {pid})",
                     CreationDate="2019-10-10T11:00:00.000", UserId=cid, ContentLicense="CC BY-SA 4.0")
                for cid, pid in enumerate(post_ids, start=1)]
    head = '\ufeff<?xml version="1.0" encoding="utf-8"?>'
    return {name: "\r\n".join([head, f"<{tag}>", *rows, f"</{tag}>", ""])
            for name, tag, rows in (("Users.xml", "users", users), ("Comments.xml", "comments", comments))}


def _write_7z(path: str, members: dict[str, str]) -> None:
    """A .7z of the members, byte-identical on every build (members carry a fixed mtime)."""
    import tempfile

    import py7zr

    with tempfile.TemporaryDirectory() as tmp, py7zr.SevenZipFile(path, "w") as archive:
        for name, text in members.items():
            member = os.path.join(tmp, name)
            with open(member, "w", encoding="utf-8") as f:
                f.write(text)
            os.utime(member, (1_600_000_000, 1_600_000_000))
            archive.write(member, name)


def build(out_dir: str, assets_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    funcs = _functions()
    for i, site in enumerate(SITES):
        n_questions = max(2, 14 - i // 3)  # sizes fall with the rank: the last two miss the top 28
        xml = posts_xml(site, n_questions, funcs, rng)
        if site == "stackoverflow.com":
            _write_7z(os.path.join(out_dir, "stackoverflow.com-Posts.7z"), {"Posts.xml": xml})
        elif i % 3 == 0:
            users = '<?xml version="1.0" encoding="utf-8"?>\n<users>\n  <row Id="1" DisplayName="x" />\n</users>\n'
            _write_7z(os.path.join(out_dir, f"{site}.7z"), {"Posts.xml": xml, "Users.xml": users})
        else:
            os.makedirs(os.path.join(out_dir, site))
            tables = {"Posts.xml": with_backspace(xml) if site == BACKSPACE_SITE else xml}
            if site == TABLES_SITE:
                tables.update(other_tables(xml))
            for name, text in tables.items():
                with open(os.path.join(out_dir, site, name), "w", encoding="utf-8", newline="") as f:
                    f.write(text)
    os.makedirs(os.path.join(out_dir, META_SITE))
    with open(os.path.join(out_dir, META_SITE, "Posts.xml"), "w", encoding="utf-8") as f:
        f.write(posts_xml(META_SITE, 30, funcs, rng))
    _write_bad(out_dir, funcs, rng)


def _write_bad(out_dir: str, funcs, rng: random.Random) -> None:
    site = "bad.stackexchange.com"
    os.makedirs(os.path.join(out_dir, site))
    good = posts_xml(site, 2, funcs, rng).splitlines()
    broken = [
        '  <row Id="900" PostTypeId="1" Title="Unclosed quote Body="<p>x</p>" />',  # malformed
        '  <row PostTypeId="2" Body="&lt;p&gt;no id&lt;/p&gt;" />',  # missing Id
    ]
    invalid_utf8 = b'  <row Id="901" PostTypeId="1" Title="bad bytes \xff\xfe" Body="x" />'
    with open(os.path.join(out_dir, site, "Posts.xml"), "wb") as f:
        f.write("\n".join(good[:-1] + broken).encode() + b"\n" + invalid_utf8 + b"\n"
                + "\n".join(good[-1:]).encode() + b"\n")
    bomb = ['<?xml version="1.0"?>', '<!DOCTYPE posts [', ' <!ENTITY lol "lol">']
    bomb += [f' <!ENTITY lol{i} "' + f"&lol{i - 1 if i > 1 else ''};" * 10 + '">' for i in range(1, 10)]
    bomb += [']>', '<posts>', '  <row Id="1" PostTypeId="1" Title="&lol9;" Body="&lol9;" />', '</posts>']
    os.makedirs(os.path.join(out_dir, "bomb.stackexchange.com"))
    with open(os.path.join(out_dir, "bomb.stackexchange.com", "Posts.xml"), "w") as f:
        f.write("\n".join(bomb) + "\n")
    whole = os.path.join(out_dir, "truncated.stackexchange.com.7z")
    _write_7z(whole, {"Posts.xml": posts_xml("truncated.stackexchange.com", 3, funcs, rng)})
    with open(whole, "rb") as f:
        data = f.read()
    with open(whole, "wb") as f:
        f.write(data[: len(data) // 2])
