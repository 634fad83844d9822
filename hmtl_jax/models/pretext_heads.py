"""Heads of the self-supervised tasks. They read the backbone's features during training only: evaluation and
export use the emotion head alone, so HMTL adds no inference cost."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx


class JigsawHead(nnx.Module):
    """Pooled last feature map -> Dropout (0.2 in the paper's code) -> Linear -> float32 logits (B, *out_shape).

    `out_shape` is (P,) to classify the permutation index, or (N*N, N*N) for the per-tile target: one N*N-way
    classification per position, which is the paper's N*N separate Dense heads written as one matrix."""

    def __init__(
        self, in_features: int, out_shape: Sequence[int], dropout_rate: float, *, dtype, param_dtype, rngs: nnx.Rngs
    ):
        self.out_shape = tuple(out_shape)
        size = 1
        for dim in self.out_shape:
            size *= dim
        self.dropout = nnx.Dropout(dropout_rate)
        self.dense = nnx.Linear(in_features, size, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, feature_map: jax.Array, *, rngs: nnx.Rngs | jax.Array | None = None) -> jax.Array:
        pooled = jnp.mean(feature_map.astype(jnp.float32), axis=(1, 2))
        logits = self.dense(self.dropout(pooled, rngs=rngs)).astype(jnp.float32)
        return logits.reshape(logits.shape[0], *self.out_shape)


def _upsample_to(x: jax.Array, height: int, width: int) -> jax.Array:
    return jax.image.resize(x, (x.shape[0], height, width, x.shape[-1]), method="bilinear")


class InpaintDecoder(nnx.Module):
    """Feature maps (coarsest last) -> RGB image in [0, 1] at the input resolution.

    A light U-Net-style decoder: the coarsest map is projected to `width` channels, then at each finer level it is
    upsampled (bilinear) to that level's size, the level's feature map is added through a 1x1 projection (when
    `skip_connections`), and a 3x3 conv + ReLU follows, halving the width (not below 16). A last upsampling to the
    input size and two 3x3 convs give the image. No normalisation: the decoder sees masked inputs whose statistics
    differ from clean ones, and its output is never evaluated with running statistics anyway.
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        width: int,
        skip_connections: bool,
        *,
        dtype,
        param_dtype,
        rngs: nnx.Rngs,
    ):
        common = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.skip_connections = skip_connections
        self.project = nnx.Conv(feature_channels[-1], width, (1, 1), **common)
        skips, convs = [], []
        for channels in reversed(feature_channels[:-1]):
            out = max(16, width // 2)
            skips.append(nnx.Conv(channels, width, (1, 1), **common) if skip_connections else None)
            convs.append(nnx.Conv(width, out, (3, 3), padding="SAME", **common))
            width = out
        self.skips = nnx.List(skips)
        self.convs = nnx.List(convs)
        self.final_conv = nnx.Conv(width, width, (3, 3), padding="SAME", **common)
        self.to_rgb = nnx.Conv(width, 3, (3, 3), padding="SAME", **common)

    def __call__(self, features: Sequence[jax.Array], height: int, width: int) -> jax.Array:
        x = self.project(features[-1])
        for feature, skip, conv in zip(reversed(features[:-1]), self.skips, self.convs, strict=True):
            x = _upsample_to(x, feature.shape[1], feature.shape[2])
            if skip is not None:
                x = x + skip(feature)
            x = nnx.relu(conv(x))
        x = nnx.relu(self.final_conv(_upsample_to(x, height, width)))
        return nnx.sigmoid(self.to_rgb(x).astype(jnp.float32))
