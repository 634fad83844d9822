"""Evaluation on the validation (or held-out test) split: the metrics, and the record of them a run leaves in its
workdir."""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np
from PIL import Image

from hmtl_jax.data.input_pipeline import iterate_eval_batches
from hmtl_jax.reporting.confusion_image import render_confusion_matrix
from hmtl_jax.reporting.metric_writer import MetricWriter
from hmtl_jax.reporting.metrics import summarize_confusion
from hmtl_jax.runtime import sharding

log = logging.getLogger(__name__)

LATEST_FILE = "eval_latest.json"
# What each split's evaluation is called: (scalar prefix, latest-figures file, confusion picture).
SPLIT_RECORDS = {
    "validation": ("val", LATEST_FILE, "confusion_matrix.png"),
    "test": ("test", "test_latest.json", "test_confusion_matrix.png"),
}


def evaluate(eval_step, state, source, config, mesh, class_names) -> tuple[dict[str, float], np.ndarray]:
    """Validation metrics over every record once: loss, accuracy, macro-F1, per-class accuracy; and the confusion."""
    collected = None
    for local_batch in iterate_eval_batches(source, config):
        update = eval_step(state, sharding.make_global_batch(local_batch, mesh))
        collected = update if collected is None else collected.merge(update)
    computed = collected.compute()
    confusion = computed["confusion"]
    return {"loss": float(computed["loss"]), **summarize_confusion(confusion, class_names)}, confusion


def evaluate_and_record(
    eval_step,
    state,
    source,
    config,
    mesh,
    class_names,
    writer: MetricWriter,
    step: int,
    workdir: str,
    total_steps: int,
    split: str = "validation",
) -> dict[str, float]:
    """`evaluate`, then log the metrics and the confusion picture, and write the split's latest-figures file
    (`eval_latest.json` for validation, with the run's total steps, so tools can tell a finished run)."""
    prefix, latest_file, picture = SPLIT_RECORDS[split]
    started = time.perf_counter()
    summary, confusion = evaluate(eval_step, state, source, config, mesh, class_names)
    writer.write_scalars(step, {f"{prefix}/{k}": v for k, v in summary.items()})
    image = render_confusion_matrix(confusion, class_names, title=f"{split}, step {step}")
    writer.write_image(step, f"{prefix}/confusion_matrix", image)
    writer.flush()
    if jax.process_index() == 0:
        Image.fromarray(image).save(os.path.join(workdir, picture))
        with open(os.path.join(workdir, latest_file), "w") as f:
            json.dump(
                {"step": step, "total_steps": total_steps, **summary, "confusion": confusion.tolist()}, f, indent=1
            )
    log.info(
        "%s at step %d: accuracy %.4f  macro-F1 %.4f  loss %.4f  (%d images, %.1f s)",
        "eval" if split == "validation" else split, step, summary["accuracy"], summary["macro_f1"], summary["loss"],
        len(source), time.perf_counter() - started,
    )  # fmt: skip
    return summary


def latest_eval_summary(workdir: str) -> dict[str, float]:
    """The metrics of the last evaluation this workdir recorded ({} if none)."""
    path = os.path.join(workdir, LATEST_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        saved = json.load(f)
    return {k: v for k, v in saved.items() if k not in ("step", "total_steps", "confusion")}
