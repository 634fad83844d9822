"""The model a config describes: backbone and emotion head, plus the head of each pretext task that is on, in the
config's compute dtype. Training, evaluation and every later user of a checkpoint rebuild it from here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from hmtl_jax.config.tasks import task_on
from hmtl_jax.models import create_model
from hmtl_jax.models.pretext_heads import InpaintDecoder, JigsawHead


def compute_dtype(config: ml_collections.ConfigDict):
    """bf16 activations with fp32 parameters when `config.half_precision`; fp32 otherwise."""
    return jnp.bfloat16 if config.half_precision else jnp.float32


def to_model_input(images: jax.Array, dtype) -> jax.Array:
    """uint8 pixels (what crosses host->device, 4x smaller than float) -> [0, 1], as the paper's code (no mean/std
    normalisation)."""
    return images.astype(dtype) / 255.0


def supervised_outputs(graphdef: nnx.GraphDef, params, batch_stats, images: jax.Array, dtype) -> jax.Array:
    """The supervised head's outputs (B, C) of uint8 images in evaluation mode (running BatchNorm statistics, no
    dropout): what evaluation scores and what prediction answers from."""
    model = nnx.merge(graphdef, params, batch_stats)
    model.eval()
    return model(to_model_input(images, dtype))


def jigsaw_output_shape(config: ml_collections.ConfigDict) -> tuple[int, ...]:
    """(P,) logits over the permutation set, or (N*N, N*N): which original tile sits at each position."""
    tiles = config.jigsaw.grid**2
    return (config.jigsaw.num_permutations,) if config.jigsaw.target == "permutation" else (tiles, tiles)


def build_model(config: ml_collections.ConfigDict, num_classes: int, rng: jax.Array) -> nnx.Module:
    """The backbone and emotion head, plus the head of each pretext task that is on."""
    rngs = nnx.Rngs(params=rng)
    common = dict(dtype=compute_dtype(config), param_dtype=jnp.float32, rngs=rngs)
    model = create_model(
        config.model.name,
        num_classes=num_classes,
        dropout_rate=config.model.dropout_rate,
        for_imagenet_weights=bool(config.model.imagenet_weights),
        **common,
    )
    if task_on(config, "jigsaw"):
        model.jigsaw = JigsawHead(
            model.backbone.num_features, jigsaw_output_shape(config), config.jigsaw.dropout_rate, **common
        )
    if task_on(config, "inpaint"):
        model.decoder = InpaintDecoder(
            model.backbone.feature_channels, config.inpaint.decoder_width, config.inpaint.skip_connections, **common
        )
    return model


def model_graphdef(config: ml_collections.ConfigDict, num_classes: int) -> nnx.GraphDef:
    """The static model structure, without allocating any parameter."""
    abstract = nnx.eval_shape(lambda: build_model(config, num_classes, jax.random.key(0)))
    graphdef, _, _ = nnx.split(abstract, nnx.Param, nnx.BatchStat)
    return graphdef
