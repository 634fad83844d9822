"""Save a grid of synthetic faces, one row per class, to see what the model sees.

    python -m hmtl_jax.data.synthetic.sample_grid --out docs/images/synthetic_faces.png

Faces come from the validation split exactly as the trainer reads them (all nuisances on), so the picture is an
honest view of the difficulty: the class should be readable at strong intensity while everything else varies.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hmtl_jax.data.synthetic.faces import CLASS_NAMES, SyntheticFaces

LABEL_WIDTH = 84  # pixels left of each row for the class name


def sample_grid(per_class: int = 10, image_size: int = 64, zoom: int = 2, seed: int = 0) -> Image.Image:
    """The first `per_class` validation faces of every class, upscaled by `zoom` (nearest, to keep pixels honest)."""
    source = SyntheticFaces("validation", per_class * len(CLASS_NAMES), image_size=image_size, seed=seed)
    labels = source.labels()  # balanced: exactly `per_class` records of each class
    cell = image_size * zoom
    grid = Image.new("RGB", (LABEL_WIDTH + per_class * cell, len(CLASS_NAMES) * cell), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=15)
    for label, name in enumerate(CLASS_NAMES):
        draw.text((6, label * cell + cell // 2 - 9), name, fill="black", font=font)
        for column, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            tile = Image.fromarray(source[int(index)]["image"]).resize((cell, cell), Image.NEAREST)
            grid.paste(tile, (LABEL_WIDTH + column * cell, label * cell))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/images/synthetic_faces.png")
    parser.add_argument("--per_class", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--zoom", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bits", type=int, default=5, choices=range(1, 9), help="bits per channel kept in the PNG")
    args = parser.parse_args()
    grid = np.asarray(sample_grid(args.per_class, args.size, args.zoom, args.seed))
    # Sensor noise and JPEG blocks do not compress: dropping the low bits (invisible at this zoom) keeps the
    # 80-face PNG well under 500 KB.
    drop = 8 - args.bits
    grid = (grid >> drop << drop) + (1 << drop >> 1)
    Image.fromarray(grid.astype(np.uint8)).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
