"""EfficientNet-B0/B1/B2 as timm builds them (`efficientnet_b0/b1/b2`, not the `tf_` ports), so parameter counts
match timm's exactly.

What decides the count: channels scaled by the width multiplier and rounded to multiples of 8 (timm's
`round_channels`/`make_divisible`, stem and head included); stage depths ceil(repeats * depth multiplier);
squeeze-excitation reducing to a quarter of the block's *input* channels (not of its expanded channels); a 1x1 head
conv to round(1280 * width) channels. Padding is PyTorch's symmetric k//2, as timm's non-`tf_` models.

Left out: stochastic depth (timm's drop_path_rate, off by default in timm's `efficientnet_b*` too); it only
regularises training and adds no parameters.
BatchNorm epsilon 1e-3 as the TensorFlow original (timm uses PyTorch's 1e-5 here; the paper's Keras code 1e-3);
`bn_epsilon` sets another (models/imagenet_weights.py: timm's and torchvision's ImageNet weights need 1e-5);
momentum 0.9 (see layers.BN_MOMENTUM).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from hmtl_jax.models.layers import ConvBN, he_normal_fan_out

BN_EPSILON = 1e-3
SE_RATIO = 0.25

# B0 stages: (expand ratio, kernel, stride, output channels, repeats). Stage 0 (expand 1) is timm's
# DepthwiseSeparableConv: the same block as MBConv without the 1x1 expansion.
B0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Stages whose output is a feature map: strides 4, 8, 16 (stage 4, the last at stride 16, as timm's features_only).
# The stride-32 map is the output of the 1x1 head conv.
FEATURE_STAGES = (1, 2, 4)

# name -> (width multiplier, depth multiplier), as timm (the resolution and dropout of the paper are not used).
EFFICIENTNETS: dict[str, tuple[float, float]] = {
    "efficientnet_b0": (1.0, 1.0),
    "efficientnet_b1": (1.0, 1.1),
    "efficientnet_b2": (1.1, 1.2),
}


def round_channels(channels: int, multiplier: float, divisor: int = 8) -> int:
    """Scale, round to the nearest multiple of `divisor`, and go one multiple up if that lost over 10 %
    (timm's `round_channels`; it rounds even at multiplier 1.0)."""
    scaled = channels * multiplier
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


class SqueezeExcite(nnx.Module):
    """Global pool -> 1x1 reduce (bias) -> SiLU -> 1x1 expand (bias) -> sigmoid gate on the channels."""

    def __init__(self, features: int, reduced: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        common = dict(kernel_init=he_normal_fan_out(), dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.reduce = nnx.Conv(features, reduced, (1, 1), **common)
        self.expand = nnx.Conv(reduced, features, (1, 1), **common)

    def __call__(self, x: jax.Array) -> jax.Array:
        scale = jnp.mean(x, axis=(1, 2), keepdims=True)
        scale = jax.nn.sigmoid(self.expand(nnx.silu(self.reduce(scale))))
        return x * scale


class MBConv(nnx.Module):
    """Inverted residual: [1x1 expand] -> depthwise kxk -> squeeze-excite -> 1x1 linear projection, plus the
    identity when stride and channels allow."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        expand_ratio: int,
        kernel: int,
        strides: int,
        bn_epsilon: float,
        dtype,
        param_dtype,
        rngs: nnx.Rngs,
    ):
        common = dict(bn_epsilon=bn_epsilon, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        mid = in_features * expand_ratio
        self.expand = ConvBN(in_features, mid, 1, activation=nnx.silu, **common) if expand_ratio != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, strides=strides, groups=mid, activation=nnx.silu, **common)
        # Matches timm: SE reduces from the block *input* channels (se_ratio / expand_ratio of the expanded ones).
        reduced = max(1, round(in_features * SE_RATIO))
        self.se = SqueezeExcite(mid, reduced, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.project = ConvBN(mid, out_features, 1, **common)  # linear bottleneck: no activation
        self.residual = strides == 1 and in_features == out_features

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.se(self.depthwise(y)))
        return x + y if self.residual else y


class EfficientNet(nnx.Module):
    """Backbone: image (NHWC) -> feature maps at strides 4, 8, 16, 32 (the last after the 1x1 head conv+BN+SiLU)."""

    def __init__(
        self,
        width_multiplier: float,
        depth_multiplier: float,
        *,
        bn_epsilon: float = BN_EPSILON,
        dtype=jnp.float32,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        common = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        in_features = round_channels(32, width_multiplier)
        self.stem = ConvBN(3, in_features, 3, strides=2, activation=nnx.silu, bn_epsilon=bn_epsilon, **common)
        stages = []
        feature_channels = []  # channels of each returned feature map, for the in-painting decoder
        for stage_index, (expand_ratio, kernel, strides, channels, repeats) in enumerate(B0_STAGES):
            out_features = round_channels(channels, width_multiplier)
            blocks = []
            for index in range(math.ceil(repeats * depth_multiplier)):
                blocks.append(
                    MBConv(
                        in_features,
                        out_features,
                        expand_ratio=expand_ratio,
                        kernel=kernel,
                        strides=strides if index == 0 else 1,
                        bn_epsilon=bn_epsilon,
                        **common,
                    )
                )
                in_features = out_features
            stages.append(nnx.List(blocks))
            if stage_index in FEATURE_STAGES:
                feature_channels.append(out_features)
        self.stages = nnx.List(stages)
        self.num_features = round_channels(1280, width_multiplier)  # channels of the last feature map
        self.feature_channels = (*feature_channels, self.num_features)
        self.conv_head = ConvBN(in_features, self.num_features, 1, activation=nnx.silu, bn_epsilon=bn_epsilon, **common)

    def __call__(self, x: jax.Array) -> list[jax.Array]:
        x = self.stem(x)
        features = []
        for index, stage in enumerate(self.stages):
            for block in stage:
                x = block(x)
            if index in FEATURE_STAGES:
                features.append(x)
        features.append(self.conv_head(x))
        return features
