"""Host-side augmentation: the paper's "weak" and "strong" levels (docs/PAPER.md), plus horizontal flip.

weak:   contrast x[0.6, 1.4], rotation +-15 deg, centred crop of a random fraction [0.69, 0.99] of the side, resize.
strong: weak with rotation +-20 deg, plus brightness +-0.05, Gaussian noise sigma <= 0.05 and Gaussian blur (the
        paper's 60 x 60 cutout is not implemented).
The pretext views of HMTL (jigsaw, masks) are not made here: they are built on device inside the train step.
Transforms are classes, not closures, because Grain worker processes must pickle them.
"""

from __future__ import annotations

import dataclasses

import grain
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from hmtl_jax.errors import ConfigError

AUGMENT_LEVELS = ("none", "weak", "strong")


@dataclasses.dataclass(frozen=True)
class AugmentSettings:
    rotation_degrees: float
    contrast: tuple[float, float] = (0.6, 1.4)
    crop_fraction: tuple[float, float] = (0.69, 0.99)
    brightness: float = 0.0
    noise_sigma: float = 0.0
    blur_probability: float = 0.0
    blur_radius: tuple[float, float] = (0.1, 1.0)


SETTINGS = {
    "weak": AugmentSettings(rotation_degrees=15.0),
    "strong": AugmentSettings(rotation_degrees=20.0, brightness=0.05, noise_sigma=0.05, blur_probability=0.5),
}


def center_crop_resize(image: Image.Image, fraction: float, size: int) -> Image.Image:
    """Crop the centred square covering `fraction` of the shorter side, then resize to size x size."""
    width, height = image.size
    side = max(1, int(round(min(width, height) * fraction)))
    left, top = (width - side) // 2, (height - side) // 2
    return image.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side))


class TrainAugment(grain.transforms.RandomMap):
    """Image (uint8 HxWx3) -> augmented uint8 image of `image_size`; keeps only `image` and `label`.

    `mirror_label` (picklable, e.g. a module-level function) gives the label of a flipped image where flipping
    changes it (head pose: yaw and roll change sign); None keeps the label."""

    def __init__(self, level: str, image_size: int, flip: bool, mirror_label=None):
        if level not in AUGMENT_LEVELS:
            raise ConfigError(f"config.input.augment must be one of {AUGMENT_LEVELS}, got {level!r}")
        self.settings = SETTINGS.get(level)
        self.image_size = image_size
        self.flip = flip
        self.mirror_label = mirror_label

    def random_map(self, element: dict, rng: np.random.Generator) -> dict:
        image = Image.fromarray(element["image"])
        s = self.settings
        if s is None:
            image = center_crop_resize(image, 1.0, self.image_size)
        else:
            image = ImageEnhance.Contrast(image).enhance(rng.uniform(*s.contrast))
            image = image.rotate(rng.uniform(-s.rotation_degrees, s.rotation_degrees), Image.BILINEAR)
            image = center_crop_resize(image, rng.uniform(*s.crop_fraction), self.image_size)
            if s.blur_probability and rng.random() < s.blur_probability:
                image = image.filter(ImageFilter.GaussianBlur(rng.uniform(*s.blur_radius)))
        label = element["label"]
        if self.flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
            if self.mirror_label is not None:
                label = self.mirror_label(label)
        pixels = np.asarray(image)
        if s is not None and (s.brightness or s.noise_sigma):
            values = pixels.astype(np.float32) / 255.0
            values += rng.uniform(-s.brightness, s.brightness)
            values += rng.normal(0.0, rng.uniform(0.0, s.noise_sigma), values.shape).astype(np.float32)
            pixels = (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return {"image": pixels, "label": batchable_label(label)}


class EvalPreprocess(grain.transforms.Map):
    """The clean view: centred crop of `crop_fraction`, resized; no randomness."""

    def __init__(self, image_size: int, crop_fraction: float):
        self.image_size = image_size
        self.crop_fraction = crop_fraction

    def map(self, element: dict) -> dict:
        return {"image": self.view(Image.fromarray(element["image"])), "label": batchable_label(element["label"])}

    def view(self, image: Image.Image) -> np.ndarray:
        """The model's input (uint8 image_size x image_size x 3) of one face image: also what prediction feeds."""
        return np.asarray(center_crop_resize(image, self.crop_fraction, self.image_size))


def batchable_label(label) -> np.ndarray:
    """Class indices as int32 (prepared data sets store int64), regression targets as float32."""
    label = np.asarray(label)
    return label.astype(np.float32 if np.issubdtype(label.dtype, np.floating) else np.int32)
