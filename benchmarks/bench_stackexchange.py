"""StackExchange: posts/s per core, the Beam job (DirectRunner, in-memory) beside a plain loop
doing the same steps (read rows, group by question, build threads)."""

from __future__ import annotations

import os
import random
import tempfile
import time

from benchmarks.common import Row
from pipeline import files
from samples.stackexchange import _functions, posts_xml
from sources.stackexchange.source import StackExchangeConfig, StackExchangeSource, build_thread, read_posts, thread_key
from tests.fixtures.helpers import run_source


def _make(directory: str, sites: int, questions: int) -> int:
    rng = random.Random(0)
    funcs = _functions()
    posts = 0
    for i in range(sites):
        site = f"site{i:02d}.stackexchange.com"
        os.makedirs(os.path.join(directory, site))
        xml = posts_xml(site, questions, funcs, rng)
        posts += xml.count("<row ")
        with open(os.path.join(directory, site, "Posts.xml"), "w") as f:
            f.write(xml)
    return posts


def plain_loop(paths: list[str]) -> int:
    threads: dict = {}
    for path in paths:
        for post in read_posts(path):
            if isinstance(post, dict) and post.get("PostTypeId") in ("1", "2"):
                threads.setdefault(thread_key(post), []).append(post)
    return sum(1 for (site, qid), group in threads.items() if build_thread(site, qid, group).text)


def run(quick: bool = True) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw")
        posts = _make(raw, sites=4, questions=1000 if quick else 5000)
        paths = files.expand_inputs(raw)
        t0 = time.perf_counter()
        plain_loop(paths)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_source(StackExchangeSource(StackExchangeConfig()), paths, os.path.join(tmp, "out"))
        ours = time.perf_counter() - t0
    return [Row("stackexchange job", "posts/s per core", posts / ours, "plain loop", posts / floor,
                notes=f"{posts} posts; Beam in-memory runner, 1 core, incl. writing shards")]
