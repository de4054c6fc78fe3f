"""A resident's uploaded photo (随手拍): checked by its content, re-encoded as a plain JPEG, its location kept.

Nothing of the upload reaches storage as sent: the pixels are decoded and encoded again, so a file that only looks
like a photo (a polyglot, a script in a comment, a camera's serial number in EXIF) leaves nothing behind but pixels
and, when the phone recorded it, where the photo was taken.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# Phones save HEIC by default (iPhone); Pillow reads it through pillow-heif's plugin, format name "HEIF".
pillow_heif.register_heif_opener()

# A phone's photo is 2-6 MB as JPEG or HEIC; 10 MB leaves room for the larger ones and still bounds what one upload
# costs us to hold in memory before anything is decoded.
MAX_BYTES = 10 * 1024 * 1024
# Decoded pixels cost 3-4 bytes each: 40 megapixels is 160 MB at most, more than any phone's default photo (12-24 MP)
# and far below what a crafted header can claim. Pillow's own limit (89 MP warns, 179 MP raises) is too high for us.
MAX_PIXELS = 40_000_000
# Smaller than this a side shows nothing a worker could act on (an icon, a tracking pixel, a crafted header).
MIN_SIDE = 16
# The longer side kept: sharp on a phone and on the centre's screen, about 0.5-1 MB as JPEG.
MAX_SIDE = 2560
# A JPEG decodes at 1/2, 1/4 or 1/8 of its size for a fraction of the work, with no resize after it: taken whenever
# the longer side stays at least this long. A phone's 4000 x 3000 is kept as 2000 x 1500: about a sixth of the CPU
# of decoding all 12 MP and resizing to 2560 (bench upload), and still more than a phone's screen shows.
MIN_KEPT_SIDE = 1600
# JPEG quality: no visible loss at this size, a third of the bytes of quality 95.
JPEG_QUALITY = 85

# Pillow's format names that we decode (MPO is a JPEG with extra images after it, as many phones save).
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_ACCEPTED = frozenset((*_FORMATS, "MPO"))

EMPTY = "没有收到照片，请重新上传。"
TOO_BIG = f"照片太大了（最大 {MAX_BYTES // (1024 * 1024)} MB），请压缩后再传。"
NOT_A_PHOTO = "这不是照片，请上传 JPG、PNG、WebP 或 HEIC 图片。"
TOO_MANY_PIXELS = f"照片尺寸太大了（最大 {MAX_PIXELS // 10_000} 万像素），请缩小后再传。"
TOO_SMALL = "照片太小了，看不清，请上传原图。"
BROKEN = "照片已损坏或不完整，请重新拍一张再传。"


class PhotoRefused(Exception):
    """The upload is not a photo we keep; `message` tells the resident why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, kw_only=True)
class Photo:
    """A cleaned photo: a JPEG without any metadata, and where it was taken if the phone said so."""

    data: bytes = field(repr=False)
    content_type: str = "image/jpeg"
    width: int
    height: int
    lat: float | None
    lng: float | None
    sha256: str  # of `data`, the bytes we store


def inspect(data: bytes) -> Photo:
    """Check one uploaded image by its content and re-encode it; raise PhotoRefused with the resident's message."""
    if not data:
        raise PhotoRefused(EMPTY)
    if len(data) > MAX_BYTES:
        raise PhotoRefused(TOO_BIG)
    image = _open(data)
    lat, lng = _location(image)
    jpeg, width, height = _reencode(image)
    return Photo(data=jpeg, width=width, height=height, lat=lat, lng=lng, sha256=hashlib.sha256(jpeg).hexdigest())


def _open(data: bytes) -> Image.Image:
    """Read the header only: the format from the content's magic bytes, and the declared size, before any decoding."""
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except UnidentifiedImageError:
        raise PhotoRefused(NOT_A_PHOTO) from None
    # Above 179 MP Pillow raises; from 89 MP it warns, which is an exception where warnings are errors (the tests):
    # either way our own, lower cap below refuses the rest.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(TOO_MANY_PIXELS) from None
    except Exception:
        # A header that starts like an image and then makes no sense: Pillow's plugins raise whatever they hit.
        raise PhotoRefused(BROKEN) from None
    if image.format not in _ACCEPTED:
        raise PhotoRefused(NOT_A_PHOTO)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PhotoRefused(TOO_MANY_PIXELS)
    if min(width, height) < MIN_SIDE:
        raise PhotoRefused(TOO_SMALL)
    return image


def _reencode(image: Image.Image) -> tuple[bytes, int, int]:
    """Decode, turn upright, flatten to RGB, scale down and save as a JPEG with no metadata."""
    try:
        width, height = image.size
        keep = MIN_KEPT_SIDE / max(width, height)
        if keep < 1:
            # draft() takes the smallest of 1/2, 1/4, 1/8 that leaves both sides at least this (JPEG only).
            image.draft("RGB", (math.ceil(width * keep), math.ceil(height * keep)))
        image.load()
    except Exception:
        # Truncated or corrupt pixel data; Pillow's decoders raise OSError, ValueError, SyntaxError and more.
        raise PhotoRefused(BROKEN) from None
    # An orientation tag that cannot be read leaves the photo as stored: the pixels are still worth keeping.
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(image, in_place=True)
    rgb = _flatten(image)
    del image  # a photo already RGB is the same image; another's decoded original is freed before the resize
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # Pillow carries some of the original's info (a JPEG comment) into the saved file; start from none.
    rgb.info = {}
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), rgb.width, rgb.height


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with transparent parts white (as a screenshot or sticker looks on a phone), not black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    # Already RGB (most JPEGs): no copy of every pixel.
    return image if image.mode == "RGB" else image.convert("RGB")


def _location(image: Image.Image) -> tuple[float | None, float | None]:
    """Where the photo was taken, from EXIF GPS, in decimal degrees; (None, None) when absent or nonsense."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps[ExifTags.GPS.GPSLatitudeRef], "N", "S", 90)
        lng = _degrees(gps[ExifTags.GPS.GPSLongitude], gps[ExifTags.GPS.GPSLongitudeRef], "E", "W", 180)
    except Exception:
        # EXIF is whatever the phone (or anyone) wrote: any malformed value means we do not know where it was taken.
        return None, None
    # 0, 0 is what some cameras write without a fix; nobody reports a street lamp from the Gulf of Guinea.
    if lat == 0 and lng == 0:
        return None, None
    return lat, lng


def _degrees(value: Any, ref: Any, positive: str, negative: str, limit: int) -> float:
    """(degrees, minutes, seconds) and a hemisphere letter as signed decimal degrees; ValueError if nonsense."""
    if isinstance(ref, bytes):
        ref = ref.decode("ascii")
    ref = str(ref).strip("\x00 ").upper()
    if ref not in (positive, negative):
        raise ValueError(f"GPS reference {ref!r}")
    parts = [float(part) for part in (value if isinstance(value, tuple | list) else (value,))]
    if (
        not 1 <= len(parts) <= 3
        or not all(math.isfinite(p) and p >= 0 for p in parts)
        or max(parts[1:], default=0) >= 60
    ):
        raise ValueError(f"GPS value {value!r}")
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if degrees > limit:
        raise ValueError(f"GPS value {value!r}")
    return round(-degrees if ref == negative else degrees, 7)
