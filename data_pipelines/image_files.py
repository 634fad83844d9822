"""Read any image file a data set may hold into 8-bit RGB, or say exactly why it cannot be read.

What is converted and what is refused: hmtl_jax/data/image_decoding.py (shared with prediction); a refused image's
record is skipped with the reason.
EXIF orientation is ignored on purpose: AffectNet's face boxes and landmarks refer to the pixels as stored.
"""

from __future__ import annotations

import io
import os

from PIL import Image

from data_pipelines.report import SkipRecord
from hmtl_jax.data import image_decoding

JPEG_QUALITY = 95


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
    try:
        return image_decoding.decode(data)
    except image_decoding.UnreadableImage as error:
        raise BadImage(str(error)) from None


to_rgb, shrink = image_decoding.to_rgb, image_decoding.shrink


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def load_rgb_jpeg(data: bytes, max_size: int = 0) -> tuple[bytes, tuple[float, float]]:
    """(JPEG bytes of the image in RGB, (x, y) scale from the source's pixels to the stored ones). An RGB JPEG that
    needs no resizing keeps its own bytes, so no quality is lost to a second compression."""
    image = decode(data)
    if image.format == "JPEG" and image.mode == "RGB" and (max_size <= 0 or max(image.size) <= max_size):
        return data, (1.0, 1.0)
    stored = shrink(to_rgb(image), max_size)
    return encode_jpeg(stored), (stored.width / image.width, stored.height / image.height)
