"""The picture of what the pretext tasks look like during training: one row each for the clean images, the view
the network is given (puzzled and/or masked), and the decoder's reconstruction pasted into the masked pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

ROWS = (("clean", "clean"), ("view", "pretext view"), ("reconstruction", "reconstruction"))
_LABEL_WIDTH = 110
_GAP = 2


def render_pretext_grid(preview: dict[str, np.ndarray], tile: int = 96) -> np.ndarray:
    """`preview` maps row names to float (B, H, W, 3) in [0, 1]; returns an HxWx3 uint8 picture."""
    rows = [(key, label) for key, label in ROWS if key in preview]
    count = len(preview["clean"])
    width = _LABEL_WIDTH + count * (tile + _GAP)
    height = len(rows) * (tile + _GAP)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (key, label) in enumerate(rows):
        top = r * (tile + _GAP)
        draw.text((6, top + tile // 2 - 6), label, fill="black")
        pixels = (np.clip(np.asarray(preview[key], np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
        for i, image in enumerate(pixels):
            face = Image.fromarray(image).resize((tile, tile), Image.NEAREST)
            canvas.paste(face, (_LABEL_WIDTH + i * (tile + _GAP), top))
    return np.asarray(canvas)
