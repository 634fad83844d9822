"""Prepare a real data set for training: read the release you downloaded, write ArrayRecord files with TFDS.

    python -m data_pipelines.prepare affectnet --manual_dir ~/data/AffectNet --data_dir ~/tensorflow_datasets
    python -m data_pipelines.prepare rafdb_basic --manual_dir ~/data/RAF-DB/basic --data_dir ~/tensorflow_datasets
    python -m data_pipelines.prepare celeba --manual_dir ~/data/CelebA --data_dir ~/tensorflow_datasets
    python -m data_pipelines.prepare pose_300w_lp --manual_dir ~/data/300W_LP --data_dir ~/tensorflow_datasets
    python -m data_pipelines.prepare pose_aflw2000 --manual_dir ~/data/AFLW2000 --data_dir ~/tensorflow_datasets
    python -m data_pipelines.prepare face_folder --manual_dir ~/data/my_faces --data_dir ~/tensorflow_datasets \
        --config my_faces

The layout of the manual folder is checked first; a wrong layout or CSV header stops at once, naming what was
expected. Bad records (missing, empty, truncated or non-image files, boxes outside the image, labels that are not
emotions) are skipped, never fatal. The end prints records written per split and class, and files skipped with the
reason; the same report is saved as preparation_report.json beside the records. Running the command again on a
prepared data set only prints that report (--overwrite prepares it again). Needs no TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import logging
import os
import shutil
import sys

import tensorflow_datasets as tfds

from data_pipelines.affectnet import Affectnet, Affectnet224
from data_pipelines.celeba import Celeba
from data_pipelines.face_folder import FaceFolder, face_folder_config
from data_pipelines.fer2013 import Fer2013, Ferplus
from data_pipelines.head_pose import Pose300wLp, PoseAflw2000
from data_pipelines.label_maps import NUMBERINGS
from data_pipelines.manual_builder import LayoutError, ManualBuilder
from data_pipelines.rafdb import RafdbBasic
from data_pipelines.report import REPORT_FILE, PreparationReport
from hmtl_jax.data.prepared import write_label_files
from hmtl_jax.data.sources import prepared_task

BUILDERS: dict[str, type[ManualBuilder]] = {
    b.name: b
    for b in (Affectnet, Affectnet224, RafdbBasic, Fer2013, Ferplus, FaceFolder, Celeba, Pose300wLp, PoseAflw2000)
}


def builder_config(
    dataset: str,
    manual_dir: str,
    config: str = "",
    crop_margin: float | None = None,
    max_size: int | None = None,
    numbering: str = "",
):
    """The TFDS builder config the options ask for (None for data sets without configs).

    A named config changed by --crop_margin or --max_size gets a name of its own (e.g. 8class_margin0.2_max320),
    so differently prepared copies never mix in one folder."""
    builder = BUILDERS[dataset]
    if crop_margin is not None and dataset != "affectnet":
        raise ValueError(f"--crop_margin is for affectnet's face boxes; {dataset} has none")
    if numbering and builder is not FaceFolder:
        raise ValueError("--numbering is for face_folder's numbered class folders")
    if builder is FaceFolder:
        name = (config or "default") + (f"_max{max_size}" if max_size else "")
        return face_folder_config(manual_dir, name, numbering, max_size or 0)
    if not builder.BUILDER_CONFIGS:
        if config or crop_margin is not None or max_size is not None:
            raise ValueError(f"{dataset} has no --config, --crop_margin or --max_size options")
        return None
    named = {c.name: c for c in builder.BUILDER_CONFIGS}
    base = named.get(config or builder.BUILDER_CONFIGS[0].name)
    if base is None:
        raise ValueError(f"--config {config!r}: {dataset} has configs {sorted(named)}")
    changes = {}
    if crop_margin is not None:
        if not 0.0 <= crop_margin <= 2.0:
            raise ValueError(f"--crop_margin {crop_margin} must be in [0, 2] (a fraction of the box size)")
        changes["crop_margin"] = crop_margin
    if max_size is not None:
        if max_size < 0:
            raise ValueError(f"--max_size {max_size} must be >= 0 (0 keeps the source size)")
        changes["max_size"] = max_size
    changes = {k: v for k, v in changes.items() if getattr(base, k) != v}
    if not changes:
        return base
    suffix = "".join(f"_{'margin' if k == 'crop_margin' else 'max'}{v:g}" for k, v in sorted(changes.items()))
    return dataclasses.replace(base, name=base.name + suffix, **changes)


def prepare(
    dataset: str,
    manual_dir: str,
    data_dir: str,
    *,
    config: str = "",
    crop_margin: float | None = None,
    max_size: int | None = None,
    numbering: str = "",
    threads: int = 0,
    overwrite: bool = False,
):
    """Prepare `dataset` (idempotent); return (report, path of the prepared version, full dataset name)."""
    if dataset not in BUILDERS:
        raise ValueError(f"unknown data set {dataset!r}; one of {sorted(BUILDERS)}")
    manual_dir = os.path.abspath(os.path.expanduser(manual_dir))
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    builder_cls = BUILDERS[dataset]
    builder_cls.check_manual_dir(manual_dir)
    chosen = builder_config(dataset, manual_dir, config, crop_margin, max_size, numbering)
    builder = builder_cls(config=chosen, data_dir=data_dir, file_format="array_record")
    if threads > 0:
        builder.threads = threads
    version_dir = os.fspath(builder.data_path)
    full_name = f"{dataset}/{chosen.name}" if chosen is not None else dataset
    if os.path.exists(os.path.join(version_dir, REPORT_FILE)) and not overwrite:
        logging.info("%s is already prepared in %s (--overwrite prepares it again)", full_name, version_dir)
        return PreparationReport.load(version_dir), version_dir, full_name
    # An earlier preparation killed half-way leaves TFDS's temporary folder behind; it is never reused.
    for stale in glob.glob(os.path.join(os.path.dirname(version_dir), f"incomplete.*_{builder.version}")):
        shutil.rmtree(stale, ignore_errors=True)
    # Always generate anew from here: records without a report (a run killed after TFDS finished) are not trusted.
    download_config = tfds.download.DownloadConfig(
        manual_dir=manual_dir, download_mode=tfds.download.GenerateMode.FORCE_REDOWNLOAD
    )
    builder.download_and_prepare(download_config=download_config)
    write_label_files(version_dir)
    builder.report.save(version_dir)  # last: its presence means the preparation finished
    return builder.report, version_dir, full_name


def _parser() -> argparse.ArgumentParser:
    layouts = "\n".join(f"{name}:\n{b.EXPECTED_LAYOUT}" for name, b in BUILDERS.items())
    parser = argparse.ArgumentParser(
        prog="python -m data_pipelines.prepare",
        description=__doc__.split("\n\n")[0],
        epilog="Expected layouts of --manual_dir:\n" + layouts,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(BUILDERS))
    parser.add_argument("--manual_dir", required=True, help="the folder of the release you downloaded")
    parser.add_argument("--data_dir", required=True, help="where prepared data sets go (config.data.data_dir)")
    parser.add_argument(
        "--config",
        default="",
        help="affectnet, affectnet_224: 8class (default) or 7class; "
        "face_folder: a name for this folder's data set (default: default)",
    )
    parser.add_argument(
        "--crop_margin",
        type=float,
        default=None,
        help="affectnet: grow the face box by this fraction on every side (default 0)",
    )
    parser.add_argument(
        "--max_size",
        type=int,
        default=None,
        help="shrink images whose longer side exceeds this (affectnet default 256; 0 = keep)",
    )
    parser.add_argument(
        "--numbering",
        default="",
        choices=["", *NUMBERINGS],
        help="face_folder with numbered class folders: whose label codes the numbers are",
    )
    parser.add_argument("--threads", type=int, default=0, help="image-reading threads (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="prepare again even if already prepared")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report, version_dir, full_name = prepare(
            args.dataset,
            args.manual_dir,
            args.data_dir,
            config=args.config,
            crop_margin=args.crop_margin,
            max_size=args.max_size,
            numbering=args.numbering,
            threads=args.threads,
            overwrite=args.overwrite,
        )
    except (LayoutError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    data_dir = os.path.abspath(os.path.expanduser(args.data_dir))
    task = prepared_task(full_name)
    print(
        f"\nPrepared in {version_dir}. Train on it with:\n"
        f"  --config.data.name={full_name} --config.data.data_dir={data_dir}"
        + ("" if task == "emotion" else f" --config.task={task}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
