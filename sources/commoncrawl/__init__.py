"""CommonCrawl through the CCNet pipeline: `source` (the job), `line_dedup`, `normalize`,
`perplexity` (KenLM buckets), `lm` (`make lm`), `classifier` (`make classifier`)."""

# The languages the CommonCrawl job keeps by default (LLaMA section 2: CCNet's language ID "to
# remove non-English pages"), and so the ones `make lm` builds a model for by default.
LANGUAGES = ("en",)
