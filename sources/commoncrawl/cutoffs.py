"""The perplexity cutoffs `make lm` writes (`<lang>.cutoffs.json`, one per language): as CCNet's
`cutoff.csv` was made, the 30th and 60th perplexity percentiles of a reference sample of the
language's CommonCrawl pages (the raw pages under DATA/raw/commoncrawl that fastText calls that
language), each scored with that language's LM.

The reference sample is seeded and bounded (a `SeededSample` by page id per language): it holds
one perplexity per page, at most `pages` of them a language, and a page past every sample's
cut-off is skipped before language ID and scoring, so a large crawl costs reading time, not memory.
"""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from sources.commoncrawl.perplexity import PERCENTILE_HEAD, PERCENTILE_TAIL, PerplexityModel, model_paths
from sources.commoncrawl.sampling import SEED, SeededSample, raw_pages

# 5,000 pages: what `make lm` always took. The 30th percentile of n pages sits within
# sqrt(0.3 * 0.7 / n) = 0.65 percentile points (one standard error) of the crawl's at n = 5,000.
REFERENCE_PAGES = 5000
MIN_PAGES = 10  # fewer pages of a language than this: its percentiles would be noise


def reference_perplexities(lm_dir: str, raw_dir: str, pages: int = REFERENCE_PAGES, seed: int = SEED,
                           lid_model: str = "", languages: tuple[str, ...] = ("en",)) -> dict[str, list[float]]:
    """Per language, the perplexities (finite ones) of a seeded sample of at most `pages` raw pages
    fastText calls that language, each scored with the language's LM in `lm_dir`."""
    from pipeline.langid import LanguageId

    lid = LanguageId(tuple(languages), model_path=lid_model)
    models = {lang: PerplexityModel(lm_dir, lang) for lang in languages}
    samples = {lang: SeededSample(seed, max_items=pages) for lang in languages}
    for page_id, text in raw_pages(raw_dir):
        if not any(sample.wants(page_id) for sample in samples.values()):  # no language ID, no scoring
            continue
        language, score = lid.predict(text)
        sample = samples.get(language)
        # what the corpus job's language step keeps; a page past its language's cut-off is not scored
        if sample is not None and score >= lid.threshold and sample.wants(page_id):
            sample.offer(page_id, models[language].perplexity(text))
    return {lang: [v for v in sample.items() if v != float("inf")] for lang, sample in samples.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_cutoffs(lm_dir: str, raw_dir: str, pages: int = REFERENCE_PAGES, seed: int = SEED,
                  lid_model: str = "", languages: tuple[str, ...] = ("en",)) -> list[str]:
    """Writes `lm_dir`/<lang>.cutoffs.json (a path or URL) for each language from the raw pages at
    `raw_dir`; returns what was done, a line a language. A language with too few pages gets no
    cutoffs file (an older one is removed): English then falls back to CCNet's, another language
    is an error of the CommonCrawl job that names the file (`perplexity.load_cutoffs`)."""
    from pipeline.files import write_atomic_bytes

    said = []
    for lang, values in reference_perplexities(lm_dir, raw_dir, pages, seed, lid_model, languages).items():
        path = model_paths(lm_dir, lang)["cutoffs"]
        if len(values) < MIN_PAGES:
            if FileSystems.exists(path):
                FileSystems.delete([path])
            fallback = ("the job uses CCNet's cutoffs 340/520" if lang == "en" else
                        f"no {lang}.cutoffs.json: a CommonCrawl job keeping {lang} needs one (CCNet's cutoff.csv, "
                        f"column {lang}) or --head-cutoff/--tail-cutoff")
            said.append(f"{lang}: {len(values)} pages fastText calls {lang} under {raw_dir}, fewer than "
                        f"{MIN_PAGES}: {fallback}")
            continue
        cutoffs = {"head": round(percentile(values, PERCENTILE_HEAD), 1),
                   "tail": round(percentile(values, PERCENTILE_TAIL), 1),
                   "percentiles": [PERCENTILE_HEAD, PERCENTILE_TAIL], "reference": raw_dir, "pages": len(values),
                   "language": lang}
        write_atomic_bytes(path, json.dumps(cutoffs, indent=2).encode("utf-8"))
        said.append(f"{lang}: cutoffs head<{cutoffs['head']} tail>={cutoffs['tail']} from {len(values)} pages "
                    f"fastText calls {lang} under {raw_dir}")
    return said
