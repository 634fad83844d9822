"""Render a confusion matrix as an RGB image (row-normalised heat map with counts), with Pillow only.

Written to TensorBoard and to `<workdir>/confusion_matrix.png` at every evaluation, because a glance at the matrix
says more about a classifier that only predicts "neutral" than any single number.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 44
LABEL_WIDTH = 90
HEADER = 90


def render_confusion_matrix(confusion: np.ndarray, class_names: tuple[str, ...], title: str = "") -> np.ndarray:
    """Rows are true classes, columns predictions; colour = share of the row, text = count. Returns HxWx3 uint8."""
    confusion = np.asarray(confusion, np.int64)
    n = len(class_names)
    row_sums = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    shares = confusion / row_sums
    width, height = LABEL_WIDTH + n * CELL + 10, HEADER + n * CELL + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    draw.text((5, 5), title or "confusion (rows: true, columns: predicted)", fill="black", font=font)
    for j, name in enumerate(class_names):
        # Column labels written vertically so long class names fit the cell width.
        label = Image.new("RGB", (HEADER - 25, CELL), "white")
        ImageDraw.Draw(label).text((2, CELL // 2 - 6), name, fill="black", font=font)
        image.paste(label.rotate(90, expand=True), (LABEL_WIDTH + j * CELL, 22))
    for i, name in enumerate(class_names):
        y = HEADER + i * CELL
        draw.text((5, y + CELL // 2 - 6), name, fill="black", font=font)
        for j in range(n):
            x = LABEL_WIDTH + j * CELL
            level = int(255 * (1.0 - shares[i, j]))
            draw.rectangle([x, y, x + CELL - 1, y + CELL - 1], fill=(level, level, 255), outline=(200, 200, 200))
            text_colour = "white" if shares[i, j] > 0.5 else "black"
            draw.text((x + 4, y + CELL // 2 - 6), str(confusion[i, j]), fill=text_colour, font=font)
    return np.asarray(image)
