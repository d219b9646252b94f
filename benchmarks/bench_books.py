"""Books: MinHash signatures and the whole near-duplicate job, in MB/s per core, with memory.

Signatures: ours (`Signer.sign`: chunked numpy shingle hashing + datasketch's permutations)
against datasketch's own loop, `MinHash(num_perm).update_batch(shingle bytes)` per book with its
default SHA-1 hash (the floor). Both use the same num_perm (1012 = 46 bands x 22 rows). Memory is
each one's peak allocation per book (tracemalloc, which numpy reports to).

Whole job: the Beam job on the in-memory DirectRunner (one core) against the plain single-process
datasketch way: read, strip, `update_batch`, one in-memory `MinHashLSH` index, verify each hit.

Inputs: real text, Botchan (PG #8868) and edited copies of it (edit_paragraphs: 0-60% of
paragraphs rewritten, so the LSH finds real candidate pairs), a few MB in quick mode.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

from datasketch import MinHash, MinHashLSH

from benchmarks.common import Row, best_of, peak_rss_mb
from pipeline.assets import asset_path
from samples.books import edit_paragraphs
from sources.books.gutenberg import decode_book, strip_gutenberg
from sources.books.minhash import LshParams, Signer

PARAMS = LshParams()


def _books(n: int) -> list[str]:
    with open(asset_path("botchan.txt"), encoding="utf-8-sig") as f:
        body = strip_gutenberg(f.read())[0]
    fractions = (0.0, 0.03, 0.2, 0.4, 0.6, 0.5, 0.3)  # 0-3% rewritten: duplicates; 20% and more: not
    return [body] + [edit_paragraphs(body, fractions[i % len(fractions)], seed=i) for i in range(1, n)]


def cpu_best_of(fn, repeat: int = 2) -> float:
    return best_of(fn, repeat, clock=time.process_time)


def datasketch_signature(text: str, k: int = PARAMS.shingle_words) -> MinHash:
    words = re.findall(r"\w+", text.lower())
    m = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed)
    m.update_batch([" ".join(words[i:i + k]).encode("utf-8") for i in range(len(words) - k + 1)])
    return m


def _peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def plain_loop(paths: list[str]) -> int:
    """The single-process datasketch way; returns how many books it would drop."""
    lsh = MinHashLSH(num_perm=PARAMS.num_perm, params=(PARAMS.bands, PARAMS.rows))
    sigs = {}
    for path in paths:
        with open(path, "rb") as f:
            text = strip_gutenberg(decode_book(f.read())[0])[0]
        sigs[path] = (datasketch_signature(text), len(text))
        lsh.insert(path, sigs[path][0])
    dropped = set()
    for path, (m, _) in sigs.items():
        for other in lsh.query(m):
            if other != path and m.jaccard(sigs[other][0]) >= PARAMS.threshold:
                dropped.add(max((path, other), key=lambda p: (-sigs[p][1], p)))
    return len(dropped)


_CHILD = """import json, sys
from sources.run import main
rc = main(sys.argv[1:])
status = open("/proc/self/status").read() if sys.platform.startswith("linux") else ""
hwm = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")]
print("BENCH_PEAK_KB", hwm[0] if hwm else -1, file=sys.stderr)
sys.exit(rc)
"""


def _job(raw: str, out: str) -> tuple[float, float, dict]:
    """The real job (`sources.run.main`) in a child process on the one-core in-memory DirectRunner:
    (CPU seconds incl. Python and Beam start-up, peak RSS MB from the child's own VmHWM, stats)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", _CHILD, "--source", "books", "--input", raw, "--output", out,
                           "--runner=DirectRunner", "--direct_running_mode=in_memory"], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_kb = int(done.stderr.rsplit("BENCH_PEAK_KB", 1)[1].split()[0])
    with open(os.path.join(out, "clean", "books", "stats.json")) as f:
        return cpu, peak_kb / 1024 if peak_kb > 0 else float("nan"), json.load(f)


def run(quick: bool) -> list[Row]:
    books = _books(16 if quick else 60)
    total_mb = sum(len(b.encode("utf-8")) for b in books) / 1e6
    signer = Signer(PARAMS)
    ours_s = cpu_best_of(lambda: [signer.sign(b) for b in books])
    floor_s = cpu_best_of(lambda: [datasketch_signature(b) for b in books])
    ours_mem, floor_mem = _peak_mb(lambda: signer.sign(books[0])), _peak_mb(lambda: datasketch_signature(books[0]))
    rows = [Row("books signatures", "MB/s per core", total_mb / ours_s, "datasketch MinHash.update_batch loop",
                total_mb / floor_s,
                notes=f"CPU time; {len(books)} books, {total_mb:.1f} MB, num_perm={PARAMS.num_perm}"),
            Row("books signatures", "peak MB per 0.26 MB book", ours_mem, "datasketch MinHash.update_batch loop",
                floor_mem, higher_is_better=False, notes="tracemalloc peak (update_batch holds shingles x num_perm)")]
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw")
        os.makedirs(raw)
        paths = []
        for i, text in enumerate(books):
            paths.append(os.path.join(raw, f"book{i:03d}.txt"))
            with open(paths[-1], "w", encoding="utf-8") as f:
                f.write(text)
        job_cpu, job_rss, stats = _job(raw, os.path.join(tmp, "out"))
        start = time.process_time()
        plain_dropped = plain_loop(paths)
        plain_cpu = time.process_time() - start
    rows.append(Row("books whole job", "MB/s per core", total_mb / job_cpu, "plain loop: update_batch + MinHashLSH",
                    total_mb / plain_cpu, notes=f"CPU time; Beam job (in-memory DirectRunner, incl. start-up) "
                    f"peak RSS {job_rss:.0f} MB, plain loop process {peak_rss_mb():.0f} MB; dropped "
                    f"{sum(stats['dropped'].values())} (Jaccard or containment) vs {plain_dropped} (Jaccard only)"))
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row, f"ratio={row.ratio:.2f}")
