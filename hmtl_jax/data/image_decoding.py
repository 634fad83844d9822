"""Decode any image file into 8-bit RGB, or say in a few words why it cannot be: one place for data preparation
(data_pipelines/image_files.py) and for prediction on users' photos (hmtl_jax/inference/photos.py).

Converted: greyscale, 1-bit, palette, CMYK, YCbCr/LAB/HSV, alpha (composited over black), 16- and 32-bit integer and
float images (scaled to 8 bits). Refused with a reason: empty files, files that are not images, truncated or
otherwise undecodable images, headers claiming more than MAX_PIXELS.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_PIXELS = 64_000_000  # AffectNet's largest photos are far smaller; Pillow itself refuses 179 M and more


class UnreadableImage(ValueError):
    """An image that cannot be decoded; the message is the reason, short enough for a summary line."""


def open_image(data: bytes) -> Image.Image:
    """The image's header, checked for size before anything is decoded (a damaged header can claim any size)."""
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.UnidentifiedImageError:
        raise UnreadableImage("not an image (unrecognised file format)") from None
    except Image.DecompressionBombError:  # Pillow's own limit, checked while opening
        raise UnreadableImage("too large for a face image (damaged header?)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableImage(f"damaged image ({_first_line(error)})") from None
    if image.width * image.height > MAX_PIXELS:
        raise UnreadableImage(f"{image.width} x {image.height} pixels: too large for a face image (damaged header?)")
    if image.width == 0 or image.height == 0:
        raise UnreadableImage("image has no pixels")
    return image


def load(image: Image.Image) -> Image.Image:
    """Fully decode an opened image (so truncation is found now, not later)."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableImage(f"damaged image ({_first_line(error)})") from None
    return image


def decode(data: bytes) -> Image.Image:
    """Fully decode `data`; raise UnreadableImage if it cannot be."""
    return load(open_image(data))


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


def shrink(image: Image.Image, max_size: int) -> Image.Image:
    """Scale down so the longer side is at most `max_size` (0 = keep); never scale up."""
    longer = max(image.size)
    if max_size <= 0 or longer <= max_size:
        return image
    scale = max_size / longer
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.BICUBIC)


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    values = values.astype(np.float64)
    if mode == "F":
        scale = 1.0 if values.max(initial=0.0) <= 1.0 else 1.0 / 255.0
        values = values * scale * 255.0
    elif mode.startswith("I;16") or values.max(initial=0) > 255:
        values = values / 257.0  # 16-bit range (PNGs of 16-bit grey load as I;16 or as I)
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
