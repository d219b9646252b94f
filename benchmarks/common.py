"""What every benchmark returns, and small timing helpers.

A benchmark module `benchmarks/bench_<stage>.py` defines `run(quick: bool) -> list[Row]`;
`python -m benchmarks.run` calls them all and writes benchmarks/RESULTS.md. Figures are
measured side by side in the same run and reported as ratios (the machine is shared and noisy).
"""

from __future__ import annotations

import dataclasses
import resource
import time
from typing import Callable


# The section of RESULTS.md that `python -m benchmarks.bench_gpu --results` writes, which `make
# bench` on a machine without a GPU keeps as it is.
GPU_SECTION = ("<!-- bench_gpu -->", "<!-- /bench_gpu -->")


@dataclasses.dataclass
class Row:
    stage: str  # e.g. "c4 rules"
    metric: str  # e.g. "MB/s per core"
    ours: float
    peer_name: str  # the floor or peer measured beside it, e.g. "plain loop", "datatrove C4QualityFilter"
    peer: float
    higher_is_better: bool = True
    notes: str = ""

    @property
    def ratio(self) -> float:
        if not self.peer or not self.ours:
            return float("nan")
        return self.ours / self.peer if self.higher_is_better else self.peer / self.ours


def best_of(fn: Callable[[], object], repeat: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest time of `repeat` calls (the least noisy estimate on a shared machine). With
    `clock=time.process_time` it is CPU seconds: a rate per CPU-second is a rate per core, and
    CPU time is not inflated when other jobs share the machine (wall time is)."""
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def peak_rss_mb(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024
