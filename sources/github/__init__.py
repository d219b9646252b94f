"""GitHub code: `source` (the job), `read` (exports), `checkout` (checkouts), `tables`
(Parquet/Avro), `rules` (licences and quality heuristics), `headers` (licence-comment removal)."""
