"""Command line: python -m hmtl_jax.evaluate --workdir=W (--dataset=NAME --data_dir=D [--split=S] | --folder=F)

Evaluates a workdir's model (newest checkpoint) on a data set `python -m data_pipelines.prepare` prepared, or on a
folder of face images laid out `<class>/<image>`: accuracy, macro-F1, per-class accuracy and the confusion matrix
(head pose: the mean absolute error of each angle), printed and written to `--output_dir` (default
`<workdir>/evaluations/<name>_<split>/`) as `metrics.json` and `confusion_matrix.png`.

Classes are matched by name, so a model of AffectNet's 8 classes can be tested on RAF-DB's 7: the data set's images
of a class the model does not know are left out and counted; the model's classes the data set lacks stay in the
matrix (predicting one is an error) and macro-F1 averages over the classes the data set has. Both are stated in the
output. Images go through the evaluation's preprocessing (hmtl_jax/data/augment.py, EvalPreprocess), as faces:
no detection. Exit status 0, or 2 with one line on stderr for a mistake in the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from tqdm import tqdm

from hmtl_jax.errors import ConfigError, UserError
from hmtl_jax.inference.labelled_faces import folder_records, prepared_records
from hmtl_jax.inference.predictor import Predictor
from hmtl_jax.reporting.confusion_image import render_confusion_matrix
from hmtl_jax.reporting.metrics import f1_scores, summarize_confusion, summarize_errors
from hmtl_jax.runtime import storage


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m hmtl_jax.evaluate", description=__doc__.split("\n\n")[1])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--step", type=int, default=None, help="the checkpoint of this step (default: the newest)")
    parser.add_argument("--dataset", default="", help="a prepared data set: affectnet/8class, rafdb_basic, ...")
    parser.add_argument("--data_dir", default="", help="where it was prepared (--data_dir of data_pipelines.prepare)")
    parser.add_argument("--split", default="test", help="the split of the prepared data set (default: test)")
    parser.add_argument("--folder", default="", help="or: a folder of face images in <class>/<image> folders")
    parser.add_argument("--output_dir", default="", help="default: <workdir>/evaluations/<name>_<split>")
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args(argv)
    if bool(args.dataset) == bool(args.folder):
        parser.error("give either --dataset (with --data_dir) or --folder")
    return args


def class_map(data_names: tuple[str, ...], model_names: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """(for each data set class, the model's class of the same name or -1; the data set's classes the model lacks)."""
    lookup = {name.lower(): index for index, name in enumerate(model_names)}
    mapping = np.array([lookup.get(name.lower(), -1) for name in data_names])
    return mapping, [name for name, index in zip(data_names, mapping, strict=True) if index < 0]


def evaluate(predictor: Predictor, records, data_names: tuple[str, ...], total: int, batch_size: int) -> dict:
    """The metrics of `predictor` on `records` (hmtl_jax/inference/labelled_faces.py)."""
    regression = predictor.regression
    mapping, unknown = (None, []) if regression else class_map(data_names, predictor.names)
    if not regression and len(unknown) == len(data_names):
        raise ConfigError(f"none of the data set's classes {list(data_names)} is one of the model's "
                          f"{list(predictor.names)}")  # fmt: skip
    n = len(predictor.names)
    confusion, errors, left_out, unreadable = np.zeros((n, n), np.int64), [], 0, {}
    images, labels = [], []

    def flush():
        if not images:
            return
        scores = predictor.scores(images)
        if regression:
            errors.extend(np.abs(scores - np.stack(labels)))
        else:
            np.add.at(confusion, (np.array(labels), np.argmax(scores, axis=-1)), 1)
        images.clear()
        labels.clear()

    for name, image, label, problem in tqdm(records, total=total, unit="img", desc="evaluate", file=sys.stderr,
                                            mininterval=1):  # fmt: skip
        if image is None:
            unreadable[name] = problem
            continue
        if not regression:
            label = int(mapping[int(label)])
            if label < 0:
                left_out += 1
                continue
        images.append(image)
        labels.append(label)
        if len(images) == batch_size:
            flush()
    flush()
    if not errors and not confusion.any():
        raise ConfigError(f"none of the {total} images could be evaluated (unreadable: {len(unreadable)}, of "
                          f"classes the model does not know: {left_out})")  # fmt: skip
    if regression:
        summary = summarize_errors(np.mean(errors, axis=0), predictor.names) | {"images": len(errors)}
        return {"summary": summary, "unreadable": unreadable}
    summary, absent = classification_summary(confusion, predictor.names)
    notes = []
    if unknown:
        notes.append(f"left out {left_out} images of classes the model does not know: {', '.join(unknown)}")
    if absent:
        notes.append(f"the data set has no images of {', '.join(absent)}: macro-F1 averages over the other "
                     f"{len(predictor.names) - len(absent)} classes; predicting {'/'.join(absent)} counts as an "
                     "error")  # fmt: skip
    return {"summary": summary, "confusion": confusion.tolist(), "notes": notes, "unreadable": unreadable}


def classification_summary(confusion: np.ndarray, names: tuple[str, ...]) -> tuple[dict[str, float], list[str]]:
    """(the figures, the model's classes the data has no image of): macro-F1 averages over the classes the data has,
    a prediction of an absent class counts as an error."""
    present = confusion.sum(axis=1) > 0
    summary = summarize_confusion(confusion, names)
    summary["macro_f1"] = float(f1_scores(confusion)[present].mean())
    summary["images"] = int(confusion.sum())
    return summary, [name for name, has in zip(names, present, strict=True) if not has]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        predictor = Predictor.from_workdir(args.workdir, step=args.step, detector="none", batch_size=args.batch_size)
        if args.folder:
            name, split = os.path.basename(os.path.normpath(args.folder)), "folder"
            records, total, data_names = folder_records(args.folder)
        else:
            name, split = args.dataset.replace("/", "_"), args.split
            records, total, data_names = prepared_records(args.data_dir, args.dataset, args.split, predictor.card.task)
        result = evaluate(predictor, records, data_names, total, args.batch_size)
    except UserError as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    # Beside the run by default, which may be in a bucket: written through the run's own path type.
    output_dir = storage.location(args.output_dir or f"{predictor.model.workdir}/evaluations/{name}_{split}")
    output_dir.mkdir(parents=True, exist_ok=True)
    result |= {"workdir": predictor.model.workdir, "step": predictor.card.step, "names": list(predictor.names),
               "evaluated": args.folder or f"{args.dataset}[{args.split}]"}  # fmt: skip
    storage.write_whole(output_dir / "metrics.json", json.dumps(result, indent=2))
    summary = result["summary"]
    print(f"{result['evaluated']}: {summary['images']} images, step {predictor.card.step} of {predictor.model.workdir}")
    for key, value in summary.items():
        if key != "images":
            print(f"  {key:28s} {value:.4f}")
    for note in result.get("notes", []):
        print(f"  note: {note}")
    if result["unreadable"]:
        print(f"  {len(result['unreadable'])} files could not be read (listed in metrics.json)")
    if "confusion" in result:
        title = f"{result['evaluated']}: accuracy {summary['accuracy']:.3f}, macro-F1 {summary['macro_f1']:.3f}"
        picture = render_confusion_matrix(np.array(result["confusion"]), predictor.names, title)
        storage.write_png(output_dir / "confusion_matrix.png", picture)
    print(f"Wrote {output_dir}/metrics.json" + (" and confusion_matrix.png" if "confusion" in result else ""))


if __name__ == "__main__":
    main()
