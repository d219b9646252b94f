"""`python -m scripts.worker_pool --port P --executable X`: Beam's external worker pool, bound to
127.0.0.1 only.

Beam's own `worker_pool_main` listens on every interface (`[::]:P`), and whoever reaches that port
can have this machine start workers that run any pipeline's code; this one serves the same
`BeamFnExternalWorkerPool` service on the loopback interface. Each `StartWorker` runs X with the
container boot contract's flags (`scripts/beam_boot.py` is such an X). Stops on SIGTERM or SIGINT,
stopping the workers it started.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent import futures

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer, kill_process_gracefully

log = logging.getLogger("scripts.worker_pool")


def serve(port: int, executable: str, host: str = "127.0.0.1") -> None:
    """Serves until SIGTERM/SIGINT, then stops every worker process it started."""
    pool = BeamFnExternalWorkerPoolServicer(use_process=True, container_executable=executable)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[("grpc.http2.max_pings_without_data", 0), ("grpc.http2.max_ping_strikes", 0)])
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(pool, server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise SystemExit(f"worker pool: cannot listen on {host}:{port}")
    server.start()
    log.info("worker pool listening on %s:%d, boot %s", host, port, executable)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(0)
    for worker in list(pool._worker_processes.values()):
        kill_process_gracefully(worker, timeout=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.worker_pool", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--executable", required=True, help="the boot executable each worker runs")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(args.port, args.executable, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
