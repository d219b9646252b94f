"""Beam options shared by every job of the project (the corpus jobs, the tokenizer's sample, the
token job): the default runner, flag checking, and logging.

Flags a job does not know pass straight to Beam, so DirectRunner vs Dataflow is only flags.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions

# The project's packages whose loggers report progress from the workers.
OUR_PACKAGES = ("pipeline", "sources", "tokenizer", "tokens")


# What the job runs on when no --runner is given; each is a default only for a flag not given,
# so `--direct_running_mode in_memory` or `--direct_num_workers 2` alone take effect.
def _default_beam_args() -> dict[str, str]:
    return {"--runner": "DirectRunner", "--direct_running_mode": "multi_processing",
            "--direct_num_workers": str(os.cpu_count() or 1)}


def beam_options(beam_args: list[str]) -> PipelineOptions:
    """Beam's options; with no --runner, the DirectRunner in multi-processing mode on all cores
    (every DoFn is really pickled, as on Dataflow)."""
    beam_args = list(beam_args)
    given = {a.split("=", 1)[0] for a in beam_args if a.startswith("--")}
    if "--runner" not in given:
        beam_args += [f"{flag}={value}" for flag, value in _default_beam_args().items() if flag not in given]
    if not any(a.startswith(("--default_sdk_harness_log_level", "--sdk_harness_log_level_overrides"))
               for a in beam_args):
        # Workers log our progress (files read, per stage) and warnings; Beam's own start-up chatter
        # and the store clients' INFO lines (they log to the root logger) stay quiet.
        beam_args += ["--default_sdk_harness_log_level=WARNING", "--sdk_harness_log_level_overrides="
                      + json.dumps({name: "INFO" for name in OUR_PACKAGES})]
    options = PipelineOptions(beam_args, save_main_session=False)
    FileSystems.set_options(options)  # this process reads and writes the store as the workers do
    return options


def use_filesystems(beam_args: list[str]) -> PipelineOptions:
    """For a command that is not a Beam job (`make lm`, `make tokenizer`): gives this process's
    `FileSystems` the object-store flags among `beam_args` (`--s3_endpoint_url`, `--s3_region_name`,
    credentials; GCS takes the machine's credentials), as the jobs' workers get them."""
    options = PipelineOptions(beam_args)
    FileSystems.set_options(options)
    return options


def unknown_flags(beam_args: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Flags neither this job nor Beam knows, each with a suggestion when one is close
    (`--num_shards` -> `--num-shards`). Beam would only drop them, so a typo would silently
    run the job without the setting."""
    known = set(PipelineOptions([]).get_all_options())
    dropped = set(PipelineOptions(beam_args).get_all_options(retain_unknown_options=True)) - known
    ours = [flag for flag in parser._option_string_actions if flag.startswith("--")]
    spelled = {flag.replace("_", "-"): flag for flag in ["--" + name for name in sorted(known)] + ours}
    problems = []
    for arg in beam_args:
        flag = arg.split("=", 1)[0]
        if flag.startswith("-") and flag.lstrip("-").replace("-", "_") in dropped:
            close = difflib.get_close_matches(flag.replace("_", "-"), list(spelled), n=1, cutoff=0.75)
            problems.append(f"{flag} (did you mean {spelled[close[0]]}?)" if close else flag)
    return problems


def remote_workers(options: PipelineOptions) -> str:
    """Who runs the job's code elsewhere, in words ("" when it runs on this machine's disk):
    Dataflow, or a portable runner whose SDK workers are containers or an external pool."""
    runner = (options.view_as(StandardOptions).runner or "").lower().removesuffix("runner")
    if runner == "dataflow":
        return "the DataflowRunner's workers"
    environment = (options.view_as(PortableOptions).environment_type or "").upper()
    if runner in ("portable", "flink", "spark", "prism") and environment in ("EXTERNAL", "DOCKER"):
        return f"{environment} SDK workers"
    return ""


def runner_problem(options: PipelineOptions, inputs: list[str], output: str, models: tuple[str, ...] = ()) -> str | None:
    """Workers on other machines cannot see this machine's disk: a local input, output or model
    there would be read as nothing or written where nobody looks, found out only when the job ends."""
    workers = remote_workers(options)
    if not workers:
        return None
    local = [path for path in [*inputs, output, *models] if path and "://" not in path]
    if local:
        return (f"{workers} cannot read or write local paths ({local[0]!r}): give --input, --output "
                "and every model file as object-store URLs (gs://, s3://)")
    return None


def setup_logging() -> None:
    """Our progress at INFO; Beam's own chatter (worker start-up, channels) only when it matters."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
