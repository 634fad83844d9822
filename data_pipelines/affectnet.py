"""AffectNet, both releases: the official one (full photos, face boxes in CSVs) and the 224-px one (crops + .npy).

Labels are AffectNet's own expression codes, which are the canonical order: `8class` keeps 0-7, `7class` 0-6.
Codes 8-10 (None, Uncertain, No-Face) are not emotions and are skipped with that reason.
Valence and arousal are kept (NaN where missing), and the 68 landmarks in the pixel coordinates of the stored image
(NaN where the source has none).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from data_pipelines import image_files
from data_pipelines.label_maps import AFFECTNET_CODES, AFFECTNET_NON_EMOTION_CODES
from data_pipelines.manual_builder import (
    Candidate,
    ExpressionConfig,
    LayoutError,
    ManualBuilder,
    open_text,
    parse_float,
    require_columns,
    require_paths,
)
from data_pipelines.report import SkipRecord

NUM_LANDMARKS = 68
CSV_COLUMNS = [
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
]
CSV_FILES = {"train": "training.csv", "validation": "validation.csv"}
# Where the releases people have put things (the archive unpacks with or without these parent folders).
CSV_FOLDERS = ("", "Manually_Annotated_file_lists")
IMAGE_FOLDERS = ("Manually_Annotated_Images", os.path.join("Manually_Annotated", "Manually_Annotated_Images"))

OFFICIAL_LAYOUT = """  <manual_dir>/training.csv, validation.csv  (or in Manually_Annotated_file_lists/)
      columns: subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression,
      valence, arousal
  <manual_dir>/Manually_Annotated_Images/<subDirectory_filePath>  (or Manually_Annotated/Manually_Annotated_Images/)"""
RELEASE_224_LAYOUT = """  <manual_dir>/train_set/images/<id>.jpg
  <manual_dir>/train_set/annotations/<id>_exp.npy (and _val, _aro, _lnd .npy)
  <manual_dir>/val_set/images/<id>.jpg, val_set/annotations/<id>_exp.npy ..."""


def expression_label(code_text: str, num_classes: int) -> int:
    """The canonical label of an AffectNet expression code, or SkipRecord saying why it is not used."""
    try:
        number = float(code_text)
    except (ValueError, TypeError):
        raise SkipRecord(f"expression is not a number ({code_text!r})") from None
    if not number.is_integer():  # also inf and nan
        raise SkipRecord(f"expression is not a whole number ({code_text!r})")
    code = int(number)
    if code in AFFECTNET_NON_EMOTION_CODES:
        raise SkipRecord(f"expression {code} ({AFFECTNET_NON_EMOTION_CODES[code]}): not an emotion class")
    if code not in AFFECTNET_CODES:
        raise SkipRecord(f"unknown expression code {code}")
    if code >= num_classes:
        raise SkipRecord(f"expression {code} ({AFFECTNET_CODES[code]}): not in the {num_classes}-class set")
    return code  # AffectNet's codes are the canonical order


def _optional_float(text: str | None) -> np.float32:
    """Valence or arousal: a number, or NaN where the source has none (they are extras: the record is kept)."""
    try:
        return np.float32(float(text))
    except (ValueError, TypeError):
        return np.float32(np.nan)


def _nan_landmarks() -> np.ndarray:
    return np.full((NUM_LANDMARKS, 2), np.nan, np.float32)


def _parse_landmarks(text: str) -> np.ndarray:
    values = [v for v in text.replace(",", ";").split(";") if v.strip()]
    try:
        points = np.asarray(values, np.float32)
    except ValueError:
        return _nan_landmarks()
    return points.reshape(NUM_LANDMARKS, 2) if points.size == 2 * NUM_LANDMARKS else _nan_landmarks()


def _va_features() -> dict:
    return {
        "valence": tfds.features.Scalar(np.float32, doc="-1 (negative) to 1 (positive); NaN if missing"),
        "arousal": tfds.features.Scalar(np.float32, doc="-1 (calm) to 1 (excited); NaN if missing"),
        "landmarks": tfds.features.Tensor(
            shape=(NUM_LANDMARKS, 2),
            dtype=np.float32,
            doc="68 (x, y) points in the stored image's pixels; NaN if missing",
        ),
    }


@dataclasses.dataclass(eq=False)
class AffectNetConfig(ExpressionConfig):
    crop_margin: float = 0.0  # the face box grows by this fraction of its width/height on every side


class Affectnet(ManualBuilder):
    """AffectNet, official release: faces cropped from the full photos with the CSV's box (plus a margin)."""

    name = "affectnet"
    BUILDER_CONFIGS = [
        AffectNetConfig(name="8class", num_classes=8, max_size=256, description="expressions 0-7 (AffectNet-8)"),
        AffectNetConfig(name="7class", num_classes=7, max_size=256, description="expressions 0-6 (AffectNet-7)"),
    ]
    EXPECTED_LAYOUT = OFFICIAL_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Get AffectNet from its authors, unpack it, pass its folder:\n" + OFFICIAL_LAYOUT

    def extra_features(self) -> dict:
        return _va_features()

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        _find_images_folder(manual_dir)
        for split_file in CSV_FILES.values():
            path = _find_csv(manual_dir, split_file)
            with open_text(path) as f:
                header = next(csv.reader(f), [])
            if not _is_headerless(header):
                require_columns(path, header, CSV_COLUMNS, OFFICIAL_LAYOUT)

    def _candidates(self, manual_dir: str) -> dict:
        images = _find_images_folder(manual_dir)
        return {split: self._rows(_find_csv(manual_dir, name), images) for split, name in CSV_FILES.items()}

    def _rows(self, path: str, images: str):
        with open_text(path) as f:
            rows = csv.reader(f)
            header = next(rows, [])
            if _is_headerless(header):  # some copies of validation.csv lost their header row
                yield self._candidate(dict(zip(CSV_COLUMNS, header, strict=False)), images, path, 1)
            columns = CSV_COLUMNS if _is_headerless(header) else header
            for line, values in enumerate(rows, start=2):
                # A damaged row may be short: it keeps the fields it has, and _read_row skips it as malformed.
                yield self._candidate(dict(zip(columns, values, strict=False)), images, path, line)

    def _candidate(self, row: dict, images: str, csv_path: str, line: int) -> Candidate:
        name = row.get("subDirectory_filePath") or f"{os.path.basename(csv_path)}:{line}"
        return Candidate(name, functools.partial(self._read_row, row, images))

    def _read_row(self, row: dict, images: str) -> dict:
        if any(row.get(column) is None for column in CSV_COLUMNS):
            raise SkipRecord("CSV row has too few fields")
        config: AffectNetConfig = self.builder_config
        label = expression_label(row["expression"], config.num_classes)
        box = [parse_float(row[k], k) for k in ("face_x", "face_y", "face_width", "face_height")]
        data = image_files.read_bytes(images, row["subDirectory_filePath"])
        image = image_files.to_rgb(image_files.decode(data))
        face, origin = crop_face(image, box, config.crop_margin)
        stored = image_files.shrink(face, config.max_size)
        scale = np.asarray([stored.width / face.width, stored.height / face.height], np.float32)
        landmarks = (_parse_landmarks(row["facial_landmarks"]) - np.asarray(origin, np.float32)) * scale
        return {
            "image": image_files.encode_jpeg(stored),
            "label": label,
            "valence": _optional_float(row["valence"]),
            "arousal": _optional_float(row["arousal"]),
            "landmarks": landmarks.astype(np.float32),
        }


