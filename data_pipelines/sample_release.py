"""Write a sample release in AffectNet's official format, made of the embedded synthetic faces.

    python -m data_pipelines.sample_release --out /tmp/affectnet_sample --train 2000 --validation 400

Each record is a photo of AffectNet-like size (300-500 px a side, JPEG) with one synthetic face somewhere inside, its
box, 68 template landmarks placed in the box, the face's expression code and a valence/arousal, in
Manually_Annotated_Images/ + training.csv / validation.csv. Train labels follow AffectNet-8's long tail, validation is
balanced, as in AffectNet. For trying `python -m data_pipelines.prepare affectnet` and the AffectNet configs without
AffectNet, and for timing them (`python -m hmtl_jax.tools.benchmark data_pipeline`).
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from data_pipelines.affectnet import CSV_COLUMNS, CSV_FILES
from hmtl_jax.data.synthetic.faces import SyntheticFaces

FACE_PIXELS = 224  # rendered face size, before scaling to its box


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], 1)


def _line(x0: float, y0: float, x1: float, y1: float, n: int) -> np.ndarray:
    return np.stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)], 1)


# 68 points on a unit square in the iBUG order (jaw 17, brows 5 + 5, nose 9, eyes 6 + 6, mouth 20): a rough template,
# so the sample's landmark column has the real format.
_JAW = np.linspace(0.0, 1.0, 17)
TEMPLATE = np.concatenate(
    [
        np.stack([0.1 + 0.8 * _JAW, 0.45 + 0.45 * np.sin(np.pi * _JAW)], 1),
        _line(0.2, 0.3, 0.45, 0.3, 5),
        _line(0.55, 0.3, 0.8, 0.3, 5),
        _line(0.5, 0.35, 0.5, 0.65, 9),
        _ellipse(0.3, 0.4, 0.05, 0.03, 6),
        _ellipse(0.7, 0.4, 0.05, 0.03, 6),
        _ellipse(0.5, 0.78, 0.15, 0.05, 20),
    ]
)
# Rough valence/arousal centres of the eight classes (Russell's circumplex), for plausible values.
VALENCE_AROUSAL = {
    0: (0.0, 0.0),
    1: (0.7, 0.4),
    2: (-0.6, -0.3),
    3: (0.2, 0.7),
    4: (-0.5, 0.7),
    5: (-0.6, 0.3),
    6: (-0.6, 0.6),
    7: (-0.4, 0.2),
}


def _photo(faces: SyntheticFaces, index: int, seed: int) -> tuple[Image.Image, tuple[int, int, int, int], int]:
    rng = np.random.default_rng((seed, index))
    width, height = int(rng.integers(300, 501)), int(rng.integers(300, 501))
    side = int(rng.integers(120, min(width, height) - 20))
    x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.integers(40, 200, 3)
    background = base + 40 * np.sin(xx[..., None] / rng.uniform(20, 80) + yy[..., None] / rng.uniform(20, 80))
    photo = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    record = faces[index]
    photo.paste(Image.fromarray(record["image"]).resize((side, side), Image.BICUBIC), (x, y))
    return photo, (x, y, side, side), int(record["label"])


def _write_photo(images: str, faces: SyntheticFaces, split: str, seed: int, index: int) -> list[str]:
    """Write photo `index` of `split` under `images`; return its CSV row."""
    photo, (x, y, w, h), label = _photo(faces, index, seed + (0 if split == "train" else 1_000_003))
    name = f"{split}/{index:07d}.jpg"
    photo.save(os.path.join(images, name), quality=90)
    points = TEMPLATE * [w, h] + [x, y]
    valence, arousal = VALENCE_AROUSAL[label]
    landmarks = ";".join(f"{v:.2f}" for v in points.reshape(-1))
    return [name, str(x), str(y), str(w), str(h), landmarks, str(label), f"{valence:.3f}", f"{arousal:.3f}"]


def write_sample_affectnet(out: str, train: int, validation: int, seed: int = 0, threads: int = 0) -> None:
    images = os.path.join(out, "Manually_Annotated_Images")
    sizes = {"train": train, "validation": validation}
    for split, csv_name in CSV_FILES.items():
        faces = SyntheticFaces(split, sizes[split], image_size=FACE_PIXELS, seed=seed, long_tailed=split == "train")
        os.makedirs(os.path.join(images, split), exist_ok=True)
        write = functools.partial(_write_photo, images, faces, split, seed)
        with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
            rows = list(pool.map(write, range(sizes[split])))
        with open(os.path.join(out, csv_name), "w", newline="") as f:
            csv.writer(f).writerows([CSV_COLUMNS, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m data_pipelines.sample_release", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--validation", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_sample_affectnet(args.out, args.train, args.validation, args.seed)
    print(f"wrote {args.train} train and {args.validation} validation photos in AffectNet's format to {args.out}")


if __name__ == "__main__":
    main()
