"""The jitted train and eval steps: pure functions of the state and one global batch, compiled for the mesh."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from hmtl_jax.models.from_config import supervised_outputs
from hmtl_jax.reporting.metrics import BinaryEvalMetrics, EvalMetrics, RegressionEvalMetrics, train_metrics_class
from hmtl_jax.supervised.head_pose import head_pose_losses
from hmtl_jax.supervised.tasks import is_regression
from hmtl_jax.training.multitask_loss import MultitaskSpec, loss_and_grads
from hmtl_jax.training.state import TrainState


def train_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    perceptual_params,
    *,
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    spec: MultitaskSpec,
):
    """One update. Returns (state, metrics, health).

    `health` = {'finite': whether the loss and every gradient were finite, 'loss': ..., each task's loss}. A step
    that is not finite changes nothing but the step counter: parameters, BatchNorm statistics and optimiser state
    stay as they were, so a NaN never enters the state (and never a checkpoint); the loop decides whether to stop."""
    rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    (loss, (logits, scalars, batch_stats)), grads = loss_and_grads(
        graphdef, state.params, state.batch_stats, batch, rng, perceptual_params, spec
    )
    finite = jnp.isfinite(loss) & jnp.all(jnp.stack([jnp.isfinite(g).all() for g in jax.tree.leaves(grads)]))
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    updated = state.replace(
        params=optax.apply_updates(state.params, updates), batch_stats=batch_stats, opt_state=opt_state
    )
    new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), updated, state)
    new_state = new_state.replace(step=state.step + 1)  # the batch is consumed either way
    metrics_class = train_metrics_class(spec.metric_names(), classification=not is_regression(spec.task))
    metrics = metrics_class.single_from_model_output(loss=loss, logits=logits, labels=batch["label"], **scalars)
    return new_state, metrics, {"finite": finite, "loss": loss, **scalars}


def eval_step(state: TrainState, batch: dict[str, jax.Array], *, graphdef: nnx.GraphDef, dtype, task: str):
    """Clean view, running BatchNorm statistics, no dropout, supervised head only; padded rows (mask 0) do not
    count. A classification's metrics (with a score histogram for ROC-AUC when it has two classes), or head pose's
    absolute errors."""
    logits = supervised_outputs(graphdef, state.params, state.batch_stats, batch["image"], dtype)
    if is_regression(task):
        per_example, errors = head_pose_losses(logits, batch["label"])
        return RegressionEvalMetrics.single_from_model_output(loss=per_example, errors=errors, mask=batch["mask"])
    per_example = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["label"])
    collection = BinaryEvalMetrics if logits.shape[-1] == 2 else EvalMetrics
    return collection.single_from_model_output(
        loss=per_example, logits=logits, labels=batch["label"], mask=batch["mask"]
    )


def jit_train_step(graphdef, tx, spec: MultitaskSpec, state_shardings, batch_sharding, perceptual_sharding=None):
    """`train_step(state, batch, perceptual_params)` compiled for the mesh: state in and out with its shardings,
    donated so it is updated in place; the perceptual network's weights replicated."""
    step = functools.partial(train_step, graphdef=graphdef, tx=tx, spec=spec)
    return jax.jit(
        step,
        in_shardings=(state_shardings, batch_sharding, perceptual_sharding),
        out_shardings=(state_shardings, None, None),
        donate_argnums=0,
    )


def jit_eval_step(graphdef, dtype, task, state_shardings, batch_sharding):
    return jax.jit(
        functools.partial(eval_step, graphdef=graphdef, dtype=dtype, task=task),
        in_shardings=(state_shardings, batch_sharding),
    )
