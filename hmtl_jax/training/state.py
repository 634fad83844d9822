"""The train state: everything a step reads and writes, as one pytree that Orbax saves and jit donates.

The model's structure (the NNX graphdef) is static and lives outside the state; parameters and BatchNorm
statistics are split so that gradients are taken with respect to parameters only.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx

from hmtl_jax.models import create_model
from hmtl_jax.models.pretext_heads import InpaintDecoder, JigsawHead


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: nnx.State
    batch_stats: nnx.State
    opt_state: optax.OptState
    rng: jax.Array  # raw uint32 key; the step folds in its number, so every step draws fresh randomness


def compute_dtype(config: ml_collections.ConfigDict):
    """bf16 activations with fp32 parameters when `config.half_precision`; fp32 otherwise."""
    return jnp.bfloat16 if config.half_precision else jnp.float32


def jigsaw_output_shape(config: ml_collections.ConfigDict) -> tuple[int, ...]:
    """(P,) logits over the permutation set, or (N*N, N*N): which original tile sits at each position."""
    tiles = config.jigsaw.grid ** 2
    return (config.jigsaw.num_permutations,) if config.jigsaw.target == "permutation" else (tiles, tiles)


def build_model(config: ml_collections.ConfigDict, num_classes: int, rng: jax.Array) -> nnx.Module:
    """The backbone and emotion head, plus the head of each pretext task whose weight is above 0."""
    rngs = nnx.Rngs(params=rng)
    common = dict(dtype=compute_dtype(config), param_dtype=jnp.float32, rngs=rngs)
    model = create_model(
        config.model.name, num_classes=num_classes, dropout_rate=config.model.dropout_rate, **common
    )
    if config.jigsaw.weight > 0:
        model.jigsaw = JigsawHead(
            model.backbone.num_features, jigsaw_output_shape(config), config.jigsaw.dropout_rate, **common
        )
    if config.inpaint.weight > 0:
        model.decoder = InpaintDecoder(
            model.backbone.feature_channels, config.inpaint.decoder_width, config.inpaint.skip_connections, **common
        )
    return model


def model_graphdef(config: ml_collections.ConfigDict, num_classes: int) -> nnx.GraphDef:
    """The static model structure, without allocating any parameter."""
    abstract = nnx.eval_shape(lambda: build_model(config, num_classes, jax.random.key(0)))
    graphdef, _, _ = nnx.split(abstract, nnx.Param, nnx.BatchStat)
    return graphdef


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
