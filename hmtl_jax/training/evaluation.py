"""Evaluation on the validation (or held-out test) split: the metrics, and the record of them a run leaves in its
workdir."""

from __future__ import annotations

import json
import logging
import time

import jax
import numpy as np
from etils import epath

from hmtl_jax.data.input_pipeline import iterate_eval_batches
from hmtl_jax.reporting.confusion_image import render_confusion_matrix
from hmtl_jax.reporting.metric_writer import MetricWriter
from hmtl_jax.reporting.metrics import roc_auc, summarize_confusion, summarize_errors
from hmtl_jax.runtime import sharding, storage

log = logging.getLogger(__name__)

LATEST_FILE = "eval_latest.json"
# What each split's evaluation is called: (scalar prefix, latest-figures file, confusion picture).
SPLIT_RECORDS = {
    "validation": ("val", LATEST_FILE, "confusion_matrix.png"),
    "test": ("test", "test_latest.json", "test_confusion_matrix.png"),
}


def evaluate(eval_step, state, source, config, mesh, names) -> tuple[dict[str, float], np.ndarray | None]:
    """Metrics over every record once, and the confusion matrix (None for head pose). A classification: loss,
    accuracy, macro-F1, per-class accuracy (`names` are its classes) and, with two classes, ROC-AUC. Head pose: loss,
    mean absolute error of each angle (`names`) and their mean."""
    collected = None
    for local_batch in iterate_eval_batches(source, config):
        update = eval_step(state, sharding.make_global_batch(local_batch, mesh))
        collected = update if collected is None else collected.merge(update)
    computed = collected.compute()
    summary = {"loss": float(computed["loss"])}
    if "mean_absolute_errors" in computed:
        return summary | summarize_errors(computed["mean_absolute_errors"], names), None
    summary |= summarize_confusion(computed["confusion"], names)
    if "scores" in computed:
        summary["roc_auc"] = roc_auc(computed["scores"])
    return summary, computed["confusion"]


def headline(summary: dict[str, float]) -> str:
    """The figures a log line shows: `accuracy 0.8125  macro-F1 0.8031` (+ ROC-AUC) or the angles' errors."""
    if "mean_mae" in summary:
        angles = "  ".join(f"{key[:-4]} {value:.2f}" for key, value in summary.items() if key.endswith("_mae"))
        return f"MAE (degrees) {angles}"
    text = f"accuracy {summary['accuracy']:.4f}  macro-F1 {summary['macro_f1']:.4f}"
    return text + (f"  ROC-AUC {summary['roc_auc']:.4f}" if "roc_auc" in summary else "")


def evaluate_and_record(
    eval_step,
    state,
    source,
    config,
    mesh,
    names,
    writer: MetricWriter,
    step: int,
    workdir: epath.Path,
    total_steps: int,
    split: str = "validation",
) -> dict[str, float]:
    """`evaluate`, then log the metrics and the confusion picture (a classification), and write the split's
    latest-figures file (`eval_latest.json` for validation, with the run's total steps, so tools can tell a finished
    run)."""
    prefix, latest_file, picture = SPLIT_RECORDS[split]
    started = time.perf_counter()
    summary, confusion = evaluate(eval_step, state, source, config, mesh, names)
    writer.write_scalars(step, {f"{prefix}/{k}": v for k, v in summary.items()})
    latest = {"step": step, "total_steps": total_steps, **summary}
    image = None
    if confusion is not None:
        image = render_confusion_matrix(confusion, names, title=f"{split}, step {step}")
        writer.write_image(step, f"{prefix}/confusion_matrix", image)
        latest["confusion"] = confusion.tolist()
    writer.flush()
    if jax.process_index() == 0:
        if image is not None:
            storage.write_png(workdir / picture, image)
        storage.write_whole(workdir / latest_file, json.dumps(latest, indent=1))
    log.info(
        "%s at step %d: %s  loss %.4f  (%d images, %.1f s)", "eval" if split == "validation" else split, step,
        headline(summary), summary["loss"], len(source), time.perf_counter() - started,
    )  # fmt: skip
    return summary


def latest_eval_summary(workdir: epath.Path) -> dict[str, float]:
    """The metrics of the last evaluation this workdir recorded ({} if none)."""
    path = workdir / LATEST_FILE
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return {k: v for k, v in saved.items() if k not in ("step", "total_steps", "confusion")}
