"""`python -m samples.build --output data/raw`: writes `data/raw/<source>/` for every source
whose sample module exists (`samples/<source>.py` with `build(out_dir, assets_dir, seed)`), and
`data/raw/<source>-negatives/` where the module also has `build_negatives` (CommonCrawl: another
segment, the negatives of `make classifier`).

Deterministic: the same assets and seed give the same files.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys

from pipeline.assets import asset_path
from sources.registry import ALL_SOURCES


def builders() -> dict:
    found = {}
    for name in ALL_SOURCES:
        try:
            found[name] = importlib.import_module(f"samples.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"samples.{name}":
                raise
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.build", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="data/raw", help="raw data root (default: data/raw)")
    parser.add_argument("--sources", default=",".join(ALL_SOURCES), help="comma-separated sources")
    parser.add_argument("--seed", type=int, default=1234, help="seed for everything sampled (default: 1234)")
    args = parser.parse_args(argv)
    assets = os.path.dirname(asset_path("lid.176.ftz"))
    wanted = [s for s in args.sources.split(",") if s]
    for name, module in builders().items():
        if name not in wanted:
            continue
        _build(module.build, os.path.join(args.output, name), assets, args.seed)
        if hasattr(module, "build_negatives"):  # another segment, for `make classifier`'s negatives
            _build(module.build_negatives, os.path.join(args.output, f"{name}-negatives"), assets, args.seed)
    return 0


def _build(build, out_dir: str, assets: str, seed: int) -> None:
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    build(out_dir, assets, seed)
    n_files = sum(len(f) for _, _, f in os.walk(out_dir))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out_dir) for f in fs)
    print(f"[sample] {os.path.basename(out_dir)}: {n_files} files, {size / 1e6:.2f} MB in {out_dir}")


if __name__ == "__main__":
    sys.exit(main())
