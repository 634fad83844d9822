"""Read any image file a data set may hold into 8-bit RGB, or say exactly why it cannot be read.

Converted (the record is kept): greyscale, 1-bit, palette, CMYK, YCbCr/LAB/HSV, alpha (composited over black),
16- and 32-bit integer and float images (scaled to 8 bits). Refused with a reason (the record is skipped): empty
files, files that are not images, truncated or otherwise undecodable images.
EXIF orientation is ignored on purpose: AffectNet's face boxes and landmarks refer to the pixels as stored.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from data_pipelines.report import SkipRecord

JPEG_QUALITY = 95
MAX_PIXELS = 64_000_000  # AffectNet's largest photos are far smaller; Pillow itself refuses 179 M and more


class BadImage(SkipRecord):
    """An image that cannot be used; the message is the reason shown in the preparation summary."""


def resolve_inside(root: str, relative: str) -> str:
    """`root/relative`, where `relative` comes from the release (a CSV row, a label file, a folder listing). It must
    resolve inside `root`, links followed: an absolute path, `..` or a link out of the release would read a file
    that is not part of the data set, and the record is skipped saying so."""
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, path]) != base:
        raise BadImage(f"path outside the release folder ({relative})")
    return path


def read_bytes(root: str, relative: str) -> bytes:
    """The bytes of `root/relative` (see `resolve_inside`)."""
    path = resolve_inside(root, relative)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise BadImage("file listed but missing") from None
    except IsADirectoryError:
        raise BadImage("a directory, not an image file") from None
    except OSError as error:
        raise BadImage(f"cannot be read ({error.strerror})") from None


def decode(data: bytes) -> Image.Image:
    """Fully decode `data` (so truncation is found now, not during training); raise BadImage if it cannot be."""
    if not data:
        raise BadImage("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        if image.width * image.height > MAX_PIXELS:  # before decoding: a damaged header can claim any size
            raise BadImage(f"{image.width} x {image.height} pixels: too large for a face image (damaged header?)")
        image.load()
    except Image.UnidentifiedImageError:
        raise BadImage("not an image (unrecognised file format)") from None
    except Image.DecompressionBombError:  # Pillow's own limit, checked while opening
        raise BadImage("too large for a face image (damaged header?)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise BadImage(f"damaged image ({_first_line(error)})") from None
    if image.width == 0 or image.height == 0:
        raise BadImage("image has no pixels")
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, whatever the mode."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image), mode)).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    values = values.astype(np.float64)
    if mode == "F":
        scale = 1.0 if values.max(initial=0.0) <= 1.0 else 1.0 / 255.0
        values = values * scale * 255.0
    elif mode.startswith("I;16") or values.max(initial=0) > 255:
        values = values / 257.0  # 16-bit range (PNGs of 16-bit grey load as I;16 or as I)
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def shrink(image: Image.Image, max_size: int) -> Image.Image:
    """Scale down so the longer side is at most `max_size` (0 = keep); never scale up."""
    longer = max(image.size)
    if max_size <= 0 or longer <= max_size:
        return image
    scale = max_size / longer
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.BICUBIC)


def load_rgb_jpeg(data: bytes, max_size: int = 0) -> tuple[bytes, tuple[float, float]]:
    """(JPEG bytes of the image in RGB, (x, y) scale from the source's pixels to the stored ones). An RGB JPEG that
    needs no resizing keeps its own bytes, so no quality is lost to a second compression."""
    image = decode(data)
    if image.format == "JPEG" and image.mode == "RGB" and (max_size <= 0 or max(image.size) <= max_size):
        return data, (1.0, 1.0)
    stored = shrink(to_rgb(image), max_size)
    return encode_jpeg(stored), (stored.width / image.width, stored.height / image.height)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
