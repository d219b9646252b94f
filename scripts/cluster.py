"""A cluster in a box: an S3-protocol object store and Beam SDK workers in separate processes, all
on 127.0.0.1, to rehearse a cluster run (`make demo-cluster`, `tests/scripts/test_cluster.py`).

    with LocalCluster() as cluster:
        cluster.upload("data/raw", cluster.data_url + "/raw")
        subprocess.run([..., "--output", cluster.data_url, *cluster.beam_args()])

- The store is moto's server (`python -m moto.server`), holding one bucket; the jobs reach it
  with Beam's `--s3_endpoint_url` and credential flags (`store_args()`).
- The workers come from a Beam external worker pool (`scripts/worker_pool.py`), reached with
  `--runner PortableRunner --job_endpoint embed --environment_type EXTERNAL`. Each worker is
  booted by `scripts/beam_boot.py`: its own empty folder as working directory, HOME and TMPDIR,
  and the job's pipeline options from the runner's provision service, as on a real cluster. The
  jobs are given `--setup_file ./setup.py`, as on Dataflow: each worker installs the sdist the
  launcher staged into its own folder and runs that code; they see no data but the store.
  Beam's embedded job service runs a job on one SDK worker process (its FnApiRunner ignores
  `--direct_num_workers` for a portable pipeline, and `--sdk_worker_parallelism` is read only by
  job servers such as Flink's); that worker runs bundles on several threads.

Every server runs in its own process group with its log in the cluster's temp folder. Leaving
the `with` block (normally, by an exception, Ctrl-C or SIGTERM) stops every process the cluster
started (SIGTERM to each group, SIGKILL after a grace period) and removes the temp folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS_KEY, SECRET_KEY, REGION = "cluster-in-a-box", "cluster-in-a-box-secret", "us-east-1"


class ClusterError(RuntimeError):
    """A server of the cluster did not start; the message holds the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): kill() said it exists
        return True


def group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (Linux: read from /proc; elsewhere: [pgid] while
    the group exists)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid and alive(int(entry)):
                    members.append(int(entry))
            except (ProcessLookupError, PermissionError):
                continue
    return members


