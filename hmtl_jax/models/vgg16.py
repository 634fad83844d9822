"""VGG-16's convolutional part (torchvision's `vgg16().features`), frozen, as a feature extractor for the perceptual
loss. Plain functions over a list of (kernel, bias) arrays: the weights are not trained, not sharded with the
model, and not saved in checkpoints; they are read from the user's torchvision or safetensors file at start.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.models.torch_weights import load_state_dict, save_float32_safetensors

# torchvision's VGG-16 `features`: 13 convs (3x3, padding 1) each followed by ReLU, max-pool 2x2 after each block.
_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layout():
    """[(relu layer name, torchvision `features` index of its conv, in channels, out channels, pool before?)]."""
    layers, index, in_channels = [], 0, 3
    for block, widths in enumerate(_BLOCKS, start=1):
        for position, width in enumerate(widths, start=1):
            layers.append((f"relu{block}_{position}", index, in_channels, width, block > 1 and position == 1))
            index += 2  # conv, relu
            in_channels = width
        index += 1  # max-pool
    return layers


LAYERS = _layout()
LAYER_NAMES = tuple(name for name, *_ in LAYERS)


def check_layers(layers) -> None:
    unknown = [name for name in layers if name not in LAYER_NAMES]
    if unknown or not layers:
        raise ConfigError(
            f"config.inpaint.perceptual_layers: unknown VGG-16 layers {unknown or '(none given)'}; "
            f"valid: {', '.join(LAYER_NAMES)}"
        )


def _depth(layers) -> int:
    check_layers(layers)
    return max(LAYER_NAMES.index(name) for name in layers) + 1


def convert_torchvision(state_dict: dict[str, np.ndarray], layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel HWIO, bias) for every conv up to the deepest of `layers`, from a torchvision VGG-16 state dict
    (keys `features.<i>.weight` / `.bias`, as `torchvision.models.vgg16().state_dict()`; a `features.`-less
    dict of `vgg16().features` works too)."""
    params = []
    for name, index, in_channels, out_channels, _ in LAYERS[: _depth(layers)]:
        for prefix in ("features.", ""):
            if f"{prefix}{index}.weight" in state_dict:
                break
        else:
            raise ConfigError(
                f"the VGG-16 weights have no 'features.{index}.weight' (the conv before {name}); expected "
                "torchvision's vgg16 state dict, e.g. vgg16-397923af.pth"
            )
        weight = np.asarray(state_dict[f"{prefix}{index}.weight"], np.float32)
        if weight.shape != (out_channels, in_channels, 3, 3):
            raise ConfigError(
                f"features.{index}.weight has shape {weight.shape}, VGG-16 needs {(out_channels, in_channels, 3, 3)}"
            )
        params.append((weight.transpose(2, 3, 1, 0), np.asarray(state_dict[f"{prefix}{index}.bias"], np.float32)))
    return params


def features(params, images: jax.Array, layers, dtype=jnp.float32) -> list[jax.Array]:
    """The activations after the named ReLUs, in `layers` order. `images`: (B, H, W, 3) in [0, 1]; normalised
    with ImageNet's mean and std inside, as torchvision's VGG expects."""
    x = (images.astype(jnp.float32) - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
    x = x.astype(dtype)
    wanted = set(layers)
    found = {}
    for (name, _, _, _, pool_before), (kernel, bias) in zip(LAYERS, params, strict=False):
        if pool_before:
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        x = jax.lax.conv_general_dilated(
            x, kernel.astype(dtype), (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        x = jax.nn.relu(x + bias.astype(dtype))
        if name in wanted:
            found[name] = x
    return [found[name] for name in layers]


HOW_TO_GET_WEIGHTS = (
    "torchvision's ImageNet VGG-16 weights: download https://download.pytorch.org/models/vgg16-397923af.pth "
    "(528 MB; or `torchvision.models.vgg16(weights='IMAGENET1K_V1').state_dict()` saved with torch.save or "
    "safetensors) and pass --config.inpaint.perceptual_weights=/path/to/vgg16-397923af.pth; or set "
    "--config.inpaint.perceptual_network=none to train without the perceptual loss"
)


def check_weights_file(path: str) -> str:
    """The expanded path of an existing weights file; otherwise an error saying which file is needed and where
    to get it."""
    if not path:
        raise ConfigError(f"config.inpaint.perceptual_network='vgg16' needs {HOW_TO_GET_WEIGHTS}")
    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        raise MissingFileError(
            f"config.inpaint.perceptual_weights={path!r} does not exist. The perceptual loss needs {HOW_TO_GET_WEIGHTS}"
        )
    return expanded


def load(path: str, layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """The frozen conv weights up to the deepest of `layers`, from a torchvision .pth or a .safetensors file."""
    return convert_torchvision(load_state_dict(check_weights_file(path)), layers)


def write_random_weights(path: str, seed: int = 0) -> str:
    """A VGG-16 weights file in torchvision's layout with random values, for timing: the perceptual loss costs the
    same whatever the weights. Never for training."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for _, index, in_channels, out_channels, _ in LAYERS:
        scale = np.sqrt(2.0 / (9 * in_channels))
        tensors[f"features.{index}.weight"] = rng.normal(0.0, scale, (out_channels, in_channels, 3, 3))
        tensors[f"features.{index}.bias"] = np.zeros(out_channels)
    save_float32_safetensors(path, tensors)
    return path
