"""What `python -m hmtl_jax.predict` reads: image files, folders of them (recursively), and videos, as RGB photos
with EXIF rotation applied and huge images scaled down, or the one-line reason a file cannot be read."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import cv2
from PIL import Image, ImageOps

from hmtl_jax.data.image_decoding import UnreadableImage, load, open_image, shrink, to_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
# Photos are scaled down to this longer side before detection and cropping: faces of a few hundred pixels are more
# than a 224-px model sees, and memory stays bounded (a 12,000 x 9,000 photo would take 324 MB in RGB).
MAX_SIDE = 1600


@dataclasses.dataclass
class Photo:
    """One image to look for faces in: a file, or a frame of a video (`frame` its index, `seconds` its time)."""

    source: str
    image: Image.Image | None  # None when it could not be read
    problem: str = ""
    frame: int | None = None
    seconds: float | None = None
    scale: float = 1.0  # the file's pixels per pixel of `image` (> 1 when a huge photo was scaled down)


def list_inputs(paths: list[str]) -> tuple[list[str], list[Photo]]:
    """(files to read, in order: images and videos named or found in folders, recursively, sorted; problems with the
    paths themselves: missing, or a file of an unknown kind)."""
    files, problems = [], []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files += [
                    os.path.join(root, n) for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES + VIDEO_SUFFIXES)
                ]
        elif os.path.isfile(path):
            files.append(path)
        else:
            problems.append(Photo(path, None, "no such file or directory"))
    return files, problems


def is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_SUFFIXES)


def read_photo(path: str) -> Photo:
    """The image file at `path` in RGB, upright (EXIF orientation applied), at most MAX_SIDE pixels a side."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        image = open_image(data)
        longer = max(image.size)
        if image.format == "JPEG":  # decode a big JPEG at a reduced size directly (DCT scaling): less memory
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
        image = shrink(to_rgb(ImageOps.exif_transpose(load(image))), MAX_SIDE)
        return Photo(path, image, scale=longer / max(image.size))
    except UnreadableImage as error:
        return Photo(path, None, str(error))
    except OSError as error:
        return Photo(path, None, f"cannot be read ({error.strerror or error})")


def video_frame_count(path: str) -> int:
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    return max(count, 0)


def read_video(path: str, every_seconds: float) -> Iterator[Photo]:
    """A frame every `every_seconds` (every frame at 0), or one Photo with the problem when the file cannot be read
    as a video."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        yield Photo(path, None, "not a video OpenCV can read")
        return
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    stride = max(1, round(every_seconds * fps))
    index, read_any = 0, False
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            read_any = True
            if index % stride == 0:
                rgb = shrink(Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)), MAX_SIDE)
                yield Photo(path, rgb, frame=index, seconds=round(index / fps, 3), scale=frame.shape[1] / rgb.width)
            index += 1
    finally:
        capture.release()
    if not read_any:
        yield Photo(path, None, "no frame could be decoded")
