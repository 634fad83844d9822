"""Preparation and reading speed of a real-format data set, on this machine.

    python -m hmtl_jax.tools.benchmark data_pipeline [--photos 2000] [--threads 0] [--workers 0,2] [--image_size 224]
        [--batch_size 64] [--batches 40] [--augment weak] [--dir DIR]

Writes a sample AffectNet release (data_pipelines.sample_release: 300-500 px JPEG photos with a face box; not timed),
prepares it with `data_pipelines.prepare` (timed: photos/s, threads = --threads or all cores), then reads the prepared
train split through the training input pipeline (read, JPEG decode, augment, batch) with each number of Grain worker
processes in --workers and prints images/s. No accelerator work: this is what the host can feed a train step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from data_pipelines.prepare import prepare
from data_pipelines.sample_release import write_sample_affectnet
from hmtl_jax.config.defaults import base_config
from hmtl_jax.data.input_pipeline import create_train_iterator
from hmtl_jax.data.prepared import PreparedSource, open_prepared

WARMUP_BATCHES = 3


def _read_rate(source, workers: int, args) -> float:
    config = base_config()
    config.data.image_size = args.image_size
    config.batch_size = args.batch_size
    config.input.augment = args.augment
    config.input.worker_count = workers
    config.input.read_threads = args.read_threads
    epochs = 1 + (args.batches + WARMUP_BATCHES) * args.batch_size // len(source)
    iterator = create_train_iterator(source, config, num_epochs=epochs)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    started = time.perf_counter()
    for _ in range(args.batches):
        next(iterator)
    return args.batches * args.batch_size / (time.perf_counter() - started)


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.tools.benchmark data_pipeline", description=__doc__)
    parser.add_argument("--photos", type=int, default=2000, help="train photos (validation: a fifth as many)")
    parser.add_argument("--threads", type=int, default=0, help="preparation threads (0 = all cores)")
    parser.add_argument("--workers", default="0,2", help="Grain worker processes to compare, comma-separated")
    parser.add_argument("--read_threads", type=int, default=2, help="reading threads per worker (config.input)")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40, help="batches timed per setting")
    parser.add_argument("--augment", default="weak", choices=["none", "weak", "strong"])
    parser.add_argument("--dir", default="", help="work folder (default: a temporary one, removed at the end)")
    args = parser.parse_args(argv)

    root = args.dir or tempfile.mkdtemp(prefix="hmtl_data_pipeline_")
    try:
        started = time.perf_counter()
        write_sample_affectnet(os.path.join(root, "release"), args.photos, args.photos // 5)
        print(f"sample release: {args.photos + args.photos // 5} photos in {time.perf_counter() - started:.1f} s")
        threads = args.threads or os.cpu_count() or 1
        started = time.perf_counter()
        _, _, name = prepare(
            "affectnet", os.path.join(root, "release"), os.path.join(root, "prepared"), threads=threads, overwrite=True
        )
        prepare_seconds = time.perf_counter() - started
        source = PreparedSource(open_prepared(os.path.join(root, "prepared"), name), "train")
        rows = [
            (
                "prepare (crop, resize to <= 256 px, JPEG)",
                f"{threads} threads",
                (args.photos + args.photos // 5) / prepare_seconds,
            )
        ]
        for workers in (int(w) for w in args.workers.split(",")):
            rows.append(
                (
                    f"read + decode + {args.augment} augment + batch at {args.image_size} px",
                    f"{workers} workers x {args.read_threads} threads",
                    _read_rate(source, workers, args),
                )
            )
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\n{os.cpu_count()} CPU cores, {len(source)} prepared train records, batch {args.batch_size}\n")
    print(f"{'stage':<52} {'parallelism':<22} {'images/s':>10}")
    for stage, parallelism, rate in rows:
        print(f"{stage:<52} {parallelism:<22} {rate:>10,.0f}")
