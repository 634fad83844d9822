"""Photos with synthetic faces in them, for what works on photos rather than face crops: face detection, the crop
margin, prediction speed. Each photo is 640 x 480 of noisy grey with two faces of 160 px, at fixed places."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from hmtl_jax.data.synthetic.faces import SyntheticFaces

PHOTO_SIZE = (640, 480)
FACE_SIDE = 160
PLACES = ((40, 120), (400, 160))  # top-left corners of the two faces


@dataclasses.dataclass(frozen=True)
class PhotoFace:
    centre: tuple[float, float]
    label: int
    image: np.ndarray  # the face as pasted


def synthetic_photos(split: str, count: int, seed: int = 0) -> list[tuple[Image.Image, list[PhotoFace]]]:
    """`count` photos of faces `2i` and `2i + 1` of the split (deterministic), with where each face is and its class."""
    faces = SyntheticFaces(split, 2 * count, image_size=FACE_SIDE, seed=seed)
    rng = np.random.default_rng(seed)
    photos = []
    for index in range(count):
        pixels = np.clip(rng.normal(110, 25, (PHOTO_SIZE[1], PHOTO_SIZE[0], 3)), 0, 255).astype(np.uint8)
        placed = []
        for offset, (x, y) in enumerate(PLACES):
            record = faces[2 * index + offset]
            pixels[y : y + FACE_SIDE, x : x + FACE_SIDE] = record["image"]
            placed.append(PhotoFace((x + FACE_SIDE / 2, y + FACE_SIDE / 2), int(record["label"]), record["image"]))
        photos.append((Image.fromarray(pixels), placed))
    return photos
