"""Object-store checks made before a job starts: every bucket a job reads or writes answers, with
the credentials given, or the job does not start.

Beam's filesystems are forgiving where a user needs a message: listing a bucket that does not
exist gives "no match", and an endpoint that does not answer is retried for minutes. So each
bucket named by the job's paths is asked once, directly and with short timeouts, and every
problem becomes one `StoreError` naming the path and what to do.
"""

from __future__ import annotations

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, S3Options

CONNECT_SECONDS = 5


class StoreError(OSError):
    """A path's store cannot be used: no filesystem for its scheme, no bucket, no access, no answer."""


def bucket_of(url: str) -> tuple[str, str]:
    """("s3", "bucket") of "s3://bucket/key"."""
    scheme, rest = url.split("://", 1)
    return scheme.lower(), rest.split("/", 1)[0]


def check_paths(paths: list[str], options: PipelineOptions) -> None:
    """Raises `StoreError` for the first object-store path whose bucket cannot be used."""
    seen = set()
    for path in paths:
        if not path or "://" not in path:
            continue
        key = bucket_of(path)
        if key in seen:
            continue
        seen.add(key)
        try:
            FileSystems.get_filesystem(path)
        except ValueError:
            raise StoreError(f"{path}: no filesystem for {key[0]}:// in this environment "
                             "(gs:// needs apache-beam[gcp], s3:// apache-beam[aws]; `make setup` installs both)") from None
        if key[0] == "s3":
            _check_s3(path, key[1], options.view_as(S3Options))
        elif key[0] == "gs":
            _check_gcs(path, key[1])


def _s3_client(s3: S3Options):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", region_name=s3.s3_region_name, endpoint_url=s3.s3_endpoint_url, use_ssl=not s3.s3_disable_ssl,
        verify=s3.s3_verify, aws_access_key_id=s3.s3_access_key_id, aws_secret_access_key=s3.s3_secret_access_key,
        aws_session_token=s3.s3_session_token,
        config=Config(connect_timeout=CONNECT_SECONDS, read_timeout=30, retries={"max_attempts": 2}))


def _check_s3(path: str, bucket: str, s3: S3Options) -> None:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    where = f"S3 endpoint {s3.s3_endpoint_url}" if s3.s3_endpoint_url else "S3"
    try:
        _s3_client(s3).head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            raise StoreError(f"{path}: bucket {bucket!r} does not exist at {where}") from None
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StoreError(f"{path}: access to bucket {bucket!r} refused at {where} ({code}); check "
                             "--s3_access_key_id/--s3_secret_access_key or the AWS_* environment") from None
        raise StoreError(f"{path}: bucket {bucket!r} at {where}: {code or exc}") from None
    except EndpointConnectionError:
        raise StoreError(f"{path}: cannot reach {where} (check --s3_endpoint_url)") from None
    except NoCredentialsError:
        raise StoreError(f"{path}: no S3 credentials (give --s3_access_key_id and --s3_secret_access_key, "
                         "or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)") from None
    except (BotoCoreError, ValueError) as exc:  # a malformed endpoint URL, a bad region
        raise StoreError(f"{path}: {where}: {exc}") from None


def _check_gcs(path: str, bucket: str) -> None:
    from apache_beam.io.gcp import gcsio

    try:
        found = gcsio.GcsIO().get_bucket(bucket)
    except Exception as exc:  # google.api_core's NotFound/Forbidden, auth errors
        text = " ".join(str(exc).split())[:300]
        raise StoreError(f"{path}: bucket {bucket!r} cannot be used: {text}") from None
    if found is None:
        raise StoreError(f"{path}: bucket {bucket!r} does not exist")
