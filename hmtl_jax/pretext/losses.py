"""Losses of the pretext tasks. Each is a mean over the rows its task counts (`rows`, 1 or 0 per example)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from hmtl_jax.models import vgg16

PIXEL_LOSSES = ("l1", "l2")
LOSS_REGIONS = ("masked", "whole")


def _row_mean(per_example: jax.Array, rows: jax.Array) -> jax.Array:
    return jnp.sum(per_example * rows) / jnp.maximum(jnp.sum(rows), 1.0)


def jigsaw_loss(logits: jax.Array, views: dict, rows: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(cross-entropy, accuracy). Logits (B, P) classify the permutation index; logits (B, N*N, N*N) say which
    original tile sits at each position (loss = sum of the N*N tile CEs, as the paper's code; accuracy = fraction
    of tiles right)."""
    if logits.ndim == 2:
        target = views["perm_index"]
        per_example = optax.softmax_cross_entropy_with_integer_labels(logits, target)
        correct = (jnp.argmax(logits, -1) == target).astype(jnp.float32)
    else:
        target = views["perms"]
        per_example = optax.softmax_cross_entropy_with_integer_labels(logits, target).sum(-1)
        correct = (jnp.argmax(logits, -1) == target).astype(jnp.float32).mean(-1)
    return _row_mean(per_example, rows), _row_mean(correct, rows)


def pixel_loss(reconstruction: jax.Array, views: dict, rows: jax.Array, *, kind: str, region: str) -> jax.Array:
    """L1 or L2 between the reconstruction and the target, averaged over the masked pixels (or all pixels)."""
    diff = reconstruction - views["inpaint_target"]
    error = jnp.abs(diff) if kind == "l1" else jnp.square(diff)
    if region == "masked":
        weight = views["mask"]
        per_example = jnp.sum(error * weight, axis=(1, 2, 3)) / jnp.maximum(
            jnp.sum(weight, axis=(1, 2, 3)) * error.shape[-1], 1.0
        )
    else:
        per_example = jnp.mean(error, axis=(1, 2, 3))
    return _row_mean(per_example, rows)


def perceptual_loss(
    vgg_params, reconstruction: jax.Array, views: dict, rows: jax.Array, *, layers, region: str, dtype
) -> jax.Array:
    """Sum over `layers` of the mean absolute difference of VGG-16 activations.

    With region="masked" the network's output is pasted into the target outside the mask first, so the loss (and
    its gradient) is about the repainted pixels and how they fit their surroundings."""
    target = views["inpaint_target"]
    if region == "masked":
        reconstruction = views["mask"] * reconstruction + (1.0 - views["mask"]) * target
    # Two passes rather than one over a concatenated batch: concatenating batch-sharded arrays moves rows between
    # devices.
    predicted_features = vgg16.features(vgg_params, reconstruction, layers, dtype)
    wanted_features = vgg16.features(vgg_params, jax.lax.stop_gradient(target), layers, dtype)
    total = 0.0
    for predicted, wanted in zip(predicted_features, wanted_features, strict=True):
        diff = jnp.abs(predicted.astype(jnp.float32) - wanted.astype(jnp.float32))
        total = total + _row_mean(jnp.mean(diff, axis=(1, 2, 3)), rows)
    return total
