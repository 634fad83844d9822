"""Head pose data sets, in the usual protocol (Hopenet, 6DRepNet): train on 300W-LP, test on AFLW2000. Each image has
a MATLAB file beside it whose `Pose_Para` starts with pitch, yaw and roll in radians and whose `pt2d` holds the 2D
landmarks the face is cropped around. The TFDS catalog's `aflw2k3d` builder keeps the landmarks and drops the pose,
so these builders read the .mat files themselves.

Named pose_300w_lp and pose_aflw2000: TFDS's catalog has a `the300w_lp` of its own (other features), and two builders
of one name would share a folder under one --data_dir.

Stored label: (yaw, pitch, roll) in degrees, float32. Images with any angle beyond +-99 degrees are skipped and
counted, as the protocol excludes them (31 of AFLW2000's 2,000).
"""

from __future__ import annotations

import functools
import io
import math
import os

import numpy as np
import scipy.io
import tensorflow_datasets as tfds

from data_pipelines import image_files
from data_pipelines.manual_builder import Candidate, LayoutError, ManualBuilder
from data_pipelines.report import SkipRecord
from hmtl_jax.supervised.head_pose import LIMIT

# The landmarks' box grows by these fractions of its size before it is made square: the top more, as 2D landmarks end
# at the brows and the forehead is part of the head whose pose is asked.
MARGIN_SIDES, MARGIN_TOP, MARGIN_BOTTOM = 0.2, 0.4, 0.2
THE300W_LP_FOLDERS = ("AFW", "HELEN", "IBUG", "LFPW")  # and each one's _Flip copy (the mirrored faces)
THE300W_LP_LAYOUT = """  <manual_dir>/AFW/AFW_134212_1_0.jpg + AFW_134212_1_0.mat, HELEN/..., IBUG/..., LFPW/...
  <manual_dir>/AFW_Flip/..., HELEN_Flip/..., IBUG_Flip/..., LFPW_Flip/...   (the mirrored copies; optional)
  (each .mat holds Pose_Para, 1 x 7: pitch, yaw, roll in radians, ...; and pt2d, 2 x 68 landmarks;
   <manual_dir> is the release's 300W_LP/ folder, or the folder that holds it)"""
AFLW2000_LAYOUT = """  <manual_dir>/image00002.jpg + image00002.mat, ...   (2,000 pairs)
  (each .mat holds Pose_Para, 1 x 7: pitch, yaw, roll in radians, ...; and pt2d, 2 x 21 landmarks, -1 where unseen;
   <manual_dir> is the release's AFLW2000/ folder, or the folder that holds it)"""


class HeadPoseBuilder(ManualBuilder, skip_registration=True):
    """What both head pose builders share: the .mat reading, the pose label, the landmark crop, the exclusion."""

    @property
    def class_names(self) -> tuple[str, ...]:
        return ("faces",)  # no classes: the preparation report counts faces

    def label_feature(self):
        return tfds.features.Tensor(shape=(3,), dtype=np.float32)

    def report_class(self, label) -> int:
        return 0

    def _read(self, root: str, image_path: str) -> dict:
        mat_path = os.path.splitext(image_path)[0] + ".mat"
        pose_parameters, landmarks = _read_mat(root, mat_path)
        pitch, yaw, roll = (math.degrees(value) for value in pose_parameters[:3])
        for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll)):
            if abs(value) > LIMIT:
                raise SkipRecord(f"{name} beyond +-{LIMIT:g} degrees (excluded by the protocol)")
        image = image_files.to_rgb(image_files.decode(image_files.read_bytes(root, image_path)))
        face = image.crop(landmark_box(landmarks, image.size))
        return {"image": image_files.encode_jpeg(face), "label": np.array([yaw, pitch, roll], np.float32)}


