"""A backbone plus the emotion head: global average pool -> dropout -> dense.

Backbone and head are separate submodules so later auxiliary heads (jigsaw, in-painting decoder) can read the same
multi-scale features during training and be left out at inference.
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp
from flax import nnx


class Backbone(Protocol):
    """What a head may rely on: the stage-end feature maps (NHWC, coarsest last), their channels, and the last one's."""

    num_features: int
    feature_channels: tuple[int, ...]

    def __call__(self, x: jax.Array) -> list[jax.Array]: ...


class EmotionHead(nnx.Module):
    """Global average pool -> Dropout -> Linear. Returns float32 logits whatever the compute dtype, so the loss and
    softmax never run in bf16."""

    def __init__(self, in_features: int, num_classes: int, dropout_rate: float, *, dtype, param_dtype, rngs: nnx.Rngs):
        # No RNG stream is stored: the dropout key is passed per call, so the model state holds only Params and
        # BatchStats (no PRNG counters to thread through jit, shard or checkpoint).
        self.dropout = nnx.Dropout(dropout_rate)
        self.dense = nnx.Linear(in_features, num_classes, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, feature_map: jax.Array, *, rngs: nnx.Rngs | jax.Array | None = None) -> jax.Array:
        # Pool in float32: a bf16 mean over many positions loses precision.
        pooled = jnp.mean(feature_map.astype(jnp.float32), axis=(1, 2))
        # No `rngs` argument when there is none (evaluation): jax2onnx's stand-in for nnx.Dropout does not take it.
        dropped = self.dropout(pooled) if rngs is None else self.dropout(pooled, rngs=rngs)
        return self.dense(dropped).astype(jnp.float32)


# (mean, standard deviation) per RGB channel of ImageNet's pixels in [0, 1], as timm and torchvision normalise them.
IMAGENET_NORMALISATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class Classifier(nnx.Module):
    """`backbone` (image -> stage-end feature maps) + `head` (last feature map -> logits).

    `jigsaw` and `decoder` are the self-supervised heads (models/pretext_heads.py), None unless their task is on.
    Only the training step calls them. Images come in [0, 1] (the paper's input); `input_normalisation` (mean, std)
    normalises them inside the model, for backbones whose weights expect it. Inside, so that the pretext views and
    the in-painting targets stay in [0, 1] and every caller feeds the same pixels."""

    def __init__(
        self,
        backbone: Backbone,
        head: EmotionHead,
        *,
        jigsaw=None,
        decoder=None,
        input_normalisation: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    ):
        self.backbone = backbone
        self.head = head
        self.input_normalisation = input_normalisation  # static: part of the graph, not of the state
        # nnx.data: these slots hold modules (state) even while None, so a head can be attached after construction.
        self.jigsaw = nnx.data(jigsaw)
        self.decoder = nnx.data(decoder)

    def features(self, images: jax.Array) -> list[jax.Array]:
        """Feature maps at the end of each backbone stage (NHWC, coarsest last)."""
        if self.input_normalisation is not None:
            mean, std = (jnp.asarray(values, images.dtype) for values in self.input_normalisation)
            images = (images - mean) / std
        return self.backbone(images)

    def __call__(self, images: jax.Array, *, rngs: nnx.Rngs | jax.Array | None = None) -> jax.Array:
        """float32 logits (B, num_classes). In train mode with dropout_rate > 0 pass `rngs` holding a `dropout`
        stream (or a key): flax raises otherwise. Eval mode needs none."""
        return self.head(self.features(images)[-1], rngs=rngs)
