"""Books (Gutenberg, PG-19, Books3): `source` (the job), `read` (the collections' formats),
`gutenberg` (headers and licences), `minhash` and `lsh` (near-duplicate books)."""