def crop_face(image: Image.Image, box: list[float], margin: float) -> tuple[Image.Image, tuple[int, int]]:
    """The box (x, y, width, height) grown by `margin` on every side and clipped to the image; and its top-left."""
    x, y, w, h = box
    if max(abs(v) for v in box) > 1e6:
        raise SkipRecord(f"face box ({x:g}, {y:g}, {w:g}, {h:g}) is not a box in a photo")
    if w <= 0 or h <= 0:
        raise SkipRecord(f"face box has no area (width {w:g}, height {h:g})")
    left = max(0, round(x - margin * w))
    top = max(0, round(y - margin * h))
    right = min(image.width, round(x + w + margin * w))
    bottom = min(image.height, round(y + h + margin * h))
    if right - left < 2 or bottom - top < 2:
        raise SkipRecord(f"face box ({x:g}, {y:g}, {w:g}, {h:g}) lies outside the {image.width}x{image.height} image")
    return image.crop((left, top, right, bottom)), (left, top)


def _is_headerless(first_row: list[str]) -> bool:
    return len(first_row) == len(CSV_COLUMNS) and "/" in first_row[0] and first_row[0] != CSV_COLUMNS[0]


def _find_csv(manual_dir: str, name: str) -> str:
    for folder in CSV_FOLDERS:
        path = os.path.join(manual_dir, folder, name)
        if os.path.isfile(path):
            return path
    tried = ", ".join(os.path.join(folder, name) for folder in CSV_FOLDERS)
    raise LayoutError(f"{manual_dir} has no {name} (looked for {tried}). Expected:\n{OFFICIAL_LAYOUT}")


