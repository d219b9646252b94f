"""The corpus command against an object store that says no: a missing object or bucket, a store
that refuses the credentials, a model URL that is not there, an endpoint that does not answer.
Each is one message before the job starts, no traceback, and nothing written that looks finished."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scripts.cluster import ROOT, LocalCluster, Service, free_port


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(bucket="store-errors") as box:  # stopped also when a test failed
        yield box


@pytest.fixture(scope="module")
def refusing_store(tmp_path_factory):
    """An S3 store that checks credentials (moto with authentication from the first request on):
    the cluster's keys are unknown to it, so it refuses every request."""
    folder = tmp_path_factory.mktemp("refusing")
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    store = Service("refusing store", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    str(folder / "store.log"), str(folder), env, port)
    try:
        store.start()
        yield f"http://127.0.0.1:{port}"
    finally:
        store.stop()


def corpus(cluster: LocalCluster, *args: str, endpoint: str = "") -> subprocess.CompletedProcess:
    flags = cluster.store_args()
    if endpoint:
        flags = [f"--s3_endpoint_url={endpoint}" if f.startswith("--s3_endpoint_url=") else f for f in flags]
    return subprocess.run([sys.executable, "-m", "sources.run", *args, *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def written(cluster: LocalCluster, prefix: str) -> list[str]:
    listing = cluster.client().list_objects_v2(Bucket=cluster.bucket, Prefix=prefix)
    return [obj["Key"] for obj in listing.get("Contents", [])]


def one_clear_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def test_missing_input_object_or_bucket_is_one_message(cluster):
    out = f"s3://{cluster.bucket}/out-missing"
    one_clear_error(corpus(cluster, "--source", "wikipedia", "--input", f"s3://{cluster.bucket}/raw/nothing*",
                           "--output", out), "matches no file")
    one_clear_error(corpus(cluster, "--source", "wikipedia", "--input", "s3://no-such-bucket/raw/x.xml.bz2",
                           "--output", out), "bucket 'no-such-bucket' does not exist")
    one_clear_error(corpus(cluster, "--source", "wikipedia", "--input", f"s3://{cluster.bucket}/raw",
                           "--output", "s3://no-such-bucket/data"), "no-such-bucket")
    assert written(cluster, "out-missing") == []


def test_a_refused_bucket_and_a_wrong_endpoint_are_one_message(cluster, refusing_store):
    cluster.client().put_object(Bucket=cluster.bucket, Key="raw/wikipedia/x.xml", Body=b"<mediawiki/>")
    args = ["--source", "wikipedia", "--input", f"s3://{cluster.bucket}/raw/wikipedia",
            "--output", f"s3://{cluster.bucket}/out-refused"]
    one_clear_error(corpus(cluster, *args, endpoint=refusing_store), "refused", "--s3_access_key_id")
    one_clear_error(corpus(cluster, *args, endpoint=f"http://127.0.0.1:{free_port()}"),
                    "cannot reach", "--s3_endpoint_url")
    assert written(cluster, "out-refused") == []


def test_a_model_url_that_is_missing_is_named_before_the_job(cluster):
    cluster.client().put_object(Bucket=cluster.bucket, Key="raw/commoncrawl/x.warc.wet.gz", Body=b"x")
    models = f"s3://{cluster.bucket}/models"
    proc = corpus(cluster, "--source", "commoncrawl", "--input", f"s3://{cluster.bucket}/raw/commoncrawl",
                  "--output", f"s3://{cluster.bucket}/out-model", "--lm-dir", models,
                  "--classifier-model", f"{models}/wiki_classifier.bin")
    one_clear_error(proc, f"{models}/en.sp.model", "make lm")
    proc = corpus(cluster, "--source", "c4", "--input", f"s3://{cluster.bucket}/raw/commoncrawl",
                  "--output", f"s3://{cluster.bucket}/out-model", "--lid-model", f"{models}/lid.176.ftz")
    one_clear_error(proc, f"{models}/lid.176.ftz", "missing")
    assert written(cluster, "out-model") == []
