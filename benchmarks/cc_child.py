"""One measured run for bench_commoncrawl, in its own process (the parent counts its CPU-seconds):

    python -m benchmarks.cc_child beam|plain|floor LM_DIR CLASSIFIER OUT PATH...

beam: the job on the in-memory DirectRunner (one process), writing its shards and stats;
plain: the same steps as one Python loop (`CommonCrawl.plain_loop`), writing the clean docs;
floor: CCNet's unavoidable work as one plain loop (see bench_commoncrawl's doc).
Prints one JSON line: the clean documents (floor: English pages) and this process's peak RSS.
"""

from __future__ import annotations

import gzip
import json
import os
import sys


def peak_rss_mb() -> float:
    # Not tokens.stages.peak_rss_mb: that module imports Beam, whose start-up CPU-seconds the
    # floor's process (measured whole) must not pay.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_job(mode: str, lm_dir: str, model: str, out: str, paths: list[str]) -> int:
    from sources.commoncrawl.source import CommonCrawl, CommonCrawlConfig

    source = CommonCrawl(CommonCrawlConfig(lm_dir=lm_dir, classifier_model=model))
    if mode == "plain":
        kept, _, _ = source.plain_loop(paths)
        os.makedirs(out, exist_ok=True)
        with gzip.open(os.path.join(out, "clean.jsonl.gz"), "wt", encoding="utf-8") as f:
            f.writelines(d.to_json() + "\n" for d in kept)
        return len(kept)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline import files
    from sources.run import build

    options = PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=in_memory"])
    with beam.Pipeline(options=options) as p:
        partial = build(p, source, paths, out, False, 0)
    return json.loads(files.read_bytes(partial))["documents_out"]


def floor(lm_dir: str, paths: list[str]) -> int:
    """fastText lid on every page, SentencePiece + KenLM on the English pages' lines, a blake2b
    64-bit hash of every line; WET records read by warcio. Returns the English pages."""
    import hashlib

    import kenlm
    import sentencepiece
    from warcio.archiveiterator import ArchiveIterator

    from pipeline.langid import lid_model_path, load_fasttext

    lid = load_fasttext(lid_model_path())
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(lm_dir, "en.sp.model"))
    lm = kenlm.Model(os.path.join(lm_dir, "en.arpa.bin"))
    english, hashes = 0, set()
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "conversion":
                    continue
                text = record.content_stream().read().decode("utf-8")
                lines = text.split("\n")
                hashes.update(hashlib.blake2b(line.encode(), digest_size=8).digest() for line in lines)
                labels, probs = lid.predict(" ".join(text.split()), k=1)
                if labels[0] == "__label__en" and probs[0] >= 0.5:
                    english += 1
                    for pieces in sp.encode(lines, out_type=str, num_threads=1):
                        lm.score(" ".join(pieces))
    return english


if __name__ == "__main__":
    mode, lm_dir, model, out, *paths = sys.argv[1:]
    docs = floor(lm_dir, paths) if mode == "floor" else run_job(mode, lm_dir, model, out, paths)
    print(json.dumps({"docs_out": docs, "peak_rss_mb": peak_rss_mb()}))
