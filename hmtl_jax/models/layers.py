"""Conv -> BatchNorm -> activation, the building block both backbone families are made of."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

from hmtl_jax.models.depthwise import depthwise_conv_general_dilated

# PyTorch's BatchNorm momentum 0.1 weights the *new* batch; flax's momentum weights the *old* average, so 0.9.
BN_MOMENTUM = 0.9
PYTORCH_BN_EPSILON = 1e-5  # PyTorch's BatchNorm default: torchvision's and timm's models (and their weights) use it


def he_normal_fan_out(groups: int = 1) -> jax.nn.initializers.Initializer:
    """He-normal with fan_out = k*k*out/groups, as timm's `_init_weight_goog` and torchvision's
    `kaiming_normal_(mode="fan_out")` (groups is 1 for every torchvision ResNet conv, so they agree).

    A depthwise conv then gets fan_out = k*k, not k*k*channels, which `variance_scaling("fan_out")` would give."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        *kernel, _, out_features = shape  # flax kernel layout: (kh, kw, in/groups, out)
        fan_out = out_features // groups
        for size in kernel:
            fan_out *= size
        return jax.random.normal(key, shape, dtype) * jnp.sqrt(2.0 / fan_out).astype(dtype)

    return init


class ConvBN(nnx.Module):
    """Bias-free conv (symmetric padding k//2, as PyTorch's `padding=k//2`) -> BatchNorm -> optional activation.

    `dtype` is the compute dtype of both the conv and the BatchNorm; parameters live in `param_dtype`."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        *,
        strides: int = 1,
        groups: int = 1,
        activation: Callable[[jax.Array], jax.Array] | None = None,
        bn_epsilon: float,
        zero_init_scale: bool = False,
        dtype=jnp.float32,
        param_dtype=jnp.float32,
        rngs: nnx.Rngs,
    ):
        pad = kernel_size // 2
        self.conv = nnx.Conv(
            in_features,
            out_features,
            (kernel_size, kernel_size),
            strides=(strides, strides),
            padding=((pad, pad), (pad, pad)),
            feature_group_count=groups,
            use_bias=False,  # the BatchNorm bias makes a conv bias redundant
            kernel_init=he_normal_fan_out(groups),
            # Depthwise convolutions take the shifted form on CPU (models/depthwise.py says why).
            conv_general_dilated=depthwise_conv_general_dilated if groups > 1 else lax.conv_general_dilated,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
        self.bn = nnx.BatchNorm(
            out_features,
            momentum=BN_MOMENTUM,
            epsilon=bn_epsilon,
            scale_init=nnx.initializers.zeros_init() if zero_init_scale else nnx.initializers.ones_init(),
            bias_init=nnx.initializers.zeros_init(),
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.bn(self.conv(x))
        return x if self.activation is None else self.activation(x)
