"""The training loop, top to bottom: `train_and_evaluate(config, workdir)`.

Rerunning the same command on the same workdir resumes from the latest checkpoint (parameters, optimiser,
step, PRNG key and the Grain iterator position), so a run that stopped, for any reason, continues as if it had not.
"""

from __future__ import annotations

import logging
import time

import jax
import ml_collections

from hmtl_jax.config.validation import check_config
from hmtl_jax.data.input_pipeline import create_train_iterator
from hmtl_jax.data.sources import create_sources, create_test_source, warn_about_classes_missing_in_train
from hmtl_jax.errors import ConfigError
from hmtl_jax.pretext.permutation_set import workdir_permutation_set
from hmtl_jax.reporting.metric_writer import MetricWriter, ProgressReporter
from hmtl_jax.runtime import sharding
from hmtl_jax.runtime.checkpointing import (
    Checkpointer,
    abstract_with_shardings,
    initialise_from,
    initialise_from_imagenet,
)
from hmtl_jax.runtime.compilation_cache import enable_compilation_cache
from hmtl_jax.runtime.preemption import StopRequests
from hmtl_jax.runtime.workdir import RunRecord, prepare_workdir
from hmtl_jax.supervised.tasks import is_regression, output_size
from hmtl_jax.training.emotion_loss import class_weights_from_labels
from hmtl_jax.training.evaluation import evaluate_and_record, latest_eval_summary
from hmtl_jax.training.jitted import jit_training
from hmtl_jax.training.nonfinite import NonFiniteGuard
from hmtl_jax.training.preview import create_preview, write_preview

log = logging.getLogger(__name__)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
    """Train `config` in `workdir` (resuming if it holds a checkpoint); return the last validation metrics."""
    check_config(config)
    workdir = prepare_workdir(workdir)
    record = RunRecord(workdir, config)
    record.check_config()  # before anything expensive: a rerun with other settings is refused here
    enable_compilation_cache(config.compilation_cache_dir)
    mesh = sharding.create_mesh()
    # class_names: what the supervised head predicts (the classes, or head pose's angles).
    train_source, val_source, class_names = create_sources(config.data, config.task)
    record.check_data(len(train_source), len(val_source), class_names)
    test_source = create_test_source(config.data, config.task)
    if not is_regression(config.task):
        warn_about_classes_missing_in_train(train_source.labels(), val_source.labels(), class_names)

    steps_per_epoch = len(train_source) // config.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(f"{len(train_source)} train records do not fill one batch of {config.batch_size}")
    total_steps = steps_per_epoch * config.num_epochs
    eval_every = max(1, int(config.eval_every_epochs * steps_per_epoch))
    class_weights = None
    if config.loss.class_weights:
        class_weights = class_weights_from_labels(train_source.labels(), class_names)
        log.info(
            "Class weights (largest class count / class count): %s",
            ", ".join(f"{n} {w:.2f}" for n, w in zip(class_names, class_weights, strict=True)),
        )
    jitted = jit_training(
        config,
        mesh,
        output_size(config.task, class_names),
        steps_per_epoch,
        class_weights,
        workdir_permutation_set(config, workdir),
    )

    train_iter = create_train_iterator(train_source, config, config.num_epochs)
    checkpointer = Checkpointer(workdir, every_steps=config.checkpoint_every_steps, max_to_keep=config.keep_checkpoints)
    state = checkpointer.restore(abstract_with_shardings(jitted.abstract_state, jitted.state_shardings), train_iter)
    if state is None:
        state = jitted.init(jax.random.key(config.seed))
        if config.init_from:
            state, _, _ = initialise_from(config.init_from, state)
        elif config.model.imagenet_weights:
            state = initialise_from_imagenet(config.model.imagenet_weights, state, jitted.graphdef)
    record.write()
    start_step = int(state.step)

    train_step, eval_step, perceptual_params = jitted.train_step, jitted.eval_step, jitted.perceptual_params
    preview = create_preview(config, jitted, val_source)

    writer = MetricWriter(workdir)
    progress = ProgressReporter(total_steps, config.batch_size, bar=config.progress_bar)
    last_step = min(total_steps, config.stop_at_step) if config.stop_at_step > 0 else total_steps
    guard = NonFiniteGuard(config.nonfinite, config.max_skipped_steps)
    pending = []  # (step, metrics, health) of the steps not yet checked for a non-finite loss
    train_metrics = None
    eval_summary: dict[str, float] = {}
    progress.start(start_step)
    try:
        with StopRequests() as stop:
            # Logged with the handlers installed: a Ctrl-C after this line is always a stop request.
            log.info(
                "Training %s on %s: %d steps (%d epochs x %d), global batch %d on %d devices, from step %d",
                config.model.name,
                config.data.name,
                total_steps,
                config.num_epochs,
                steps_per_epoch,
                config.batch_size,
                jax.device_count(),
                start_step,
            )
            for step in range(start_step + 1, last_step + 1):
                fetch_started = time.perf_counter()
                local_batch = next(train_iter)  # the device keeps working on earlier steps meanwhile (async)
                progress.waited_for_input(time.perf_counter() - fetch_started)
                batch = sharding.make_global_batch(local_batch, mesh)
                state, step_metrics, health = train_step(state, batch, perceptual_params)
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
                # logged or saved. A non-finite step never changed the state (see training.step.train_step).
                for finite_metrics in guard.check(pending):
                    train_metrics = finite_metrics if train_metrics is None else train_metrics.merge(finite_metrics)
                pending = []
                if logging_now and train_metrics is not None:
                    scalars = {f"train/{k}": float(v) for k, v in train_metrics.compute().items()}
                    scalars["train/learning_rate"] = float(jitted.learning_rate(step))
                    scalars["train/skipped_steps"] = guard.skipped
                    scalars.update(progress.report(step, scalars))
                    writer.write_scalars(step, scalars)
                    train_metrics = None
                if evaluating:
                    eval_summary = evaluate_and_record(
                        eval_step, state, val_source, config, mesh, class_names, writer, step, workdir, total_steps
                    )
                    if preview is not None:
                        write_preview(preview(state), writer, step, workdir)
                    if step == total_steps and test_source is not None:
                        # Once, on the final state: figures to report, never to choose settings by.
                        evaluate_and_record(
                            eval_step, state, test_source, config, mesh, class_names, writer, step, workdir,
                            total_steps, split="test",
                        )  # fmt: skip
                    progress.start(step)  # evaluation time is not training speed
                checkpointer.maybe_save(step, state, train_iter, force=saving)
                if stopping:
                    log.warning(
                        "Stopped at step %d of %d with a checkpoint: rerun the same command to continue",
                        step,
                        total_steps,
                    )
                    break
    finally:
        checkpointer.close()  # waits for the last checkpoint write, also when leaving with an error
        writer.close()
        progress.close()
    if start_step >= last_step:
        log.info("Nothing to train: the checkpoint in %s is already at step %d", workdir, start_step)
        return latest_eval_summary(workdir)
    return eval_summary
