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

What the job staged (`--setup_file ./setup.py` makes an sdist of the project, `workflow.tar.gz`) is
fetched from the artifact service and installed into the worker's folder, as Beam's container
boot does: the worker runs the code the launcher shipped, not a checkout it happens to see
(`pip install --no-deps`: the environment, like a worker image, already has the dependencies).
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


def provision_info(provision_endpoint: str, worker_id: str, timeout: float = 60.0):
    """The job's provision info: its pipeline options and the artifacts it staged."""
    import grpc
    from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc

    with grpc.insecure_channel(provision_endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        return stub.GetProvisionInfo(beam_provision_api_pb2.GetProvisionInfoRequest(),
                                     metadata=[("worker_id", worker_id)], timeout=timeout).info


def options_json(info) -> str:
    """The pipeline options, as the JSON the SDK harness reads from $PIPELINE_OPTIONS."""
    from google.protobuf import json_format

    return json_format.MessageToJson(info.pipeline_options)


def fetch_artifacts(artifact_endpoint: str, dependencies, folder: str) -> list[str]:
    """Writes each staged artifact into `folder` under its staged name; returns the paths."""
    import grpc
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_artifact_api_pb2, beam_artifact_api_pb2_grpc, beam_runner_api_pb2

    paths = []
    with grpc.insecure_channel(artifact_endpoint) as channel:
        stub = beam_artifact_api_pb2_grpc.ArtifactRetrievalServiceStub(channel)
        for number, dep in enumerate(dependencies):
            name = f"artifact-{number}"
            if dep.role_urn == common_urns.artifact_roles.STAGING_TO.urn:
                payload = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload)
                name = os.path.basename(payload.staged_name) or name
            path = os.path.join(folder, name)
            with open(path, "wb") as out:
                for chunk in stub.GetArtifact(beam_artifact_api_pb2.GetArtifactRequest(artifact=dep)):
                    out.write(chunk.data)
            paths.append(path)
    return paths


def install_workflow(staged: list[str], site: str) -> bool:
    """Installs the job's sdist (`workflow.tar.gz`, from --setup_file) into `site`; False when the
    job staged none. A failed install stops the worker with pip's output."""
    import subprocess

    tarballs = [path for path in staged if os.path.basename(path) == "workflow.tar.gz"]
    if not tarballs:
        return False
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "--target", site, tarballs[0]],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"beam_boot: installing the staged workflow.tar.gz failed:\n{proc.stdout}{proc.stderr}")
    return True


def worker_home(worker_id: str) -> str:
    """A new empty folder `$LLAMA_WORKER_ROOT/<worker id>-<random>/` (each job's runner numbers
    its workers from `worker_0` again, so the id alone would hand a worker an earlier one's files)."""
    import tempfile

    root = os.environ.get(ROOT_ENV)
    if not root:
        raise SystemExit(f"beam_boot: ${ROOT_ENV} is not set (the folder the workers' own folders go in)")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in worker_id) or "worker"
    return tempfile.mkdtemp(prefix=f"{name}-", dir=root)


def harness_env(args: argparse.Namespace, options: str, home: str, site: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if site:  # the shipped code only: not the checkout the boot itself was started from
        env["PYTHONPATH"] = site
    env.update({
        "PIPELINE_OPTIONS": options,
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
    info = provision_info(args.provision_endpoint, args.id)
    staged_dir = os.path.join(home, "semi_persistent", "staged")
    os.makedirs(staged_dir, exist_ok=True)
    staged = fetch_artifacts(args.artifact_endpoint, info.dependencies, staged_dir)
    site = os.path.join(home, "site")
    env = harness_env(args, options_json(info), home, site if install_workflow(staged, site) else None)
    os.chdir(home)
    # The pool reads nothing from the worker's stdout pipe: a DoFn that prints would fill it and
    # hang. Our stdout goes where our stderr goes (the pool's log).
    os.dup2(2, 1)
    os.execve(sys.executable, [sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"], env)
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
