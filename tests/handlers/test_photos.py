"""What happens to a resident's uploaded photo: real images made here, checked by content, re-encoded clean."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import time
import zipfile
import zlib

import pillow_heif
import pytest
from PIL import ExifTags, Image, features

from handlers import photos
from handlers.photos import Photo, PhotoRefused, inspect

# 广州塔: 23°6'32.4"N 113°19'8.4"E.
TOWER_LAT, TOWER_LNG = 23 + 6 / 60 + 32.4 / 3600, 113 + 19 / 60 + 8.4 / 3600
CAN_WRITE_HEIC = bool(pillow_heif.libheif_info().get("HEIF"))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def camera_exif(
    lat: object = (23.0, 6.0, 32.4),
    lat_ref: object = "N",
    lng: object = (113.0, 19.0, 8.4),
    lng_ref: object = "E",
    orientation: int = 1,
) -> bytes:
    """EXIF as a phone writes it: where, which camera, which way up."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretMaker"
    exif[ExifTags.Base.Model] = "SecretCam 9000"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: lat,
        ExifTags.GPS.GPSLongitudeRef: lng_ref,
        ExifTags.GPS.GPSLongitude: lng,
    }
    return exif.tobytes()


def scene(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Left half red, right half blue: which way up it ends shows on the output."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def opened(photo: Photo) -> Image.Image:
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG"
    return image


def close_to(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True))


def refused(data: bytes) -> str:
    with pytest.raises(PhotoRefused) as excinfo:
        inspect(data)
    return excinfo.value.message


