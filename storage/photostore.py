"""Where residents' photos are kept: a directory on this machine, or any S3-compatible store (MinIO, Tencent COS).

Both take the same keys, "2026/12/03/<32 hex>.jpg" (new_key), so photos can move from one to the other as they are.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import certifi
import urllib3

# Path segments of letters, digits, "_" and "-" ending in ".jpg": no "..", no leading "/", no empty segment.
_KEY = re.compile(r"[0-9A-Za-z_-]+(?:/[0-9A-Za-z_-]+)*\.jpg")
# S3's bucket naming rules (COS's "name-appid" fits them).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# An upload is answered while the resident waits: fail in seconds, not minio's default of five minutes.
_CONNECT_TIMEOUT = 5.0
_READ_TIMEOUT = 30.0


class PhotoStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there."""

    def get(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None when there are none."""

    def delete(self, key: str) -> None:
        """Remove `key`; a key that is not there is fine."""


def new_key(now: datetime) -> str:
    """A fresh key under `now`'s date, "YYYY/MM/DD/<32 hex>.jpg": unguessable, and a day's photos in one folder."""
    return f"{now:%Y/%m/%d}/{secrets.token_hex(16)}.jpg"


def check_key(key: str) -> str:
    """`key` if it has a photo key's shape (segments of [0-9A-Za-z_-] joined by "/", ending .jpg), else ValueError."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid photo key {key!r}: expected path segments of [0-9A-Za-z_-] ending in .jpg")
    return key


class LocalPhotoStore:
    """Files under one directory, one per key; for a single machine and for development."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def _path(self, key: str) -> Path:
        path = (self.directory / check_key(key)).resolve()
        # The pattern already rules out "..": this also catches a symlink inside the directory leading out of it.
        if not path.is_relative_to(self.directory):
            raise ValueError(f"invalid photo key {key!r}: outside {self.directory}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write atomically: a reader sees the old file or the whole new one, never a half-written photo."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp's mode 0600 is kept: residents' photos are read through the app, not served from the directory.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class S3Location:
    """A bucket of an S3-compatible store and the keys to it."""

    endpoint: str  # "host" or "host:port"
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    secure: bool = True
    # Given, it saves minio a GetBucketLocation round trip before the first request.
    region: str | None = None


class S3PhotoStore:
    """Objects in one bucket of an S3-compatible store. The bucket must exist: production never creates one."""

    def __init__(self, location: S3Location) -> None:
        # Imported here: minio adds about 20 MB to a process, and only a deployment with an S3 store needs it.
        from minio import Minio

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=_CONNECT_TIMEOUT, read=_READ_TIMEOUT),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self.location = location
        self.client = Minio(
            location.endpoint,
            access_key=location.access_key,
            secret_key=location.secret_key,
            secure=location.secure,
            region=location.region,
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing: for tests and development only."""
        if not self.client.bucket_exists(self.location.bucket):
            self.client.make_bucket(self.location.bucket, location=self.location.region)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            self.location.bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type
        )

    def get(self, key: str) -> bytes | None:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.location.bucket, check_key(key))
        except S3Error as error:
            if error.code == "NoSuchKey":
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        self.client.remove_object(self.location.bucket, check_key(key))


def open_store(url: str, default_dir: Path) -> PhotoStore:
    """The store WGT_PHOTO_STORE names: "" (default_dir), "file:///abs/path", or
    "s3://ACCESS:SECRET@host:port/bucket?secure=1&region=ap-guangzhou" (ACCESS and SECRET percent-encoded).

    Raises ValueError saying what is wrong; the message never repeats the secret."""
    if not url:
        return LocalPhotoStore(default_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc or parts.query or parts.fragment or not path.startswith("/"):
            raise ValueError(f'photo store "{url}": a directory is "file:///absolute/path"')
        return LocalPhotoStore(Path(path))
    if parts.scheme == "s3":
        return _s3_store(parts)
    raise ValueError(
        f'photo store "{parts.scheme}:...": use "" (a directory under var), "file:///absolute/path" '
        'or "s3://ACCESS:SECRET@host:port/bucket?secure=1&region=REGION"'
    )


def _s3_store(parts: SplitResult) -> S3PhotoStore:
    userinfo, _, endpoint = parts.netloc.rpartition("@")
    # Name the host, never the URL: it carries the secret key, and this message goes to logs.
    where = f'photo store "s3://{endpoint}"'
    access, _, secret = userinfo.partition(":")
    if not access or not secret:
        raise ValueError(f'{where}: the keys go before the host, "s3://ACCESS:SECRET@host:port/bucket"')
    try:
        _ = parts.port  # urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError(f"{where}: the port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{where}: no host")
    bucket = parts.path.removeprefix("/")
    if not _BUCKET.fullmatch(bucket) or parts.fragment:
        raise ValueError(f'{where}: expected one bucket name after the host, "s3://ACCESS:SECRET@host:port/bucket"')
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"secure", "region"})
    if unknown:
        raise ValueError(f"{where}: unknown option {', '.join(unknown)}; the options are secure=0|1 and region")
    secure = options.get("secure", "1")
    if secure not in ("0", "1"):
        raise ValueError(f"{where}: secure is 0 or 1, not {secure!r}")
    return S3PhotoStore(
        S3Location(
            endpoint=endpoint,
            bucket=bucket,
            access_key=unquote(access),
            secret_key=unquote(secret),
            secure=secure == "1",
            region=options.get("region") or None,
        )
    )
