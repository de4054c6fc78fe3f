"""Where photos are kept: a directory, and an S3-compatible store (moto's S3 over real HTTP on loopback)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from minio.error import S3Error
from moto.server import ThreadedMotoServer

from storage.photostore import LocalPhotoStore, PhotoStore, S3Location, S3PhotoStore, new_key, open_store

JPEG = b"\xff\xd8\xff\xe0 a photo \xff\xd9"
KEY = "2026/12/03/0123456789abcdef0123456789abcdef.jpg"
HOSTILE_KEYS = [
    "../x.jpg",
    "/etc/passwd",
    "/x.jpg",
    "a/../../b.jpg",
    "2026/12/03/../../../../x.jpg",
    "a//b.jpg",
    "x.jpg\n",
    "x.jpg/..",
    "..\\x.jpg",
    "C:\\x.jpg",
    "x.png",
    ".jpg",
    "",
]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def bucket_url(s3_endpoint: str) -> str:
    """A fresh bucket's URL, the secret with characters that must be percent-encoded."""
    return (
        f"s3://test-access:te%2Fst%2Bsecret%40@{s3_endpoint}/photos-{uuid.uuid4().hex[:12]}?secure=0&region=us-east-1"
    )


@pytest.fixture
def s3_store(bucket_url: str, tmp_path: Path) -> S3PhotoStore:
    store = open_store(bucket_url, tmp_path)
    assert isinstance(store, S3PhotoStore)
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    if request.param == "local":
        return LocalPhotoStore(tmp_path / "photos")
    return request.getfixturevalue("s3_store")


def test_a_stored_photo_comes_back_the_same(store: PhotoStore) -> None:
    store.put(KEY, JPEG, "image/jpeg")

    assert store.get(KEY) == JPEG


def test_putting_again_replaces(store: PhotoStore) -> None:
    store.put(KEY, b"old", "image/jpeg")
    store.put(KEY, JPEG, "image/jpeg")

    assert store.get(KEY) == JPEG


def test_a_missing_photo_is_none(store: PhotoStore) -> None:
    assert store.get(KEY) is None


def test_a_deleted_photo_is_gone_and_deleting_again_is_fine(store: PhotoStore) -> None:
    store.put(KEY, JPEG, "image/jpeg")
    other = "2026/12/03/ffffffffffffffffffffffffffffffff.jpg"
    store.put(other, b"other", "image/jpeg")

    store.delete(KEY)
    store.delete(KEY)

    assert store.get(KEY) is None
    assert store.get(other) == b"other"


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_hostile_key_is_refused(store: PhotoStore, key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid photo key"):
        store.put(key, JPEG, "image/jpeg")
    with pytest.raises(ValueError, match="invalid photo key"):
        store.get(key)
    with pytest.raises(ValueError, match="invalid photo key"):
        store.delete(key)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_local_photos_are_files_under_the_directory_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path / "photos")

    store.put(KEY, JPEG, "image/jpeg")

    assert (tmp_path / "photos" / KEY).read_bytes() == JPEG
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()] == [Path("photos") / KEY]


def test_a_local_key_through_a_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "2026").symlink_to(outside)
    store = LocalPhotoStore(tmp_path / "photos")

    with pytest.raises(ValueError, match="outside"):
        store.put(KEY, JPEG, "image/jpeg")
    assert not list(outside.iterdir())


def test_s3_keeps_the_content_type(s3_store: S3PhotoStore) -> None:
    s3_store.put(KEY, JPEG, "image/jpeg")

    stat = s3_store.client.stat_object(s3_store.location.bucket, KEY)
    assert stat.content_type == "image/jpeg"
    assert stat.size == len(JPEG)


def test_opening_an_s3_store_creates_no_bucket(bucket_url: str, tmp_path: Path) -> None:
    store = open_store(bucket_url, tmp_path)
    assert isinstance(store, S3PhotoStore)

    assert not store.client.bucket_exists(store.location.bucket)
    with pytest.raises(S3Error, match="NoSuchBucket"):
        store.put(KEY, JPEG, "image/jpeg")


def test_new_keys_are_by_day_unique_and_storable(tmp_path: Path) -> None:
    now = datetime(2026, 12, 3, 23, 59)

    keys = {new_key(now) for _ in range(100)}

    assert len(keys) == 100
    for key in keys:
        assert re.fullmatch(r"2026/12/03/[0-9a-f]{32}\.jpg", key)
    store = LocalPhotoStore(tmp_path)
    store.put(keys.pop(), JPEG, "image/jpeg")


def test_an_empty_url_is_the_default_directory(tmp_path: Path) -> None:
    store = open_store("", tmp_path / "photos")

    assert isinstance(store, LocalPhotoStore)
    assert store.directory == (tmp_path / "photos").resolve()


def test_a_file_url_is_that_directory(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/%E7%85%A7%E7%89%87", tmp_path / "default")

    assert isinstance(store, LocalPhotoStore)
    assert store.directory == (tmp_path / "照片").resolve()


def test_an_s3_url_names_the_endpoint_bucket_keys_and_options(tmp_path: Path) -> None:
    store = open_store(
        "s3://AKID%2Fkey:se%2Fcr%2Bet%3A%40@cos.ap-guangzhou.myqcloud.com/photos-1250000000?region=ap-guangzhou",
        tmp_path,
    )

    assert isinstance(store, S3PhotoStore)
    assert store.location == S3Location(
        endpoint="cos.ap-guangzhou.myqcloud.com",
        bucket="photos-1250000000",
        access_key="AKID/key",
        secret_key="se/cr+et:@",
        secure=True,
        region="ap-guangzhou",
    )
    assert "se/cr+et" not in repr(store.location)


def test_an_s3_url_with_port_and_plain_http(tmp_path: Path) -> None:
    store = open_store("s3://minio:minio123@127.0.0.1:9000/photos?secure=0", tmp_path)

    assert isinstance(store, S3PhotoStore)
    assert (store.location.endpoint, store.location.secure, store.location.region) == ("127.0.0.1:9000", False, None)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://host/photos", "use"),
        ("/var/photos", "use"),
        ("photos", "use"),
        ("file://var/photos", "file:///absolute/path"),
        ("file:relative/photos", "file:///absolute/path"),
        ("s3://host:9000/photos", "keys go before the host"),
        ("s3://onlyaccess@host:9000/photos", "keys go before the host"),
        ("s3://a:b@host:99999/photos", "port"),
        ("s3://a:b@host:port/photos", "port"),
        ("s3://a:b@:9000/photos", "no host"),
        ("s3://a:b@host:9000", "bucket"),
        ("s3://a:b@host:9000/", "bucket"),
        ("s3://a:b@host:9000/photos/2026", "bucket"),
        ("s3://a:b@host:9000/Photos_Bucket", "bucket"),
        ("s3://a:b@host:9000/photos?secure=yes", "secure is 0 or 1"),
        ("s3://a:b@host:9000/photos?secrue=0", "unknown option secrue"),
    ],
)
def test_a_bad_url_is_refused_with_what_is_wrong(url: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        open_store(url, tmp_path)


def test_a_bad_s3_url_never_shows_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as excinfo:
        open_store("s3://access:TopSecret@host:9000/Bad_Bucket", tmp_path)

    assert "TopSecret" not in str(excinfo.value)