def png_declaring(width: int, height: int, compressed_pixels: bytes = zlib.compress(bytes(4096))) -> bytes:
    """A valid PNG that claims width x height RGB pixels, whatever its (zlib-compressed) pixel data holds."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed_pixels) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "fmt",
    [
        "JPEG",
        "PNG",
        "WEBP",
        pytest.param(
            "HEIF",
            marks=pytest.mark.skipif(not CAN_WRITE_HEIC, reason="this pillow-heif build has no HEVC encoder"),
        ),
    ],
)
def test_a_phone_photo_keeps_where_it_was_taken_and_nothing_else(fmt: str) -> None:
    data = encode(scene(), fmt, exif=camera_exif())
    assert b"SecretCam" in data

    photo = inspect(data)

    assert photo.lat == pytest.approx(TOWER_LAT, abs=1e-6)
    assert photo.lng == pytest.approx(TOWER_LNG, abs=1e-6)
    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (320, 240) == opened(photo).size
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    for trace in (b"Exif", b"SecretCam", b"SecretMaker"):
        assert trace not in photo.data
    assert not opened(photo).getexif()


def test_south_and_west_are_negative() -> None:
    photo = inspect(encode(scene(), "JPEG", exif=camera_exif(lat_ref="S", lng_ref="W")))

    assert photo.lat == pytest.approx(-TOWER_LAT, abs=1e-6)
    assert photo.lng == pytest.approx(-TOWER_LNG, abs=1e-6)


@pytest.mark.parametrize(
    "gps",
    [
        {"lat": (95.0, 0.0, 0.0)},  # past the pole
        {"lng": (181.0, 0.0, 0.0)},
        {"lat_ref": "X"},
        {"lng_ref": ""},
        {"lat": (23.0, 75.0, 0.0)},  # 75 minutes
        {"lat": (0.0, 0.0, 0.0), "lng": (0.0, 0.0, 0.0)},  # a camera without a fix
    ],
)
def test_nonsense_gps_is_no_location_and_the_photo_is_kept(gps: dict[str, object]) -> None:
    photo = inspect(encode(scene(), "JPEG", exif=camera_exif(**gps)))  # type: ignore[arg-type]

    assert (photo.lat, photo.lng) == (None, None)
    assert photo.width == 320
    assert b"Exif" not in photo.data


def test_a_photo_without_exif_has_no_location() -> None:
    photo = inspect(encode(scene(), "JPEG"))

    assert (photo.lat, photo.lng) == (None, None)


def test_a_photo_taken_sideways_is_turned_upright() -> None:
    # Orientation 6: the phone was turned; viewers rotate it 90 degrees clockwise, so the left half ends on top.
    photo = inspect(encode(scene((320, 240)), "JPEG", exif=camera_exif(orientation=6)))

    image = opened(photo)
    assert (photo.width, photo.height) == (240, 320) == image.size
    assert close_to(image.getpixel((120, 40)), (220, 20, 20))
    assert close_to(image.getpixel((120, 280)), (20, 20, 220))


def test_transparent_png_becomes_a_jpeg_on_white() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((20, 20, 220, 255), (100, 0, 200, 100))

    photo = inspect(encode(image, "PNG"))

    jpeg = opened(photo)
    assert jpeg.mode == "RGB"
    assert close_to(jpeg.getpixel((50, 50)), (255, 255, 255))
    assert close_to(jpeg.getpixel((150, 50)), (20, 20, 220))


def test_webp_is_accepted() -> None:
    photo = inspect(encode(scene(), "WEBP", quality=90))

    assert close_to(opened(photo).getpixel((40, 120)), (220, 20, 20))


@pytest.mark.skipif(not CAN_WRITE_HEIC, reason="this pillow-heif build has no HEVC encoder to make a HEIC with")
def test_an_iphone_heic_is_accepted_upright() -> None:
    data = encode(scene(), "HEIF", exif=camera_exif(orientation=6))
    assert data[4:12] == b"ftypheic"

    photo = inspect(data)

    assert (photo.width, photo.height) == (240, 320)
    assert close_to(opened(photo).getpixel((120, 40)), (220, 20, 20))
    assert photo.lat == pytest.approx(TOWER_LAT, abs=1e-6)


def test_a_big_photo_is_scaled_down_to_the_longest_side_kept() -> None:
    photo = inspect(encode(scene((4000, 3000)), "PNG"))

    assert (photo.width, photo.height) == (photos.MAX_SIDE, photos.MAX_SIDE * 3 // 4)
    assert len(photo.data) < 1_000_000


def test_a_phones_jpeg_is_decoded_at_half_size_when_that_keeps_enough() -> None:
    # 4000 x 3000 decodes as 2000 x 1500 (JPEG's own 1/2 scale): both above MIN_KEPT_SIDE's long side, no resize.
    photo = inspect(encode(scene((4000, 3000)), "JPEG", quality=80))
    assert (photo.width, photo.height) == (2000, 1500)
    # 3000 x 2000 would fall to 1500 on its long side at 1/2: decoded whole, then scaled to MAX_SIDE.
    whole = inspect(encode(scene((3000, 2000)), "JPEG", quality=80))
    assert (whole.width, whole.height) == (2560, 1707)


def test_trailing_content_after_the_image_is_gone() -> None:
    # A polyglot: a JPEG that is also a zip with a script in it.
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr("run.html", "<script>alert(1)</script>")
    data = encode(scene(), "JPEG", comment=b"<?php system($_GET[1]); ?>") + payload.getvalue()

    photo = inspect(data)

    for trace in (b"<script>", b"run.html", b"<?php", b"PK\x03\x04"):
        assert trace not in photo.data


def test_a_photo_just_under_the_byte_limit_is_accepted() -> None:
    # Noise does not compress: a PNG of it is about as large as its pixels.
    side = 1860
    noise = Image.frombytes("RGB", (side, side), random.Random(7).randbytes(side * side * 3))
    data = encode(noise, "PNG", compress_level=1)
    assert photos.MAX_BYTES - 500_000 < len(data) <= photos.MAX_BYTES

    assert inspect(data).width == side


def test_more_than_ten_megabytes_is_refused_before_decoding() -> None:
    data = encode(scene(), "JPEG") + bytes(12 * 1024 * 1024)

    started = time.perf_counter()
    assert refused(data) == photos.TOO_BIG == "照片太大了（最大 10 MB），请压缩后再传。"
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (50_000, 50_000),  # Pillow itself raises
        (10_000, 9_000),  # Pillow only warns
        (8_000, 5_001),  # Pillow is silent; our cap of 40 megapixels refuses it
    ],
)
def test_a_decompression_bomb_is_refused_before_decoding(width: int, height: int) -> None:
    data = png_declaring(width, height)
    assert len(data) < 200

    started = time.perf_counter()
    assert refused(data) == photos.TOO_MANY_PIXELS
    assert time.perf_counter() - started < 0.5


def test_a_real_highly_compressible_huge_image_is_refused() -> None:
    # 7000 x 6000 black pixels, every row complete: 126 MB decoded, about 120 KB as PNG.
    width, height = 7000, 6000
    packer = zlib.compressobj(9)
    row = b"\0" + bytes(width * 3)  # filter byte, then the row's pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    data = png_declaring(width, height, pixels)
    assert len(data) < 1_000_000

    started = time.perf_counter()
    assert refused(data) == photos.TOO_MANY_PIXELS
    assert time.perf_counter() - started < 0.5


def test_a_tiny_image_is_refused() -> None:
    assert refused(encode(Image.new("RGB", (8, 200), "red"), "PNG")) == photos.TOO_SMALL


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", encode(scene(), "JPEG"))
    return out.getvalue()


NOT_PHOTOS = {
    "zip": _zip(),
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"></svg>',
    "gif": encode(scene(), "GIF"),
    "bmp": encode(scene(), "BMP"),
    "tiff": encode(scene(), "TIFF"),
    "text": "3号楼楼道灯坏了".encode(),
    "random": random.Random(1).randbytes(4096),
    "html": b"<html><script>alert(1)</script></html>",
}


@pytest.mark.parametrize("kind", sorted(NOT_PHOTOS))
def test_what_is_not_a_photo_is_refused(kind: str) -> None:
    message = refused(NOT_PHOTOS[kind])

    assert message == photos.NOT_A_PHOTO == "这不是照片，请上传 JPG、PNG、WebP 或 HEIC 图片。"


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot write AVIF")
def test_an_image_format_outside_the_four_is_refused_even_when_pillow_reads_it() -> None:
    assert refused(encode(scene(), "AVIF")) == photos.NOT_A_PHOTO


def test_an_empty_upload_is_refused() -> None:
    assert refused(b"") == photos.EMPTY


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_photo_is_refused(fmt: str) -> None:
    data = encode(scene((640, 480)), fmt)

    assert refused(data[: len(data) // 2]) == photos.BROKEN


@pytest.mark.parametrize(
    "message",
    [photos.EMPTY, photos.TOO_BIG, photos.NOT_A_PHOTO, photos.TOO_MANY_PIXELS, photos.TOO_SMALL, photos.BROKEN],
)
def test_every_refusal_says_what_to_do_next(message: str) -> None:
    assert "请" in message
    assert message.endswith("。")
