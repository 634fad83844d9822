"""Prediction speed on this machine: face detection and classification separately, and their shares of the wall time
of a folder of photos.

    python -m hmtl_jax.tools.benchmark predict [--photos 60] [--models efficientnet_b0:224,resnet_tiny:64]
        [--batch_size 32] [--workdir W]

For each model (`name:image size`) a workdir with freshly initialised weights is written (speed does not depend on
the weights; --workdir times a trained run instead). Photos: 640 x 480 with two synthetic faces each
(hmtl_jax/data/synthetic/photos.py), saved as JPEG files and read back. Then, per model: detection alone (OpenCV's
Haar cascade, photos/s), classification alone (faces/s through the Predictor's preprocessing and jitted model,
compiled before timing), and the photos one after another as `python -m hmtl_jax.predict` handles them, with each
stage's share of that wall time. First, Haar alone at each of --haar_sides (the longer side of the copy it looks at;
the default is 480): photos/s and faces found.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

from hmtl_jax.config.defaults import base_config
from hmtl_jax.data.affectnet_labels import CLASS_NAMES
from hmtl_jax.data.synthetic.photos import synthetic_photos
from hmtl_jax.inference import Predictor
from hmtl_jax.inference.faces import HaarDetector
from hmtl_jax.inference.photos import read_photo
from hmtl_jax.runtime import sharding, storage
from hmtl_jax.runtime.workdir import RunRecord
from hmtl_jax.training.jitted import jit_training


def untrained_workdir(root: str, model_name: str, image_size: int) -> str:
    """A workdir as training leaves it (its record and a checkpoint), with freshly initialised weights."""
    config = base_config()
    config.model.name, config.data.image_size = model_name, image_size
    workdir = os.path.join(root, f"{model_name}_{image_size}")
    os.makedirs(workdir)
    record = RunRecord(storage.location(workdir), config)
    record.check_data(0, 0, CLASS_NAMES)
    record.write()
    jitted = jit_training(config, sharding.create_mesh(jax.devices()[:1]), len(CLASS_NAMES), 1, None, None)
    with ocp.CheckpointManager(os.path.join(workdir, "checkpoints")) as manager:
        manager.save(0, args=ocp.args.Composite(state=ocp.args.StandardSave(jitted.init(jax.random.key(0)))))
    return workdir


def measure(predictor: Predictor, files: list[str]) -> dict[str, float]:
    photos = [read_photo(path).image for path in files]
    started = time.perf_counter()
    boxes = [predictor.detect(photo) for photo in photos]
    detection = time.perf_counter() - started
    crops = [predictor.crop(photo, box) for photo, found in zip(photos, boxes, strict=True) for box in found]
    predictor.scores(crops[: predictor.batch_size])  # compile for the batch shape
    started = time.perf_counter()
    predictor.scores(crops)
    classification = time.perf_counter() - started
    # As the command runs: read, detect, crop, classify (in batches across photos).
    stages = {"read": 0.0, "detect": 0.0, "crop": 0.0, "classify": 0.0}
    pending = []
    started = time.perf_counter()
    for path in files:
        clock = time.perf_counter()
        photo = read_photo(path).image
        stages["read"] += time.perf_counter() - clock
        clock = time.perf_counter()
        found = predictor.detect(photo)
        stages["detect"] += time.perf_counter() - clock
        clock = time.perf_counter()
        pending += [predictor.crop(photo, box) for box in found]
        stages["crop"] += time.perf_counter() - clock
        if len(pending) >= predictor.batch_size or path == files[-1]:
            clock = time.perf_counter()
            predictor.scores(pending)
            stages["classify"] += time.perf_counter() - clock
            pending = []
    wall = time.perf_counter() - started
    return {
        "detect_photos_per_s": len(photos) / detection,
        "faces": len(crops),
        "classify_faces_per_s": len(crops) / classification,
        "photos_per_s": len(files) / wall,
        **{f"share_{name}": value / wall for name, value in stages.items()},
    }


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.tools.benchmark predict", description=__doc__)
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--models", default="efficientnet_b0:224,resnet_tiny:64")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--workdir", default="", help="time this trained run instead of --models")
    parser.add_argument("--haar_sides", default="640,480,320", help="Haar's working copy sizes to compare")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        files = []
        for index, (photo, _) in enumerate(synthetic_photos("test", args.photos)):
            files.append(os.path.join(root, f"photo_{index:04d}.jpg"))
            photo.save(files[-1], quality=90)
        if args.workdir:
            workdirs = [args.workdir]
        else:
            specs = [spec.split(":") for spec in args.models.split(",")]
            workdirs = [untrained_workdir(root, name, int(size)) for name, size in specs]
        print(f"{len(files)} photos of 640 x 480 (JPEG), {jax.devices()[0].platform}, {os.cpu_count()} cores, "
              f"batch {args.batch_size}")  # fmt: skip
        photos = [read_photo(path).image for path in files]
        print("Haar working side   photos/s   faces found")
        for side in (int(v) for v in args.haar_sides.split(",")):
            detector = HaarDetector(side)
            started = time.perf_counter()
            found = sum(len(detector(np.asarray(photo))) for photo in photos)
            print(f"{side:17d} {len(photos) / (time.perf_counter() - started):10.1f} {found:13d}", flush=True)
        header = "model                px  detect photos/s  classify faces/s  photos/s  read  detect  crop  classify"
        print(header)
        for workdir in workdirs:
            predictor = Predictor.from_workdir(workdir, batch_size=args.batch_size)
            figures = measure(predictor, files)
            card = predictor.card
            print(f"{card.model_name:18s} {card.image_size:4d} {figures['detect_photos_per_s']:16.1f} "
                  f"{figures['classify_faces_per_s']:17.1f} {figures['photos_per_s']:9.1f} "
                  + "  ".join(f"{100 * figures[f'share_{s}']:4.0f}%" for s in ("read", "detect", "crop", "classify"))
                  + f"   ({figures['faces']} faces)", flush=True)  # fmt: skip
