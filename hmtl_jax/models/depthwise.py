"""Depthwise convolution written as k*k shifted multiply-adds on XLA's CPU backend.

Why: XLA:CPU runs a grouped convolution with one channel per group far slower than the same arithmetic written as
shifted slices times per-channel weights, which it fuses into a few loops: EfficientNet-B0's CPU step took 4.5x less
time with this (docs/PERFORMANCE.md, "XLA on CPU"). On GPUs and TPUs lax's convolution stays (cuDNN and the TPU's
convolution units are fast at it). The function fills `nnx.Conv`'s `conv_general_dilated` slot, so parameters,
checkpoints and the arithmetic are those of the ordinary depthwise convolution; only the summation order of the k*k
products differs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

# nnx.Conv's layout for 2-D inputs: NHWC activations, HWIO kernels.
_NHWC = (0, 3, 1, 2)
_HWIO = (3, 2, 0, 1)


def _is_plain_depthwise(lhs, rhs, padding, lhs_dilation, rhs_dilation, dimension_numbers, groups) -> bool:
    numbers = dimension_numbers
    return (
        lhs.ndim == 4
        and groups == lhs.shape[-1]
        and rhs.shape[2] == 1
        and rhs.shape[3] == groups
        and not isinstance(padding, str)
        and all(d == 1 for d in (lhs_dilation or (1, 1)))
        and all(d == 1 for d in (rhs_dilation or (1, 1)))
        and numbers is not None
        and tuple(numbers.lhs_spec) == _NHWC
        and tuple(numbers.rhs_spec) == _HWIO
        and tuple(numbers.out_spec) == _NHWC
    )


def shifted_depthwise_conv(x: jax.Array, kernel: jax.Array, strides, padding) -> jax.Array:
    """x (B, H, W, C) NHWC, kernel (kh, kw, 1, C), explicit padding ((top, bottom), (left, right)): the depthwise
    convolution as a sum of kh*kw strided slices of the padded input times the kernel's per-channel weights,
    accumulated in float32 and returned in the input's dtype."""
    (top, bottom), (left, right) = padding
    stride_h, stride_w = strides
    kh, kw = kernel.shape[:2]
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_h = (padded.shape[1] - kh) // stride_h + 1
    out_w = (padded.shape[2] - kw) // stride_w + 1
    weights = kernel[:, :, 0, :].astype(jnp.float32)
    total = jnp.zeros((x.shape[0], out_h, out_w, x.shape[3]), jnp.float32)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + (out_h - 1) * stride_h + 1, stride_h)
            cols = slice(j, j + (out_w - 1) * stride_w + 1, stride_w)
            total = total + padded[:, rows, cols, :].astype(jnp.float32) * weights[i, j]
    return total.astype(x.dtype)


def depthwise_conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    precision=None,
    preferred_element_type=None,
    out_sharding=None,
):
    """`lax.conv_general_dilated`'s signature; the shifted form for a plain depthwise convolution on CPU, lax's
    convolution for everything else."""
    if (
        jax.default_backend() == "cpu"
        and preferred_element_type is None
        and out_sharding is None
        and _is_plain_depthwise(lhs, rhs, padding, lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count)
    ):
        return shifted_depthwise_conv(lhs, rhs, window_strides, padding)
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        precision=precision,
        preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )
