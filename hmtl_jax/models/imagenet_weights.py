"""ImageNet initialisation: timm or torchvision weights for efficientnet_b0/b1/b2, resnet18 and resnet50.

The file is read by the safe reader of `torch_weights.py` (`.safetensors`, or `.pth` without running pickled code).
Every tensor is mapped by name, from either library's names (the model's own structure says which layer each is),
and converted to flax's layouts: conv OIHW -> HWIO (a depthwise conv's (C, 1, k, k) -> (k, k, 1, C)), linear
(out, in) -> (in, out), BatchNorm weight/bias/running_mean/running_var -> scale/bias/mean/var. A file that does not
fit the model fails with the list of what did not match: tensors of the file the model has no place for, and
parameters of the model the file does not fill. The one exception is the classifier: ImageNet's 1,000 classes do not
fit an 8-class emotion head, which then stays initialised (and is named so).

Where users get the files (none of them can be downloaded on the machines this project is tested on):
  torchvision  torchvision.models.resnet50(weights="IMAGENET1K_V2").state_dict() saved with torch.save, or the .pth
               of https://download.pytorch.org/models/ (resnet18-f37072fd.pth, resnet50-11ad3fa6.pth,
               efficientnet_b0_rwightman-7f5810bc.pth, efficientnet_b2_rwightman-c35c1473.pth)
  timm         model.safetensors of https://huggingface.co/timm/<name>.<tag> (e.g. timm/efficientnet_b0.ra_in1k,
               timm/resnet50.a1_in1k), or timm.create_model(name, pretrained=True).state_dict() saved
Both libraries train these models with PyTorch's BatchNorm epsilon, 1e-5, which our EfficientNet does not use by
default (1e-3, as the paper's Keras code), and expect ImageNet's input normalisation: a model built for ImageNet
weights (`create_model(..., for_imagenet_weights=True)`, which `config.model.imagenet_weights` asks for) takes both.
"""

from __future__ import annotations

import os

import numpy as np
from flax import nnx

from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.models.efficientnet import EfficientNet
from hmtl_jax.models.resnet import Bottleneck, ResNet
from hmtl_jax.models.torch_weights import load_state_dict

