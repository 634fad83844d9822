"""The training loop, top to bottom: `train_and_evaluate(config, workdir)`.

Rerunning the same command on the same workdir resumes from the latest checkpoint (parameters, optimiser,
step, PRNG key and the Grain iterator position), so a run that stopped, for any reason, continues as if it had not.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time

import jax
import ml_collections
import numpy as np
from PIL import Image

from hmtl_jax.runtime import sharding
from hmtl_jax.training import step as steps
from hmtl_jax.runtime.checkpointing import Checkpointer, abstract_with_shardings
from hmtl_jax.reporting.confusion_image import render_confusion_matrix
from hmtl_jax.data.input_pipeline import create_train_iterator, iterate_eval_batches
from hmtl_jax.data.sources import create_sources
from hmtl_jax.training.emotion_loss import class_weights_from_labels
from hmtl_jax.reporting.metric_writer import MetricWriter, ProgressReporter
from hmtl_jax.reporting.metrics import summarize_confusion
from hmtl_jax.training.nonfinite import NonFiniteGuard
from hmtl_jax.runtime.preemption import StopRequests
from hmtl_jax.reporting.pretext_grid import render_pretext_grid
from hmtl_jax.pretext.views import permutation_set
from hmtl_jax.config.validation import check_config, check_workdir, enable_compilation_cache
from hmtl_jax.training.jitted import TrainingProgram, build_training_program

log = logging.getLogger(__name__)


def evaluate(eval_step, state, source, config, mesh, class_names) -> tuple[dict[str, float], np.ndarray]:
    """Validation metrics over every record once: loss, accuracy, macro-F1, per-class accuracy; and the confusion."""
    collected = None
    for local_batch in iterate_eval_batches(source, config):
        update = eval_step(state, sharding.make_global_batch(local_batch, mesh))
        collected = update if collected is None else collected.merge(update)
    computed = collected.compute()
    confusion = computed["confusion"]
    return {"loss": float(computed["loss"]), **summarize_confusion(confusion, class_names)}, confusion


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
    """Train `config` in `workdir` (resuming if it holds a checkpoint); return the last validation metrics."""
    check_config(config)
    workdir = check_workdir(workdir)
    enable_compilation_cache(config.compilation_cache_dir)
    mesh = sharding.create_mesh()
    train_source, val_source, class_names = create_sources(config.data)

    steps_per_epoch = len(train_source) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_source)} train records do not fill one batch of {config.batch_size}")
    total_steps = steps_per_epoch * config.num_epochs
    eval_every = max(1, int(config.eval_every_epochs * steps_per_epoch))
    class_weights = None
    if config.loss.class_weights:
        class_weights = class_weights_from_labels(train_source.labels(), len(class_names))
        log.info("Class weights (largest class count / class count): %s",
                 ", ".join(f"{n} {w:.2f}" for n, w in zip(class_names, class_weights)))
    program = build_training_program(
        config, mesh, len(class_names), steps_per_epoch, class_weights, _saved_permutation_set(config, workdir)
    )

    train_iter = create_train_iterator(train_source, config, config.num_epochs)
    checkpointer = Checkpointer(workdir, every_steps=config.checkpoint_every_steps, max_to_keep=config.keep_checkpoints)
    state = checkpointer.restore(
        abstract_with_shardings(program.abstract_state, program.state_shardings), train_iter
    )
    if state is None:
        state = program.init(jax.random.key(config.seed))
        if jax.process_index() == 0:
            with open(os.path.join(workdir, "config.json"), "w") as f:
                f.write(config.to_json_best_effort(indent=2))
    start_step = int(state.step)

    train_step, eval_step, frozen = program.train_step, program.eval_step, program.frozen
    preview = _pretext_preview(config, program, val_source)

    writer = MetricWriter(workdir)
    progress = ProgressReporter(total_steps, config.batch_size)
    last_step = min(total_steps, config.stop_at_step) if config.stop_at_step > 0 else total_steps
    log.info(
        "Training %s on %s: %d steps (%d epochs x %d), global batch %d on %d devices, from step %d",
        config.model.name, config.data.name, total_steps, config.num_epochs, steps_per_epoch,
        config.batch_size, jax.device_count(), start_step,
    )
    guard = NonFiniteGuard(config.nonfinite, config.max_skipped_steps)
    pending = []  # (step, metrics, health) of the steps not yet checked for a non-finite loss
    train_metrics = None
    eval_summary: dict[str, float] = {}
    progress.start(start_step)
    try:
        with StopRequests() as stop:
            for step in range(start_step + 1, last_step + 1):
                fetch_started = time.perf_counter()
                local_batch = next(train_iter)  # the device keeps working on earlier steps meanwhile (async)
                progress.waited_for_input(time.perf_counter() - fetch_started)
                batch = sharding.make_global_batch(local_batch, mesh)
                state, step_metrics, health = train_step(state, batch, frozen)
                pending.append((step, step_metrics, health))
                if step == start_step + 1:
                    progress.start(step)  # the first step includes compilation: keep it out of the speed figures

                logging_now = step % config.log_every_steps == 0 or step == last_step
                evaluating = step % eval_every == 0 or step == total_steps
                stopping = stop.requested(step)
                saving = evaluating or stopping or step == last_step or checkpointer.due(step)
                if not (logging_now or saving):
                    continue
                # Reading the health flags waits for the device, so it happens only here: before anything is
                # logged or saved. A non-finite step never changed the state (see steps.train_step).
                for finite_metrics in guard.check(pending):
                    train_metrics = finite_metrics if train_metrics is None else train_metrics.merge(finite_metrics)
                pending = []
                if logging_now and train_metrics is not None:
                    scalars = {f"train/{k}": float(v) for k, v in train_metrics.compute().items()}
                    scalars["train/learning_rate"] = float(program.learning_rate(step))
                    scalars["train/skipped_steps"] = guard.skipped
                    scalars.update(progress.report(step, scalars))
                    writer.write_scalars(step, scalars)
                    train_metrics = None
                if evaluating:
                    eval_summary = run_evaluation(
                        eval_step, state, val_source, config, mesh, class_names, writer, step, workdir, total_steps)
                    if preview is not None:
                        write_pretext_preview(preview(state), writer, step, workdir)
                    progress.start(step)  # evaluation time is not training speed
                checkpointer.maybe_save(step, state, train_iter, force=saving)
                if stopping:
                    log.warning("Stopped at step %d of %d with a checkpoint: rerun the same command to continue",
                                step, total_steps)
                    break
    finally:
        checkpointer.close()  # waits for the last checkpoint write, also when leaving with an error
        writer.close()
    if start_step >= last_step:
        log.info("Nothing to train: the checkpoint in %s is already at step %d", workdir, start_step)
        return _latest_eval_summary(workdir)
    return eval_summary


def _saved_permutation_set(config: ml_collections.ConfigDict, workdir: str) -> np.ndarray | None:
    """The jigsaw permutation set, written to `<workdir>/jigsaw_permutations.txt` (one permutation of the row-major
    tile indices per line; line k is class k). A resumed run checks it still draws the same set."""
    perms = permutation_set(config)
    if perms is None:
        return None
    path = os.path.join(workdir, "jigsaw_permutations.txt")
    if os.path.exists(path):
        saved = np.loadtxt(path, dtype=np.int32, ndmin=2)
        if saved.shape != perms.shape or np.any(saved != perms):
            raise ValueError(
                f"{path} holds another permutation set than config.jigsaw asks for: the jigsaw head of this "
                "checkpoint was trained on those classes. Use a new --workdir, or the jigsaw settings of the run."
            )
    elif jax.process_index() == 0:
        np.savetxt(path, perms, fmt="%d")
    return perms


def _pretext_preview(config, program: TrainingProgram, val_source):
    """A function state -> preview arrays for the first `config.preview_images` validation faces, with fixed
    puzzles and masks so successive pictures are comparable; None when no pretext task is on."""
    count = min(config.preview_images, len(val_source))
    if not program.setup.pretext.active or count <= 0:
        return None
    images = jax.device_put(np.stack([val_source[i]["image"] for i in range(count)]))  # once, not per evaluation
    preview = jax.jit(functools.partial(steps.pretext_preview, graphdef=program.graphdef, setup=program.setup))
    key = jax.random.key(config.seed + 1)
    return lambda state: jax.device_get(preview(state, images, key))


def write_pretext_preview(arrays, writer: MetricWriter, step: int, workdir: str) -> None:
    picture = render_pretext_grid(arrays)
    writer.write_image(step, "train/pretext_views", picture)
    if jax.process_index() == 0:
        Image.fromarray(picture).save(os.path.join(workdir, "pretext_views.png"))


def _latest_eval_summary(workdir: str) -> dict[str, float]:
    """The metrics of the last evaluation this workdir recorded ({} if none)."""
    path = os.path.join(workdir, "eval_latest.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        saved = json.load(f)
    return {k: v for k, v in saved.items() if k not in ("step", "total_steps", "confusion")}


def run_evaluation(
    eval_step, state, source, config, mesh, class_names, writer, step, workdir, total_steps
) -> dict[str, float]:
    """Evaluate, log, and write eval_latest.json (with the run's total steps, so tools can tell a finished run)."""
    started = time.perf_counter()
    summary, confusion = evaluate(eval_step, state, source, config, mesh, class_names)
    writer.write_scalars(step, {f"val/{k}": v for k, v in summary.items()})
    image = render_confusion_matrix(confusion, class_names, title=f"validation, step {step}")
    writer.write_image(step, "val/confusion_matrix", image)
    writer.flush()
    if jax.process_index() == 0:
        Image.fromarray(image).save(os.path.join(workdir, "confusion_matrix.png"))
        with open(os.path.join(workdir, "eval_latest.json"), "w") as f:
            json.dump({"step": step, "total_steps": total_steps, **summary, "confusion": confusion.tolist()}, f,
                      indent=1)
    log.info(
        "eval at step %d: accuracy %.4f  macro-F1 %.4f  loss %.4f  (%d images, %.1f s)",
        step, summary["accuracy"], summary["macro_f1"], summary["loss"], len(source), time.perf_counter() - started,
    )
    return summary
