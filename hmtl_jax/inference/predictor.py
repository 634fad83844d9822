"""The Python API of a trained model: faces in, labels and probabilities out.

from hmtl_jax.inference import Predictor

predictor = Predictor.from_workdir("workdirs/demo")
for face in predictor.predict_faces("photo.jpg"):          # detection, then the model
    print(face.box, face.label, face.probabilities)
result = predictor.predict(["face1.png", face_array])      # faces already cropped
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from PIL import Image

from hmtl_jax.data.augment import EvalPreprocess
from hmtl_jax.data.image_decoding import UnreadableImage
from hmtl_jax.inference.faces import DEFAULT_MARGIN, FaceBox, create_detector, square_crop
from hmtl_jax.inference.photos import read_photo
from hmtl_jax.inference.trained_model import TrainedModel
from hmtl_jax.supervised.tasks import is_regression


@dataclasses.dataclass(frozen=True)
class Face:
    """One face's answer. Classification: `label` and the probability of every class (`probabilities`, in the
    order of `Predictor.names`). Head pose: `label` is '' and `probabilities` are yaw, pitch and roll in degrees.
    `box` is where it was found (the whole image for faces given already cropped)."""

    box: FaceBox
    label: str
    probabilities: np.ndarray


class Predictor:
    def __init__(self, model: TrainedModel, *, detector="haar", margin: float = DEFAULT_MARGIN, batch_size: int = 32):
        self.model = model
        self.card = model.card
        self.names = model.card.names
        self.regression = is_regression(model.card.task)
        self.preprocess = EvalPreprocess(model.card.image_size, model.card.crop_fraction)
        self.detector = create_detector(detector)
        self.margin = margin
        self.batch_size = batch_size

    @classmethod
    def from_workdir(cls, workdir: str, *, step: int | None = None, **kwargs) -> Predictor:
        """The newest checkpoint of `workdir` (or the one at `step`). kwargs: detector ('haar', 'none' or a YuNet
        .onnx path), margin (around the detector's box, a fraction of its side), batch_size."""
        detector = create_detector(kwargs.pop("detector", "haar"))  # a mistake in it before the model is loaded
        return cls(TrainedModel(workdir, step), detector=detector, **kwargs)

    def detect(self, photo: Image.Image) -> list[FaceBox]:
        """The faces in an RGB photo, largest first."""
        boxes = self.detector(np.asarray(photo))
        return sorted(boxes, key=lambda b: b.width * b.height, reverse=True)

    def crop(self, photo: Image.Image, box: FaceBox) -> Image.Image:
        return square_crop(photo, box, self.margin)

    def scores(self, faces: list[Image.Image]) -> np.ndarray:
        """Probabilities (N, C) or angles (N, 3) of face crops, through the evaluation's preprocessing, in batches
        of `batch_size` (the last one padded, so the model is compiled for one batch shape only)."""
        if not faces:
            return np.zeros((0, len(self.names)), np.float32)
        pixels = np.stack([self.preprocess.view(face) for face in faces])
        results = []
        for start in range(0, len(pixels), self.batch_size):
            batch = pixels[start : start + self.batch_size]
            padded = np.concatenate([batch, np.zeros((self.batch_size - len(batch), *batch.shape[1:]), np.uint8)])
            results.append(np.asarray(self.model.scores(padded))[: len(batch)])
        return np.concatenate(results)

    def faces_of(self, boxes: list[FaceBox], scores) -> list[Face]:
        """The answers for faces at `boxes` whose scores (`scores`) the model gave."""
        labels = [""] * len(boxes) if self.regression else [self.names[i] for i in np.argmax(scores, axis=-1)]
        return [Face(box, label, row) for box, label, row in zip(boxes, labels, scores, strict=True)]

    def predict(self, images) -> list[Face]:
        """Faces already cropped: numpy arrays (H, W, 3 uint8 RGB, or H, W greyscale), PIL images or file paths."""
        crops = [_as_rgb(image)[0] for image in images]
        boxes = [FaceBox(0, 0, crop.width, crop.height, 1.0) for crop in crops]
        return self.faces_of(boxes, self.scores(crops))

    def predict_faces(self, photo) -> list[Face]:
        """Every face found in a photo (numpy array, PIL image or file path), largest first; boxes in the pixels of
        the photo as given (a file's, upright, though a huge one is looked at scaled down)."""
        photo, scale = _as_rgb(photo)
        boxes = self.detect(photo)
        faces = self.faces_of(boxes, self.scores([self.crop(photo, box) for box in boxes]))
        return [dataclasses.replace(face, box=scaled(face.box, scale)) for face in faces] if scale != 1.0 else faces


def scaled(box: FaceBox, scale: float) -> FaceBox:
    """A box found in a photo scaled down by `scale`, in the original's pixels."""
    x, y, width, height = (round(v * scale) for v in (box.x, box.y, box.width, box.height))
    return FaceBox(x, y, width, height, box.score)


def _as_rgb(image) -> tuple[Image.Image, float]:
    """(RGB image, the file's pixels per pixel of it: > 1 for a huge file read scaled down)."""
    if isinstance(image, (str, os.PathLike)):
        photo = read_photo(os.fspath(image))
        if photo.image is None:
            raise UnreadableImage(f"{image}: {photo.problem}")
        return photo.image, photo.scale
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"images as arrays must be uint8 (0-255), got {image.dtype}")
        image = Image.fromarray(image)
    return image.convert("RGB"), 1.0
