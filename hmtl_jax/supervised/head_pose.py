"""Head pose as in Hopenet (Ruiz et al., 2018): each angle is classified into 3-degree bins over [-99, 99] and
the expectation of its bin distribution is regressed onto the angle, so the head learns a coarse, robust answer
and a fine one. Loss per angle: cross-entropy over the bins + REGRESSION_WEIGHT x |expected angle - angle| (degrees),
averaged over the three angles (one loss on the scale of the emotion loss, which the pretext weights were set
against). Angles beyond +-99 degrees are not representable; the usual protocol drops such images."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

ANGLES = ("yaw", "pitch", "roll")
LIMIT = 99.0
BIN_WIDTH = 3.0
NUM_BINS = int(2 * LIMIT / BIN_WIDTH)  # 66
BIN_CENTRES = (-LIMIT + BIN_WIDTH * (np.arange(NUM_BINS) + 0.5)).astype(np.float32)
# Weight of the L1 term, per degree. Hopenet weighs an MSE term with alpha in [0.001, 2]; an L1 term in degrees at 0.1
# starts near the cross-entropy's scale on faces within +-35 degrees (about 1 against ln 66 = 4.2).
REGRESSION_WEIGHT = 0.1
# A horizontal flip mirrors yaw and roll, and leaves pitch.
MIRROR_SIGNS = np.array([-1.0, 1.0, -1.0], np.float32)


def _bin_logits(outputs: jax.Array) -> jax.Array:
    return outputs.astype(jnp.float32).reshape(outputs.shape[0], len(ANGLES), NUM_BINS)


def predicted_angles(outputs: jax.Array) -> jax.Array:
    """The head's outputs (B, 3 * NUM_BINS) -> (B, 3) degrees: the expectation over each angle's bins."""
    return jax.nn.softmax(_bin_logits(outputs), axis=-1) @ jnp.asarray(BIN_CENTRES)


def angle_bins(angles: jax.Array) -> jax.Array:
    """(B, 3) degrees -> (B, 3) bin indices, angles beyond the limit in the outermost bins."""
    return jnp.clip(jnp.floor((angles + LIMIT) / BIN_WIDTH), 0, NUM_BINS - 1).astype(jnp.int32)


def head_pose_losses(outputs: jax.Array, angles: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(per-example loss (B,), absolute error of each angle in degrees (B, 3))."""
    angles = angles.astype(jnp.float32)
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(_bin_logits(outputs), angle_bins(angles))
    errors = jnp.abs(predicted_angles(outputs) - angles)
    return (cross_entropy + REGRESSION_WEIGHT * errors).mean(axis=-1), errors


def mirror(angles: np.ndarray) -> np.ndarray:
    """The (yaw, pitch, roll) of the horizontally flipped image."""
    return (np.asarray(angles, np.float32) * MIRROR_SIGNS).astype(np.float32)
