"""The jitted train and eval steps (pure functions of the state and one global batch).

Under a batch-sharded jit, every reduction in here (BatchNorm's batch statistics, the mean loss) is over the
global batch: XLA inserts the cross-device collectives, so the math is the one-device math.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from hmtl_jax.losses import emotion_loss
from hmtl_jax.metrics import EvalMetrics, TrainMetrics
from hmtl_jax.train_state import TrainState


def to_model_input(images: jax.Array, dtype) -> jax.Array:
    """uint8 pixels (what crosses host->device, 4x smaller than float) -> [0, 1] as the paper's code."""
    return images.astype(dtype) / 255.0


def loss_and_grads(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    batch_stats: nnx.State,
    batch: dict[str, jax.Array],
    rng: jax.Array,
    *,
    dtype,
    class_weights: jax.Array | None,
    label_smoothing: float,
):
    """(loss, (logits, new_batch_stats)), grads with respect to `params`."""

    def loss_fn(params):
        # copy=True: fresh Variables at this trace level, which BatchNorm may then update.
        model = nnx.merge(graphdef, params, batch_stats, copy=True)
        model.train()
        logits = model(to_model_input(batch["image"], dtype), rngs=nnx.Rngs(dropout=rng))
        loss = emotion_loss(logits, batch["label"], class_weights=class_weights, label_smoothing=label_smoothing)
        return loss, (logits, nnx.state(model, nnx.BatchStat))

    return jax.value_and_grad(loss_fn, has_aux=True)(params)


def train_step(
    state: TrainState,
    batch: dict[str, jax.Array],
    *,
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    dtype,
    class_weights: jax.Array | None,
    label_smoothing: float,
) -> tuple[TrainState, TrainMetrics]:
    rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    (loss, (logits, batch_stats)), grads = loss_and_grads(
        graphdef, state.params, state.batch_stats, batch, rng,
        dtype=dtype, class_weights=class_weights, label_smoothing=label_smoothing,
    )
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(
        step=state.step + 1,
        params=optax.apply_updates(state.params, updates),
        batch_stats=batch_stats,
        opt_state=opt_state,
    )
    metrics = TrainMetrics.single_from_model_output(loss=loss, logits=logits, labels=batch["label"])
    return new_state, metrics


def eval_step(state: TrainState, batch: dict[str, jax.Array], *, graphdef: nnx.GraphDef, dtype) -> EvalMetrics:
    """Clean view, running BatchNorm statistics, no dropout; padded rows (mask 0) do not count."""
    model = nnx.merge(graphdef, state.params, state.batch_stats)
    model.eval()
    logits = model(to_model_input(batch["image"], dtype))
    per_example = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["label"])
    return EvalMetrics.single_from_model_output(
        loss=per_example, logits=logits, labels=batch["label"], mask=batch["mask"]
    )


def jit_train_step(graphdef, tx, dtype, class_weights, label_smoothing, state_shardings, batch_sharding):
    """`train_step` compiled for the mesh: state in and out with its shardings, donated so it is updated in place."""
    step = functools.partial(
        train_step, graphdef=graphdef, tx=tx, dtype=dtype, class_weights=class_weights, label_smoothing=label_smoothing
    )
    return jax.jit(
        step,
        in_shardings=(state_shardings, batch_sharding),
        out_shardings=(state_shardings, None),
        donate_argnums=0,
    )


def jit_eval_step(graphdef, dtype, state_shardings, batch_sharding):
    return jax.jit(
        functools.partial(eval_step, graphdef=graphdef, dtype=dtype),
        in_shardings=(state_shardings, batch_sharding),
    )
