"""C4 (T5 paper section 2.2): `source` (the job), `rules` (line and page heuristics, bad words)."""
