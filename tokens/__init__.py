"""The token-shard job (`make tokens`): `run` (the command), `stages` (Beam stages), `streams`
(per-source token buckets), `mixture` (blending the sources at their weights)."""
