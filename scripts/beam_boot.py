"""Beam's SDK container boot contract, as a process on this machine: what the worker pool of
`scripts/cluster.py` runs for each SDK worker it starts.

The pool (`python -m apache_beam.runners.worker.worker_pool_main --container_executable X`) calls
`X --id=worker_N --logging_endpoint=H:P --artifact_endpoint=H:P --provision_endpoint=H:P
--control_endpoint=H:P`, as a container runtime would call a container's boot binary. This boot
asks the provision service for the job's pipeline options (so a worker gets the `--s3_*` flags,
which the pool's own bare harness never does), gives the worker its own empty folder
`$LLAMA_WORKER_ROOT/<worker id>-<random>/` as working directory, HOME and TMPDIR (so nothing it writes,
and nothing it reads by a relative path, is the launcher's), and then becomes
`python -m apache_beam.runners.worker.sdk_worker_main` with the environment the harness expects.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT_ENV = "LLAMA_WORKER_ROOT"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.beam_boot", description=__doc__.splitlines()[0])
    parser.add_argument("--id", required=True, help="the worker id the runner gave")
    for name in ("logging", "artifact", "provision", "control"):
        parser.add_argument(f"--{name}_endpoint", required=True, help=f"host:port of the {name} service")
    return parser.parse_args(argv)


def pipeline_options_json(provision_endpoint: str, worker_id: str, timeout: float = 60.0) -> str:
    """The job's pipeline options, as the JSON the SDK harness reads from $PIPELINE_OPTIONS."""
    import grpc
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc
    from google.protobuf import json_format

    with grpc.insecure_channel(provision_endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        info = stub.GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(),
                                     metadata=[("worker_id", worker_id)], timeout=timeout).info
    return json_format.MessageToJson(info.pipeline_options)


def worker_home(worker_id: str) -> str:
    """A new empty folder `$LLAMA_WORKER_ROOT/<worker id>-<random>/` (each job's runner numbers
    its workers from `worker_0` again, so the id alone would hand a worker an earlier one's files)."""
    import tempfile

    root = os.environ.get(ROOT_ENV)
    if not root:
        raise SystemExit(f"beam_boot: ${ROOT_ENV} is not set (the folder the workers' own folders go in)")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in worker_id) or "worker"
    return tempfile.mkdtemp(prefix=f"{name}-", dir=root)


def harness_env(args: argparse.Namespace, options_json: str, home: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PIPELINE_OPTIONS": options_json,
        "WORKER_ID": args.id,
        "CONTROL_API_SERVICE_DESCRIPTOR": f'url: "{args.control_endpoint}"',
        "LOGGING_API_SERVICE_DESCRIPTOR": f'url: "{args.logging_endpoint}"',
        "SEMI_PERSISTENT_DIRECTORY": os.path.join(home, "semi_persistent"),
        "HOME": home,
        "TMPDIR": home,
    })
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    home = worker_home(args.id)
    env = harness_env(args, pipeline_options_json(args.provision_endpoint, args.id), home)
    os.makedirs(env["SEMI_PERSISTENT_DIRECTORY"], exist_ok=True)
    os.chdir(home)
    # The pool reads nothing from the worker's stdout pipe: a DoFn that prints would fill it and
    # hang. Our stdout goes where our stderr goes (the pool's log).
    os.dup2(2, 1)
    os.execve(sys.executable, [sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"], env)
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