def _read_mat(root: str, relative: str) -> tuple[np.ndarray, np.ndarray]:
    """(Pose_Para's first three values, landmarks (2, N)) of the .mat file `root/relative`."""
    try:
        data = image_files.read_bytes(root, relative)
    except SkipRecord:
        raise SkipRecord(f"no readable {os.path.basename(relative)} beside the image") from None
    try:
        mat = scipy.io.loadmat(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - scipy raises many kinds for a damaged file
        raise SkipRecord(f"{os.path.basename(relative)} is not a MATLAB file ({type(error).__name__})") from None
    pose, landmarks = mat.get("Pose_Para"), mat.get("pt2d")
    if pose is None or np.size(pose) < 3 or landmarks is None or np.shape(landmarks)[0] != 2:
        raise SkipRecord(f"{os.path.basename(relative)} lacks Pose_Para (>= 3 values) or pt2d (2 x N)")
    pose = np.asarray(pose, np.float64).ravel()[:3]
    if not np.all(np.isfinite(pose)):
        raise SkipRecord(f"{os.path.basename(relative)}: Pose_Para is not finite")
    return pose, np.asarray(landmarks, np.float64)


def landmark_box(landmarks: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The square crop (left, top, right, bottom) around the visible landmarks (AFLW2000 marks unseen ones -1), grown
    by the margins; it may reach past the image, whose outside Pillow fills black, so the face stays centred."""
    visible = landmarks[:, np.all(np.isfinite(landmarks) & (landmarks >= 0), axis=0)]
    if visible.shape[1] < 2:
        raise SkipRecord("fewer than 2 visible landmarks in pt2d: no face to crop")
    (x0, y0), (x1, y1) = visible.min(axis=1), visible.max(axis=1)
    width, height = x1 - x0, y1 - y0
    left, right = x0 - MARGIN_SIDES * width, x1 + MARGIN_SIDES * width
    top, bottom = y0 - MARGIN_TOP * height, y1 + MARGIN_BOTTOM * height
    side = max(right - left, bottom - top, 2.0)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    if not (0 <= centre_x <= size[0] and 0 <= centre_y <= size[1]):
        raise SkipRecord(f"the landmarks lie outside the {size[0]}x{size[1]} image")
    box = (centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2)
    return tuple(int(round(v)) for v in box)


def _images(root: str, folder: str):
    """The .jpg files of `root/folder`, sorted, as paths relative to `root`."""
    names = sorted(n for n in os.listdir(os.path.join(root, folder)) if n.lower().endswith(".jpg"))
    return [os.path.join(folder, name) if folder else name for name in names]


def _release_root(manual_dir: str, nested: str, marker, layout: str) -> str:
    if not os.path.isdir(manual_dir):
        raise LayoutError(f"--manual_dir {manual_dir} is not a directory. Expected:\n{layout}")
    for root in (manual_dir, os.path.join(manual_dir, nested)):
        if os.path.isdir(root) and marker(root):
            return root
    raise LayoutError(f"{manual_dir} is not laid out as the release. Expected:\n{layout}")


class Pose300wLp(HeadPoseBuilder):
    """300W-LP: 122,450 faces of 300W (AFW, HELEN, IBUG, LFPW) rendered at large yaws by 3D face fitting, half of them
    mirrored; the training set of the head pose protocol. One split, train."""

    name = "pose_300w_lp"
    EXPECTED_LAYOUT = THE300W_LP_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Download 300W-LP from its authors (Zhu et al., 3DDFA) and pass its folder:\n" + (
        THE300W_LP_LAYOUT
    )

    @classmethod
    def _root(cls, manual_dir: str) -> str:
        return _release_root(
            manual_dir, "300W_LP", lambda root: os.path.isdir(os.path.join(root, "AFW")), THE300W_LP_LAYOUT
        )

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        root = cls._root(manual_dir)
        missing = [f for f in THE300W_LP_FOLDERS if not os.path.isdir(os.path.join(root, f))]
        if missing:
            raise LayoutError(f"{root} lacks {', '.join(missing)}. Expected:\n{THE300W_LP_LAYOUT}")

    def _candidates(self, manual_dir: str) -> dict:
        root = self._root(manual_dir)
        folders = [f for base in THE300W_LP_FOLDERS for f in (base, f"{base}_Flip")]
        paths = [p for f in folders if os.path.isdir(os.path.join(root, f)) for p in _images(root, f)]
        return {"train": (Candidate(p, functools.partial(self._read, root, p)) for p in paths)}


class PoseAflw2000(HeadPoseBuilder):
    """AFLW2000-3D: the first 2,000 faces of AFLW with 3D-fitted pose; the test set of the head pose protocol. One
    split, test."""

    name = "pose_aflw2000"
    EXPECTED_LAYOUT = AFLW2000_LAYOUT
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download AFLW2000-3D from its authors (Zhu et al., 3DDFA) and pass its folder:\n" + (AFLW2000_LAYOUT)
    )

    @classmethod
    def _root(cls, manual_dir: str) -> str:
        def has_pairs(root: str) -> bool:
            return any(n.lower().endswith(".mat") for n in os.listdir(root))

        return _release_root(manual_dir, "AFLW2000", has_pairs, AFLW2000_LAYOUT)

    @classmethod
    def check_manual_dir(cls, manual_dir: str) -> None:
        cls._root(manual_dir)

    def _candidates(self, manual_dir: str) -> dict:
        root = self._root(manual_dir)
        return {"test": (Candidate(p, functools.partial(self._read, root, p)) for p in _images(root, ""))}