HEAD = "head/dense"
IMAGENET_MODELS = ("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "resnet18", "resnet50")


def check_imagenet_weights(path: str) -> str:
    """The expanded path of an existing weights file, or an error saying where such files come from."""
    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        raise MissingFileError(
            f"config.model.imagenet_weights={path!r} does not exist: give a timm or torchvision ImageNet weights file "
            "(.safetensors or .pth; where to get them: hmtl_jax/models/imagenet_weights.py)"
        )
    return expanded


def _conv_bn(ours: str, conv: str, bn: str) -> list[tuple[str, str, str]]:
    return [(f"{ours}/conv", conv, "conv"), (f"{ours}/bn", bn, "bn")]


def _resnet_layers(backbone: ResNet) -> list[tuple[str, str, str]]:
    """timm and torchvision name a ResNet alike: conv1/bn1, layer<i>.<j>.conv<k>/bn<k>, downsample.0/1, fc."""
    layers = _conv_bn("backbone/stem", "conv1", "bn1")
    for i, stage in enumerate(backbone.stages):
        for j, block in enumerate(stage):
            ours, theirs = f"backbone/stages/{i}/{j}", f"layer{i + 1}.{j}"
            for k in (1, 2, 3) if isinstance(block, Bottleneck) else (1, 2):
                layers += _conv_bn(f"{ours}/conv{k}", f"{theirs}.conv{k}", f"{theirs}.bn{k}")
            if block.shortcut is not None:
                layers += _conv_bn(f"{ours}/shortcut", f"{theirs}.downsample.0", f"{theirs}.downsample.1")
    return layers + [(HEAD, "fc", "linear")]


def _efficientnet_layers(backbone: EfficientNet, library: str) -> list[tuple[str, str, str]]:
    if library == "torchvision":  # features.0 stem, features.<s+1>.<j>.block.<k>, features.8 head conv, classifier.1
        layers = _conv_bn("backbone/stem", "features.0.0", "features.0.1")
        for s, stage in enumerate(backbone.stages):
            for j, block in enumerate(stage):
                ours, theirs = f"backbone/stages/{s}/{j}", f"features.{s + 1}.{j}.block"
                parts = (["expand"] if block.expand is not None else []) + ["depthwise", "se", "project"]
                for k, part in enumerate(parts):
                    if part == "se":
                        layers += [(f"{ours}/se/reduce", f"{theirs}.{k}.fc1", "conv_bias")]
                        layers += [(f"{ours}/se/expand", f"{theirs}.{k}.fc2", "conv_bias")]
                    else:
                        layers += _conv_bn(f"{ours}/{part}", f"{theirs}.{k}.0", f"{theirs}.{k}.1")
        last = f"features.{len(backbone.stages) + 1}"
        return layers + _conv_bn("backbone/conv_head", f"{last}.0", f"{last}.1") + [(HEAD, "classifier.1", "linear")]
    # timm: conv_stem/bn1, blocks.<s>.<j>.{conv_pw, conv_dw, se, conv_pwl} (no conv_pwl without expansion: its
    # projection is conv_pw), conv_head/bn2, classifier
    layers = _conv_bn("backbone/stem", "conv_stem", "bn1")
    for s, stage in enumerate(backbone.stages):
        for j, block in enumerate(stage):
            ours, theirs = f"backbone/stages/{s}/{j}", f"blocks.{s}.{j}"
            if block.expand is not None:
                layers += _conv_bn(f"{ours}/expand", f"{theirs}.conv_pw", f"{theirs}.bn1")
                layers += _conv_bn(f"{ours}/depthwise", f"{theirs}.conv_dw", f"{theirs}.bn2")
                layers += _conv_bn(f"{ours}/project", f"{theirs}.conv_pwl", f"{theirs}.bn3")
            else:
                layers += _conv_bn(f"{ours}/depthwise", f"{theirs}.conv_dw", f"{theirs}.bn1")
                layers += _conv_bn(f"{ours}/project", f"{theirs}.conv_pw", f"{theirs}.bn2")
            layers += [(f"{ours}/se/reduce", f"{theirs}.se.conv_reduce", "conv_bias")]
            layers += [(f"{ours}/se/expand", f"{theirs}.se.conv_expand", "conv_bias")]
    return layers + _conv_bn("backbone/conv_head", "conv_head", "bn2") + [(HEAD, "classifier", "linear")]


def _conv(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)  # OIHW -> HWIO; a depthwise (C, 1, k, k) -> (k, k, 1, C)


# Per layer kind: (our leaf, its collection, their tensor suffix, conversion).
_LEAVES = {
    "conv": [("kernel", "params", "weight", _conv)],
    "conv_bias": [("kernel", "params", "weight", _conv), ("bias", "params", "bias", None)],
    "linear": [("kernel", "params", "weight", np.transpose), ("bias", "params", "bias", None)],
    "bn": [
        ("scale", "params", "weight", None),
        ("bias", "params", "bias", None),
        ("mean", "batch_stats", "running_mean", None),
        ("var", "batch_stats", "running_var", None),
    ],
}
# What a PyTorch state dict holds besides the weights: BatchNorm's step counter, which no flax model keeps.
_IGNORED_SUFFIX = ".num_batches_tracked"


def _library(names) -> str:
    if "conv_stem.weight" in names:
        return "timm"
    if "features.0.0.weight" in names:
        return "torchvision"
    return "timm or torchvision"  # a ResNet: both name it alike


def imagenet_leaves(model: nnx.Module, path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """({'params/backbone/stem/conv/kernel': array in our layout, ...}, leaves left initialised) for `model` (a
    Classifier, concrete or abstract) from the weights file at `path`. Raises ConfigError naming every tensor that
    does not fit, unless the only misfit is the classifier (then it is the list of leaves left initialised)."""
    return leaves_from_state_dict(model, load_state_dict(check_imagenet_weights(path)), path)


def load_imagenet_weights(model: nnx.Module, path: str) -> list[str]:
    """Fill `model` (a Classifier, concrete or abstract) in place from the weights file at `path`; returns the
    leaves left initialised (the classifier when the classes differ)."""
    leaves, initialised = imagenet_leaves(model, path)
    for name, variable in _variables(model).items():
        if name in leaves:
            variable.set_value(leaves[name])
    return initialised


def _variables(model: nnx.Module) -> dict[str, nnx.Variable]:
    """{'params/backbone/stem/conv/kernel': the model's own Variable, ...}: parameters and BatchNorm statistics."""
    return {
        f"{collection}/{'/'.join(map(str, name))}": variable
        for collection, kind in (("params", nnx.Param), ("batch_stats", nnx.BatchStat))
        for name, variable in nnx.to_flat_state(nnx.state(model, kind))
    }


def leaves_from_state_dict(
    model: nnx.Module, state_dict: dict[str, np.ndarray], source: str
) -> tuple[dict[str, np.ndarray], list[str]]:
    """As `imagenet_leaves`, from a state dict already read (`source` names it in errors)."""
    library = _library(state_dict)
    backbone = model.backbone
    if isinstance(backbone, ResNet):
        layers = _resnet_layers(backbone)
    elif library == "timm or torchvision":
        raise ConfigError(f"{source} holds no EfficientNet of timm or torchvision (no conv_stem nor features.0.0)")
    else:
        layers = _efficientnet_layers(backbone, library)
    ours = _variables(model)
    leaves, problems, head = {}, [], {}  # head: the classifier's leaves that do not fit, and why
    used = set()
    for our_layer, their_layer, kind in layers:
        for our_leaf, collection, their_suffix, convert in _LEAVES[kind]:
            name, theirs = f"{collection}/{our_layer}/{our_leaf}", f"{their_layer}.{their_suffix}"
            if name not in ours:
                problems.append(f"{name}: not in the model")  # a mapping that disagrees with the model
                continue
            if theirs not in state_dict:
                problems.append(f"{name}: no {theirs} in the file")
                continue
            used.add(theirs)
            array = state_dict[theirs] if convert is None else convert(state_dict[theirs])
            wanted = tuple(np.shape(ours[name].get_value()))
            if array.shape != wanted:
                misfit = f"{theirs} is {tuple(array.shape)}, the model needs {wanted}"
                if our_layer == HEAD:
                    head[name] = misfit
                else:
                    problems.append(f"{name}: {misfit}")
                continue
            leaves[name] = np.asarray(array, np.float32)
    problems += [f"{theirs}: not used" for theirs in state_dict if theirs not in used and not theirs.endswith(
        _IGNORED_SUFFIX)]  # fmt: skip
    mapped = ("params/backbone/", "batch_stats/backbone/", f"params/{HEAD}/")  # the pretext heads are not ImageNet's
    problems += [f"{name}: not filled" for name in ours if name.startswith(mapped) and name not in leaves | head]
    if problems:
        shown = "; ".join(problems[:12]) + (f"; and {len(problems) - 12} more" if len(problems) > 12 else "")
        raise ConfigError(f"{source} ({library} names) does not fit {type(backbone).__name__}: {shown}")
    return leaves, sorted(head)
