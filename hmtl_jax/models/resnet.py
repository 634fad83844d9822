"""ResNets as torchvision builds them (v1.5: a bottleneck's stride sits on its 3x3 conv, not the first 1x1).

One generic `ResNet`, driven by a `ResNetSpec` row, covers resnet18/resnet50 and the small `resnet_tiny` and
`resnet_micro` for CPU runs. BatchNorm: momentum 0.9 (PyTorch's 0.1, see layers.BN_MOMENTUM), epsilon 1e-5 as PyTorch.
The last BatchNorm of each residual branch starts at zero scale (torchvision's `zero_init_residual=True`, Goyal et
al. 2017), so every block starts as the identity; it trains from scratch more stably and changes no count.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from hmtl_jax.models.layers import PYTORCH_BN_EPSILON as BN_EPSILON
from hmtl_jax.models.layers import ConvBN


class BasicBlock(nnx.Module):
    """Two 3x3 convs; the stride sits on the first."""

    expansion = 1

    def __init__(self, in_features: int, width: int, strides: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        out_features = width * self.expansion
        common = dict(bn_epsilon=BN_EPSILON, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.conv1 = ConvBN(in_features, width, 3, strides=strides, activation=nnx.relu, **common)
        self.conv2 = ConvBN(width, out_features, 3, zero_init_scale=True, **common)
        self.shortcut = _shortcut(in_features, out_features, strides, common)

    def __call__(self, x: jax.Array) -> jax.Array:
        residual = x if self.shortcut is None else self.shortcut(x)
        return nnx.relu(self.conv2(self.conv1(x)) + residual)


class Bottleneck(nnx.Module):
    """1x1 reduce -> 3x3 (strided, v1.5) -> 1x1 expand by 4."""

    expansion = 4

    def __init__(self, in_features: int, width: int, strides: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        out_features = width * self.expansion
        common = dict(bn_epsilon=BN_EPSILON, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.conv1 = ConvBN(in_features, width, 1, activation=nnx.relu, **common)
        self.conv2 = ConvBN(width, width, 3, strides=strides, activation=nnx.relu, **common)
        self.conv3 = ConvBN(width, out_features, 1, zero_init_scale=True, **common)
        self.shortcut = _shortcut(in_features, out_features, strides, common)

    def __call__(self, x: jax.Array) -> jax.Array:
        residual = x if self.shortcut is None else self.shortcut(x)
        return nnx.relu(self.conv3(self.conv2(self.conv1(x))) + residual)


def _shortcut(in_features: int, out_features: int, strides: int, common: dict) -> ConvBN | None:
    """torchvision's `downsample`: a strided 1x1 conv + BN wherever the identity would not fit the shape."""
    if strides == 1 and in_features == out_features:
        return None
    return ConvBN(in_features, out_features, 1, strides=strides, **common)


@dataclasses.dataclass(frozen=True)
class ResNetSpec:
    stage_sizes: tuple[int, ...]
    block: type[BasicBlock] | type[Bottleneck]
    widths: tuple[int, ...] = (64, 128, 256, 512)
    # "imagenet": 7x7/2 conv to 64 channels + 3x3/2 max-pool (overall stride 4 before stage 1).
    # "small": one 3x3/2 conv to widths[0] channels and no pool, for small, low-resolution inputs.
    stem: Literal["imagenet", "small"] = "imagenet"


RESNETS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec((2, 2, 2, 2), BasicBlock),
    "resnet50": ResNetSpec((3, 4, 6, 3), Bottleneck),
    "resnet_tiny": ResNetSpec((1, 1, 1, 1), BasicBlock, widths=(32, 64, 128, 256), stem="small"),
    # resnet_tiny at half the width: a quarter of its multiply-adds, and its 48 px train step on 2 CPU cores 3.5x
    # faster (docs/PERFORMANCE.md). The README's demo trains it (configs/demo.py).
    "resnet_micro": ResNetSpec((1, 1, 1, 1), BasicBlock, widths=(16, 32, 64, 128), stem="small"),
}


class ResNet(nnx.Module):
    """Backbone: image (NHWC) -> the feature map at the end of each stage, coarsest last.

    Strides 4, 8, 16, 32 with the ImageNet stem; 2, 4, 8, 16 with the small one."""

    def __init__(self, spec: ResNetSpec, *, dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        common = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        if spec.stem == "imagenet":
            stem_width, stem_kernel = 64, 7
        else:
            stem_width, stem_kernel = spec.widths[0], 3
        self.stem = ConvBN(3, stem_width, stem_kernel, strides=2, activation=nnx.relu, bn_epsilon=BN_EPSILON, **common)
        self.stem_pool = spec.stem == "imagenet"

        stages = []
        in_features = stem_width
        self.feature_channels = []  # channels of each stage-end feature map, for the in-painting decoder
        for stage_index, (size, width) in enumerate(zip(spec.stage_sizes, spec.widths, strict=True)):
            blocks = []
            for block_index in range(size):
                # The first block of every stage but the first halves the resolution (the stem already did).
                strides = 2 if stage_index > 0 and block_index == 0 else 1
                blocks.append(spec.block(in_features, width, strides, **common))
                in_features = width * spec.block.expansion
            stages.append(nnx.List(blocks))
            self.feature_channels.append(in_features)
        self.stages = nnx.List(stages)
        self.feature_channels = tuple(self.feature_channels)
        self.num_features = in_features  # channels of the last feature map, for the heads

    def __call__(self, x: jax.Array) -> list[jax.Array]:
        x = self.stem(x)
        if self.stem_pool:
            # Padding with -inf, as PyTorch's MaxPool2d(3, 2, padding=1). By keyword: jax2onnx's stand-in for
            # nnx.max_pool takes only the input by position.
            x = nnx.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        features = []
        for stage in self.stages:
            for block in stage:
                x = block(x)
            features.append(x)
        return features
