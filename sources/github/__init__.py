"""GitHub code: `source` (the job), `read` (exports and checkouts), `tables` (Parquet/Avro),
`rules` (licences and quality heuristics), `headers` (licence-comment removal)."""
