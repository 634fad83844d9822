"""The train state: everything a step reads and writes, as one pytree that Orbax saves and jit donates.

The model's structure (the NNX graphdef, `models.from_config.model_graphdef`) is static and lives outside the
state; parameters and BatchNorm statistics are split so that gradients are taken with respect to parameters only.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from hmtl_jax.models.from_config import build_model


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: nnx.State
    batch_stats: nnx.State
    opt_state: optax.OptState
    rng: jax.Array  # raw uint32 key; the step folds in its number, so every step draws fresh randomness


def create_train_state(
    config: ml_collections.ConfigDict, num_classes: int, tx: optax.GradientTransformation, rng: jax.Array
) -> TrainState:
    """Fresh parameters and optimiser state. Meant to run under `jax.jit` with the state's out_shardings, so large
    models are created directly in their sharded layout."""
    init_rng, train_rng = jax.random.split(rng)
    model = build_model(config, num_classes, init_rng)
    _, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=batch_stats,
        opt_state=tx.init(params),
        rng=jax.random.key_data(train_rng),
    )
