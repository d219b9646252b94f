"""StackExchange: the 28 largest sites, HTML stripped, answers sorted by score (paper §2.1).

Input: the dump layout as distributed, one `.7z` or folder per site
(`<site>.stackexchange.com.7z`, `stackoverflow.com-Posts.7z`, or `<site>/Posts.xml`).
Steps: read posts (streamed, one `<row/>` a line; a row split over lines by newlines inside its
attributes is joined, up to `--max-row-mb`: `rows.py`) -> join each question with its answers
by a shuffle (key = site + question id) -> one thread document -> drop meta sites, sites outside
the N largest (ranked by posts), unanswered questions (configurable), orphan answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
import os
import re
import xml.etree.ElementTree as ET
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from pipeline.document import Document, ErrorRecord, Rejected
from pipeline.filters import ERRORS, REJECTED, Filter, Step
from sources.base import Source, SourceConfig
from sources.stackexchange import sevenzip
from sources.stackexchange.html import html_to_text
from sources.stackexchange.rows import MAX_ROW_BYTES, NAME, iter_post_lines, parse_row

log = logging.getLogger("sources.stackexchange.source")
QUESTION, ANSWER = "1", "2"


@dataclasses.dataclass
class StackExchangeConfig(SourceConfig):
    top_sites: int = dataclasses.field(default=28, metadata={"help": "keep the N largest sites by posts (paper: 28)"})
    keep_unanswered: bool = dataclasses.field(default=True, metadata={"help": "keep titled questions with no answer"})
    # The row cap (MAX_ROW_BYTES, see there), also for a row spread over lines.
    max_row_mb: float = dataclasses.field(default=MAX_ROW_BYTES / 2**20, metadata={
        "help": "a <row/> (one line, or lines joined) larger than this many MiB is a counted error"})


def site_of(path: str) -> str:
    """`ai.stackexchange.com.7z` / `stackoverflow.com-Posts.7z` / `.../math.stackexchange.com/Posts.xml`."""
    base = os.path.basename(path)
    if base.lower() == "posts.xml":
        base = os.path.basename(os.path.dirname(path))
    base = re.sub(r"\.7z$", "", base)
    return re.sub(r"-Posts$", "", base, flags=re.IGNORECASE)


def is_meta(site: str) -> bool:
    return site.startswith("meta.") or ".meta." in site


# The dump's other tables (archive.org readme): an extracted site folder holds them beside
# Posts.xml, and stackoverflow.com ships each as `stackoverflow.com-<Table>.7z`. None holds posts.
OTHER_TABLES = ("badges", "comments", "posthistory", "postlinks", "tags", "users", "votes", "sites")


def is_other_table(path: str) -> bool:
    """`cooking.stackexchange.com/Users.xml`, `stackoverflow.com-Comments.7z`, `Sites.xml`."""
    base = os.path.basename(path).lower()
    if base.endswith(".xml"):
        return base[:-4] in OTHER_TABLES
    m = re.search(r"-([a-z]+)\.7z$", base)
    return bool(m) and m.group(1) in OTHER_TABLES


def read_posts(path: str, open_fn=None, max_row_bytes: int = MAX_ROW_BYTES) -> Iterator[dict | ErrorRecord]:
    """Posts of one site input (a Posts.xml or a .7z holding one); dicts with `site` added."""
    site = site_of(path)
    if is_other_table(path):
        log.info("%s: skipped %s (not a posts table)", NAME, path)
        return
    if path.endswith(".7z"):
        yield from _read_7z(path, site, max_row_bytes)
        return
    with (open_fn or FileSystems.open)(path) as handle:
        yield from _rows(handle, path, site, max_row_bytes)


def _rows(handle, path: str, site: str, max_row_bytes: int) -> Iterator[dict | ErrorRecord]:
    for line, error in iter_post_lines(handle, path, max_row_bytes):
        if error is not None:
            yield error
            continue
        try:
            row = parse_row(line)
        except (ET.ParseError, ValueError) as exc:
            yield ErrorRecord.of(NAME, path, "malformed_row", exc, line)
            continue
        if "Id" not in row or "PostTypeId" not in row:
            yield ErrorRecord.of(NAME, path, "missing_attributes", "row without Id or PostTypeId", line)
            continue
        row["site"] = site
        yield row


def _read_7z(path: str, site: str, max_row_bytes: int) -> Iterator[dict | ErrorRecord]:
    """Posts.xml's rows, decompressed as they are read from the archive where it lies (a local
    file or an object store: nothing is copied to disk). Rows before damage in the archive are
    kept; the damage is one `bad_archive` error."""
    with contextlib.ExitStack() as stack:
        try:
            archive = path if "://" not in path else stack.enter_context(
                FileSystems.open(path, compression_type="uncompressed"))
            names = [n for n in sevenzip.member_names(archive) if os.path.basename(n).lower() == "posts.xml"
                     and not n.startswith("/") and ".." not in n.split("/")]
        except Exception as exc:  # not a 7z archive, a damaged header, an unreadable object
            yield ErrorRecord.of(NAME, path, "bad_archive", exc)
            return
        if not names:
            yield ErrorRecord.of(NAME, path, "no_posts_xml", "archive holds no Posts.xml")
            return
        handle = stack.enter_context(sevenzip.open_member(archive, names[0]))
        try:
            yield from _rows(handle, f"{path}!{names[0]}", site, max_row_bytes)
        except Exception as exc:  # decompression failed midway: the rows read so far are kept
            yield ErrorRecord.of(NAME, path, "bad_archive", exc)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def parse_tags(tags: str) -> list[str]:
    """`<python><pandas>` (older dumps) or `|python|pandas|` (2023 on)."""
    return [t for t in re.split(r"[<>|]+", tags or "") if t]


def sort_answers(answers: list[dict], accepted_id: str | None) -> list[dict]:
    """Highest score first by NUMERIC score; ties: the accepted answer, then the lowest id."""
    return sorted(answers, key=lambda a: (-_int(a.get("Score")), a.get("Id") != accepted_id, _int(a.get("Id"))))


def build_thread(site: str, question_id: str, posts: list[dict]) -> Document:
    question = next((p for p in posts if p.get("PostTypeId") == QUESTION), None)
    answers = [p for p in posts if p.get("PostTypeId") == ANSWER]
    doc_id = f"{NAME}/{site}/{question_id}"
    if question is None:
        return Document(doc_id, "", NAME, {"site": site, "question_id": _int(question_id), "orphan_answers": len(answers)})
    accepted = question.get("AcceptedAnswerId")
    answers = sort_answers(answers, accepted)
    # The title is plain text, not HTML (`std::vector<bool>` is a type, not a tag): only
    # whitespace is tidied and entities a title may carry are read.
    title = " ".join(html.unescape(question.get("Title", "")).split())
    parts = [f"Q: {title}\n\n{html_to_text(question.get('Body', ''))}".strip()]
    parts += [f"A: {html_to_text(a.get('Body', ''))}".strip() for a in answers]
    meta = {
        "site": site,
        "question_id": _int(question_id),
        "url": f"https://{site}/questions/{question_id}",
        "title": title,
        "question_score": _int(question.get("Score")),
        "answer_scores": [_int(a.get("Score")) for a in answers],
        "accepted_answer_id": _int(accepted) if accepted else None,
        "tags": parse_tags(question.get("Tags", "")),
        "creation_date": question.get("CreationDate"),
    }
    return Document(doc_id, "\n\n".join(parts), NAME, meta)


class ReadPostsFn(beam.DoFn):
    def __init__(self, max_row_bytes: int = MAX_ROW_BYTES):
        self.max_row_bytes = max_row_bytes

    def process(self, path: str):
        try:
            for record in read_posts(path, max_row_bytes=self.max_row_bytes):
                if isinstance(record, ErrorRecord):
                    yield pvalue.TaggedOutput(ERRORS, record)
                elif record.get("PostTypeId") in (QUESTION, ANSWER):
                    yield record
        except Exception as exc:  # e.g. an unreadable file: counted, the job goes on
            yield pvalue.TaggedOutput(ERRORS, ErrorRecord.of(NAME, path, "read_failed", exc))


def thread_key(post: dict) -> tuple[str, str]:
    return post["site"], post["Id"] if post["PostTypeId"] == QUESTION else post.get("ParentId", "")


class OrphanAnswers(Filter):
    name = "orphan_answers"

    def filter(self, doc):
        return "orphan_answers" not in doc.meta


class MetaSite(Filter):
    name = "meta_site"

    def filter(self, doc):
        return not is_meta(doc.meta["site"])


class Unanswered(Filter):
    name = "no_answers"

    def __init__(self, keep_unanswered: bool):
        self.keep_unanswered = keep_unanswered

    def filter(self, doc):
        if doc.meta["answer_scores"]:
            return True
        if not doc.meta["title"]:
            return False, "no_answers_no_title"
        return self.keep_unanswered


def posts_in(doc: Document) -> int:
    """How many posts of the dump a thread was built from (a question and its answers)."""
    if "orphan_answers" in doc.meta:
        return doc.meta["orphan_answers"]
    return 1 + len(doc.meta["answer_scores"])


class _SiteNotSelected(beam.DoFn):
    """Threads of sites outside the top N are rejected; orphan answers and meta sites pass on to
    the steps that drop them under their own reasons."""

    def process(self, doc, selected):
        if doc.meta["site"] in selected or "orphan_answers" in doc.meta or is_meta(doc.meta["site"]):
            yield doc
        else:
            yield pvalue.TaggedOutput(REJECTED, Rejected(doc, "site_not_in_top"))


class KeepLargestSites(beam.PTransform):
    """threads -> {"kept", "rejected", "extra"}: ranks the sites by the posts read (every thread,
    orphan answers and meta sites included) and keeps the `top` largest; "extra" is the ranking."""

    def __init__(self, top: int):
        super().__init__()
        self.top = top

    def expand(self, docs):
        ranking = (docs
                   | "PostsPerThread" >> beam.Map(lambda d: (d.meta["site"], posts_in(d)))
                   | "PostsPerSite" >> beam.CombinePerKey(sum)
                   | "Collect" >> beam.combiners.ToList()
                   | "RankSites" >> beam.Map(rank_sites, self.top))
        selected = ranking | "Selected" >> beam.Map(lambda r: {x["site"] for x in r if x["selected"]})
        picked = docs | "Pick" >> beam.ParDo(
            _SiteNotSelected(), beam.pvalue.AsSingleton(selected)).with_outputs(REJECTED, main="kept")
        return {"kept": picked["kept"], "rejected": picked[REJECTED],
                "extra": ranking | "RankingStats" >> beam.Map(lambda r: {"site_ranking": r})}


def rank_sites(counts: list[tuple[str, int]], top: int) -> list[dict]:
    """Non-meta sites by posts, largest first (ties by name); `selected` marks the top N."""
    ranked = sorted(((s, n) for s, n in counts if not is_meta(s)), key=lambda sn: (-sn[1], sn[0]))
    return [{"rank": i + 1, "site": s, "posts": n, "selected": i < top} for i, (s, n) in enumerate(ranked)]


class StackExchangeSource(Source):
    name = NAME
    Config = StackExchangeConfig
    description = "Stack Exchange dumps: question threads with answers sorted by score"

    def expand_read(self, files):
        read = (files | "ReshuffleFiles" >> beam.Reshuffle()
                | "ReadPosts" >> beam.ParDo(ReadPostsFn(int(self.config.max_row_mb * 2**20))).with_outputs(ERRORS, main="posts"))
        threads = (
            read["posts"]
            | "KeyByQuestion" >> beam.Map(lambda p: (thread_key(p), p))
            | "JoinAnswers" >> beam.GroupByKey()
            | "BuildThread" >> beam.MapTuple(lambda key, group: build_thread(key[0], key[1], list(group)))
        )
        return threads, read[ERRORS]

    def steps(self) -> list[Step]:
        # The ranking counts every post read, so it comes first; it lets orphan answers and meta
        # sites through to be dropped under their own reasons.
        return [("KeepLargestSites", KeepLargestSites(self.config.top_sites)),
                ("DropOrphanAnswers", OrphanAnswers()),
                ("DropMetaSites", MetaSite()),
                ("Unanswered", Unanswered(self.config.keep_unanswered))]

SOURCE = StackExchangeSource
