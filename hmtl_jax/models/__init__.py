"""Model zoo: `create_model(name, ...)` builds a backbone with the emotion head; `from_config.build_model` adds the
pretext heads a config turns on. Also the frozen VGG-16 of the perceptual loss, a safe reader of PyTorch weight
files (`torch_weights.py`) and the mapping of timm's and torchvision's ImageNet weights (`imagenet_weights.py`).

Mode: a new model is in train mode (BatchNorm on batch statistics, dropout on). `model.eval()` switches every
BatchNorm to its running averages and every Dropout off; `model.train()` switches back (flax's
`nnx.Module.train/eval`, which set `use_running_average` and `deterministic` in place).

Imports: flax, jax, numpy; from hmtl_jax only `config.tasks` (in `from_config.py`).
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from hmtl_jax.errors import ConfigError
from hmtl_jax.models.classifier import IMAGENET_NORMALISATION, Classifier, EmotionHead
from hmtl_jax.models.efficientnet import BN_EPSILON as EFFICIENTNET_BN_EPSILON
from hmtl_jax.models.efficientnet import EFFICIENTNETS, EfficientNet
from hmtl_jax.models.layers import PYTORCH_BN_EPSILON
from hmtl_jax.models.resnet import RESNETS, ResNet

MODEL_NAMES: tuple[str, ...] = tuple(EFFICIENTNETS) + tuple(RESNETS)

__all__ = ["MODEL_NAMES", "Classifier", "EmotionHead", "create_model"]


def create_model(
    name: str,
    *,
    num_classes: int,
    dropout_rate: float = 0.3,
    for_imagenet_weights: bool = False,
    dtype=jnp.float32,
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
) -> Classifier:
    """`dtype` is the compute dtype (bf16 for mixed precision), used by every Conv, Linear and BatchNorm;
    parameters are stored in `param_dtype`. Logits are float32 either way. `rngs` needs a `params` (or default)
    stream; it is used only at construction. `for_imagenet_weights`: built as timm's and torchvision's ImageNet
    weights were trained, with PyTorch's BatchNorm epsilon (ResNets use it anyway) and ImageNet's mean and standard
    deviation normalising the input inside the model (models/imagenet_weights.py fills it)."""
    common = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
    if name in EFFICIENTNETS:
        epsilon = PYTORCH_BN_EPSILON if for_imagenet_weights else EFFICIENTNET_BN_EPSILON
        backbone = EfficientNet(*EFFICIENTNETS[name], bn_epsilon=epsilon, **common)
    elif name in RESNETS:
        backbone = ResNet(RESNETS[name], **common)
    else:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    head = EmotionHead(backbone.num_features, num_classes, dropout_rate, **common)
    return Classifier(backbone, head, input_normalisation=IMAGENET_NORMALISATION if for_imagenet_weights else None)
