"""The perplexity cutoffs `make lm` writes (`en.cutoffs.json`): as CCNet's `cutoff.csv` was made,
the 30th and 60th perplexity percentiles of a reference sample of English CommonCrawl pages (the
raw pages under DATA/raw/commoncrawl that fastText calls English).

The reference sample is seeded and bounded (`SeededSample` by page id): it holds one perplexity
per page, at most `pages` of them, and a page past the sample's cut-off is skipped before
language ID and scoring, so a large crawl costs reading time, not memory.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from sources.commoncrawl.perplexity import CUTOFFS, PERCENTILE_HEAD, PERCENTILE_TAIL, PerplexityModel
from sources.commoncrawl.sampling import SEED, SeededSample, raw_pages

# 5,000 pages: what `make lm` always took. The 30th percentile of n pages sits within
# sqrt(0.3 * 0.7 / n) = 0.65 percentile points (one standard error) of the crawl's at n = 5,000.
REFERENCE_PAGES = 5000
MIN_PAGES = 10  # fewer English pages than this: CCNet's published cutoffs are the better guess


def reference_perplexities(lm_dir: str, raw_dir: str, pages: int = REFERENCE_PAGES, seed: int = SEED,
                           lid_model: str = "") -> list[float]:
    """Perplexities (finite ones) of a seeded sample of at most `pages` English raw pages."""
    from pipeline.langid import LanguageId

    lid = LanguageId(("en",), model_path=lid_model)
    model = PerplexityModel(lm_dir)
    sample = SeededSample(seed, max_items=pages)
    for page_id, text in raw_pages(raw_dir):
        if not sample.wants(page_id):  # past the cut-off: no language ID, no scoring
            continue
        language, score = lid.predict(text)
        if language == "en" and score >= lid.threshold:  # what the corpus job's language step keeps
            sample.offer(page_id, model.perplexity(text))
    return [v for v in sample.items() if v != float("inf")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_cutoffs(lm_dir: str, raw_dir: str, pages: int = REFERENCE_PAGES, seed: int = SEED,
                  lid_model: str = "") -> str:
    """Writes `lm_dir`/en.cutoffs.json (a path or URL) from the raw pages at `raw_dir`; returns
    what was done, in words. With too few English pages, removes an older cutoffs file."""
    path = FileSystems.join(lm_dir, CUTOFFS)
    values = reference_perplexities(lm_dir, raw_dir, pages, seed, lid_model)
    if len(values) < MIN_PAGES:
        if FileSystems.exists(path):
            FileSystems.delete([path])
        return f"fewer than {MIN_PAGES} English pages under {raw_dir}: the job uses CCNet's cutoffs 340/520"
    cutoffs = {"head": round(percentile(values, PERCENTILE_HEAD), 1),
               "tail": round(percentile(values, PERCENTILE_TAIL), 1),
               "percentiles": [PERCENTILE_HEAD, PERCENTILE_TAIL], "reference": raw_dir, "pages": len(values)}
    from pipeline.files import write_atomic_bytes

    write_atomic_bytes(path, json.dumps(cutoffs, indent=2).encode("utf-8"))
    return f"cutoffs head<{cutoffs['head']} tail>={cutoffs['tail']} from {len(values)} English pages of {raw_dir}"
