"""Finding faces in photos, and cropping them the way the training faces were framed.

Detectors (`create_detector`):
- `haar` (default): OpenCV's frontal-face Haar cascade, which ships inside opencv-python-headless 4.x (no download;
  OpenCV 5 dropped it, hence the pin). Fast, frontal faces only, misses some.
- `none`: the whole image is one face (already cropped faces, as AffectNet's and RAF-DB's aligned images).
- a path to OpenCV's YuNet face detector (`face_detection_yunet_2023mar.onnx` from the OpenCV model zoo), made for
  the turned and small faces Haar misses; the user supplies the file (none could be downloaded here, so this slot
  is untested with a real YuNet file).
"""

from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np
from PIL import Image

from hmtl_jax.errors import ConfigError, MissingFileError

# The face box grows by this fraction of its side on every side before the square crop. Chosen on validation with
# `python -m hmtl_jax.tools.face_margin` (an SL model of synthetic faces, 155 faces Haar finds in 200 photos):
# accuracy 63.9 / 65.2 / 66.5 / 58.7 / 49.0 % at margins 0.1 / 0.2 / 0.3 / 0.4 / 0.5; 0.2 and 0.3 are within two
# faces of each other, and 0.3 is also where Haar's box (64 % of a synthetic face image's side) gives back the whole
# training image. Data sets cropped another way may want another: --margin.
DEFAULT_MARGIN = 0.3
HAAR_CASCADE = "haarcascade_frontalface_default.xml"


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """A face in a photo's pixels (after EXIF rotation): top-left corner, size, and the detector's confidence (Haar:
    its last stage's weight, larger is surer; YuNet: a probability; `none`: 1)."""

    x: int
    y: int
    width: int
    height: int
    score: float


class HaarDetector:
    """Looks at a copy of at most `working_side` pixels a side (`python -m hmtl_jax.tools.benchmark predict` prints
    speed and faces found for several): on 640 x 480 photos of synthetic faces 480 finds the faces full size finds in
    a fraction of the time. Faces smaller than MIN_SIZE at that scale, 1/20 of the photo's longer side, are missed.
    No histogram equalisation: at the working scale it found fewer faces (23 of 28 on 30 photos) and took 3 times
    as long."""

    name = "haar"
    MIN_SIZE = 24

    def __init__(self, working_side: int = 480):
        self.cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, HAAR_CASCADE))
        self.working_side = working_side

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.working_side / max(grey.shape))
        if scale < 1.0:
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        boxes, _, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.MIN_SIZE, self.MIN_SIZE), outputRejectLevels=True
        )
        return [
            FaceBox(*(round(v / scale) for v in box), float(weight))
            for box, weight in zip(boxes, np.ravel(weights), strict=True)
        ]


class YuNetDetector:
    name = "yunet"

    def __init__(self, model_path: str, score_threshold: float = 0.7):
        if not os.path.isfile(model_path):
            raise MissingFileError(f"--detector={model_path}: no such file (a YuNet .onnx face detector)")
        try:
            self.detector = cv2.FaceDetectorYN.create(model_path, "", (320, 320), score_threshold)
        except cv2.error as error:
            message = f"--detector={model_path} is not a YuNet face detector OpenCV can load: {error.msg}"
            raise ConfigError(message) from None

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        height, width = rgb.shape[:2]
        self.detector.setInputSize((width, height))
        _, faces = self.detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        return [FaceBox(int(f[0]), int(f[1]), int(f[2]), int(f[3]), float(f[-1])) for f in faces]


class WholeImage:
    name = "none"

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        return [FaceBox(0, 0, rgb.shape[1], rgb.shape[0], 1.0)]


def create_detector(spec):
    """`haar`, `none`, the path of a YuNet .onnx file, or a detector of your own: any callable from an RGB uint8 array
    (H, W, 3) to a list of FaceBox."""
    if callable(spec):
        return spec
    if spec == "haar":
        return HaarDetector()
    if spec == "none":
        return WholeImage()
    if spec.endswith(".onnx"):
        return YuNetDetector(spec)
    raise ConfigError(f"--detector={spec}: use haar, none, or the path of a YuNet .onnx face detector")


def square_crop(photo: Image.Image, box: FaceBox, margin: float) -> Image.Image:
    """The square around the box's centre whose side is the box's longer side grown by `margin` on every side; the
    part outside the photo is black. `margin` is not applied to a whole-image box (the image is the crop)."""
    if (box.x, box.y, box.width, box.height) == (0, 0, photo.width, photo.height):
        return photo
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    centre_x, centre_y = box.x + box.width / 2.0, box.y + box.height / 2.0
    left, top = round(centre_x - side / 2.0), round(centre_y - side / 2.0)
    return photo.crop((left, top, left + round(side), top + round(side)))