def _find_images_folder(manual_dir: str) -> str:
    if not os.path.isdir(manual_dir):
        raise LayoutError(f"--manual_dir {manual_dir} is not a directory. Expected:\n{OFFICIAL_LAYOUT}")
    for folder in IMAGE_FOLDERS:
        path = os.path.join(manual_dir, folder)
        if os.path.isdir(path):
            return path
    raise LayoutError(f"{manual_dir} has no {' or '.join(IMAGE_FOLDERS)} folder. Expected:\n{OFFICIAL_LAYOUT}")


RELEASE_224_SPLITS = {"train": "train_set", "validation": "val_set"}


class Affectnet224(ManualBuilder):
    """AffectNet, 224 x 224 release: aligned crops with per-image .npy annotations (no face boxes)."""

    name = "affectnet_224"
    BUILDER_CONFIGS = [
        ExpressionConfig(name="8class", num_classes=8, description="expressions 0-7 (AffectNet-8)"),
        ExpressionConfig(name="7class", num_classes=7, description="expressions 0-6 (AffectNet-7)"),
    ]
    EXPECTED_LAYOUT = RELEASE_224_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Pass the folder that holds train_set/ and val_set/:\n" + RELEASE_224_LAYOUT

    def extra_features(self) -> dict:
        return _va_features()

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        expected = [os.path.join(s, sub) for s in RELEASE_224_SPLITS.values() for sub in ("images", "annotations")]
        require_paths(manual_dir, expected, RELEASE_224_LAYOUT)

    def _candidates(self, manual_dir: str) -> dict:
        return {split: self._images(os.path.join(manual_dir, folder)) for split, folder in RELEASE_224_SPLITS.items()}

    def _images(self, folder: str):
        images = os.path.join(folder, "images")
        for file_name in sorted(os.listdir(images)):
            stem = os.path.splitext(file_name)[0]
            read = functools.partial(self._read_image, folder, file_name, stem)
            yield Candidate(os.path.join(os.path.basename(folder), "images", file_name), read)

    def _read_image(self, folder: str, file_name: str, stem: str) -> dict:
        annotations = image_files.resolve_inside(folder, os.path.join("annotations", stem))
        expression = _load_npy_text(annotations + "_exp.npy")
        if expression is None:
            raise SkipRecord("no annotation file <id>_exp.npy")
        label = expression_label(expression, self.builder_config.num_classes)
        data = image_files.read_bytes(folder, os.path.join("images", file_name))
        jpeg, scale = image_files.load_rgb_jpeg(data, self.builder_config.max_size)
        landmarks = _load_npy_floats(annotations + "_lnd.npy")
        if landmarks is None or landmarks.size != 2 * NUM_LANDMARKS:
            landmarks = _nan_landmarks()
        return {
            "image": jpeg,
            "label": label,
            "valence": np.float32(_first_or_nan(_load_npy_floats(annotations + "_val.npy"))),
            "arousal": np.float32(_first_or_nan(_load_npy_floats(annotations + "_aro.npy"))),
            "landmarks": (landmarks.reshape(NUM_LANDMARKS, 2) * np.asarray(scale, np.float32)).astype(np.float32),
        }


def _load_npy_text(path: str) -> str | None:
    """The one value an annotation .npy holds, as text (the release stores numbers as strings)."""
    if not os.path.exists(path):
        return None
    try:
        values = np.load(path, allow_pickle=False).reshape(-1)
    except (ValueError, OSError, EOFError) as error:
        raise SkipRecord(f"unreadable annotation {os.path.basename(path)} ({error})") from None
    if values.size != 1:
        raise SkipRecord(f"{os.path.basename(path)} holds {values.size} values, expected 1")
    return str(values[0])


def _load_npy_floats(path: str) -> np.ndarray | None:
    """The numbers an annotation .npy holds: numbers, numeric strings, or one `;`-separated string."""
    if not os.path.exists(path):
        return None
    try:
        values = np.load(path, allow_pickle=False).reshape(-1)
        if values.dtype.kind in "US" and values.size == 1:
            values = np.asarray([v for v in str(values[0]).replace(",", ";").split(";") if v.strip()])
        return np.asarray(values, np.float32)
    except (ValueError, OSError, EOFError):
        return None


def _first_or_nan(values: np.ndarray | None) -> float:
    return float(values[0]) if values is not None and values.size >= 1 else float("nan")