class Service:
    """One server process in its own process group (session), logging to `log_path`."""

    def __init__(self, name: str, cmd: list[str], log_path: str, cwd: str, env: dict[str, str], port: int):
        self.name, self.cmd, self.log_path, self.cwd, self.env, self.port = name, cmd, log_path, cwd, env, port
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        os.makedirs(self.cwd, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not answers("127.0.0.1", self.port):
            if self.proc.poll() is not None:
                raise ClusterError(f"{self.name} exited with status {self.proc.returncode} before it answered "
                                   f"on 127.0.0.1:{self.port}; its log ends:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{self.name} did not answer on 127.0.0.1:{self.port} within {timeout:.0f}s; "
                                   f"its log ends:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def pids(self) -> list[int]:
        """The live processes of this service's group (the server and whatever it started)."""
        return group_members(self.proc.pid) if self.proc is not None else []

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after `grace` seconds."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads its own group
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (self.proc.poll() is None or group_members(pgid)):
            time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)
        self.proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class LocalCluster:
    """The store and the worker pool, for the duration of a `with` block (see the module doc)."""

    def __init__(self, bucket: str = "llama-cluster", start_timeout: float = 60.0):
        if not (3 <= len(bucket) <= 63 and bucket.replace("-", "").isalnum() and bucket.islower()):
            raise ValueError(f"not a valid bucket name: {bucket!r} (3-63 lower-case letters, digits, '-')")
        self.bucket, self.start_timeout = bucket, start_timeout
        self.tmp = ""
        self.services: list[Service] = []
        self.store_port = self.pool_port = 0
        self._old_sigterm = None

    # --- what jobs are given ---------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.store_port}"

    @property
    def data_url(self) -> str:
        return f"s3://{self.bucket}/data"

    def store_args(self) -> list[str]:
        """Beam's flags for reaching the store (what a command that is not a Beam job needs)."""
        return [f"--s3_endpoint_url={self.endpoint}", f"--s3_access_key_id={ACCESS_KEY}",
                f"--s3_secret_access_key={SECRET_KEY}", f"--s3_region_name={REGION}"]

    def beam_args(self) -> list[str]:
        """Flags that run a Beam job on the cluster's workers, reading and writing its store."""
        return ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
                f"--environment_config=127.0.0.1:{self.pool_port}", f"--setup_file={os.path.join(ROOT, 'setup.py')}",
                *self.store_args()]

    def worker_root(self) -> str:
        """The folder holding each worker's own folder (`<worker id>-<random>/`)."""
        return os.path.join(self.tmp, "workers")

    def pids(self) -> list[int]:
        """Every live process the cluster started: the servers and the workers."""
        return [pid for service in self.services for pid in service.pids()]

    # --- start and stop ----------------------------------------------------------------------
    def __enter__(self) -> "LocalCluster":
        self.tmp = tempfile.mkdtemp(prefix="llama-cluster-")
        if threading_is_main():
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            self._start_store()
            self._start_pool()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            for service in reversed(self.services):
                service.stop()
        finally:
            if self._old_sigterm is not None:
                signal.signal(signal.SIGTERM, self._old_sigterm)
                self._old_sigterm = None
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env["PYTHONPATH"] = ROOT  # the boot and the pool from this checkout; workers run what the job ships
        return env

    def _start_store(self) -> None:
        self.store_port = free_port()
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.store_port)]
        self._start(Service("object store (moto)", cmd, os.path.join(self.tmp, "store.log"),
                            os.path.join(self.tmp, "store"), self._env(), self.store_port))
        self.client().create_bucket(Bucket=self.bucket)

    def _start_pool(self) -> None:
        from scripts.beam_boot import ROOT_ENV

        self.pool_port = free_port()
        boot = os.path.join(self.tmp, "beam-boot.sh")
        with open(boot, "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\nexec '{sys.executable}' -m scripts.beam_boot \"$@\"\n")
        os.chmod(boot, os.stat(boot).st_mode | stat.S_IXUSR)
        os.makedirs(self.worker_root())
        env = self._env() | {ROOT_ENV: self.worker_root()}
        cmd = [sys.executable, "-m", "scripts.worker_pool", "--port", str(self.pool_port), "--executable", boot]
        self._start(Service("worker pool", cmd, os.path.join(self.tmp, "pool.log"),
                            os.path.join(self.tmp, "pool"), env, self.pool_port))

    def _start(self, service: Service) -> None:
        self.services.append(service)
        service.start(self.start_timeout)

    # --- moving files in and out -------------------------------------------------------------
    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def upload(self, local: str, url: str) -> int:
        """Copies a local file, or every file under a local folder, to `url` (s3://bucket/key or
        prefix); returns the number of files."""
        bucket, key = split_url(url)
        if os.path.isfile(local):
            self.client().upload_file(local, bucket, key)
            return 1
        client, n = self.client(), 0
        for folder, _, names in os.walk(local):
            for name in sorted(names):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, local).replace(os.sep, "/")
                client.upload_file(path, bucket, f"{key.rstrip('/')}/{rel}")
                n += 1
        return n

    def download(self, url: str, local: str) -> int:
        """Copies every object under the prefix `url` into the folder `local` (keeping the
        layout below the prefix); returns the number of files."""
        bucket, prefix = split_url(url)
        prefix = prefix.rstrip("/") + "/"
        client, n = self.client(), 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix):]
                path = os.path.normpath(os.path.join(local, *rel.split("/")))
                if os.path.isabs(rel) or not path.startswith(os.path.normpath(local) + os.sep):
                    raise ValueError(f"object {obj['Key']!r} would land outside {local!r}")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                client.download_file(bucket, obj["Key"], path)
                n += 1
        return n


def split_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
