"""Finding faces in photos, and cropping them the way the training faces were framed.

Detectors (`create_detector`):
- `haar` (default): OpenCV's frontal-face Haar cascade, which ships inside opencv-python-headless 4.x (no download;
  OpenCV 5 dropped it, hence the pin). Fast, frontal faces only, misses some.
- `none`: the whole image is one face (already cropped faces, as AffectNet's and RAF-DB's aligned images).
- a path to OpenCV's YuNet face detector (`face_detection_yunet_2023mar.onnx` from the OpenCV model zoo), which
  finds turned and small faces far better; the user supplies the file.
"""

from __future__ import annotations

import dataclasses
import os

import cv2
import numpy as np
from PIL import Image

from hmtl_jax.errors import ConfigError, MissingFileError

# The face box grows by this fraction of its side on every side before the square crop, so that the crop frames
# the face as the training images did. Synthetic faces: Haar's box covers 64 % of a synthetic face image's side
# (mean over the 90 of 200 validation faces it finds alone, centred within 1 %), so 0.3 gives back the image.
# Other data sets: 0.2, a guess that was not measured (their crops come from other detectors and margins): pass
# --margin to match how your training faces were cropped.
MARGINS = {"synthetic_faces": 0.3}
DEFAULT_MARGIN = 0.2
HAAR_CASCADE = "haarcascade_frontalface_default.xml"


def default_margin(data_name: str) -> float:
    """The margin for faces of a model trained on `data_name` ('synthetic_faces', 'affectnet/8class', ...)."""
    return MARGINS.get(data_name.split("/")[0], DEFAULT_MARGIN)


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
    name = "haar"

    def __init__(self, min_size: int = 24):
        self.cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, HAAR_CASCADE))
        self.min_size = min_size

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        boxes, _, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True
        )
        return [FaceBox(*map(int, box), float(w)) for box, w in zip(boxes, np.ravel(weights), strict=True)]


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


def create_detector(spec: str):
    """`haar`, `none`, or the path of a YuNet .onnx file."""
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
