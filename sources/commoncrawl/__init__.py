"""CommonCrawl through the CCNet pipeline: `source` (the job), `line_dedup`, `normalize`,
`perplexity` (KenLM buckets), `lm` (`make lm`), `classifier` (`make classifier`)."""
