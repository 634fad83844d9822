"""ImageNet initialisation: timm and torchvision weight files, read without PyTorch, give our models the logits
PyTorch's models give; a file that does not fit fails naming what did not match."""

import logging

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
import safetensors.torch
import timm
import torch
import torchvision
from flax import nnx

from hmtl_jax.config.validation import check_config
from hmtl_jax.errors import ConfigError, MissingFileError
from hmtl_jax.models import create_model
from hmtl_jax.models.imagenet_weights import leaves_from_state_dict, load_imagenet_weights
from hmtl_jax.runtime.checkpointing import initialise_from_imagenet
from tests.helpers import jitted_for, tiny_config

LIBRARIES = {"timm": timm.create_model, "torchvision": torchvision.models.get_model}


def _torch_model(library, name, seed=0):
    """A randomly initialised model of `library`, with BatchNorm's affine parameters and running statistics drawn
    too (fresh ones are 1 and 0, which would hide a scale read as a bias or a mean read as a variance)."""
    torch.manual_seed(seed)
    model = LIBRARIES[library](name).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def _ours(name, num_classes=1000):
    return create_model(name, num_classes=num_classes, dropout_rate=0.0, for_imagenet_weights=True, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    "library,name,suffix",
    [
        ("torchvision", "resnet18", ".pth"),
        ("torchvision", "efficientnet_b0", ".pth"),
        ("timm", "resnet18", ".safetensors"),
        ("timm", "efficientnet_b0", ".safetensors"),
    ],
)
def test_a_weights_file_gives_the_logits_pytorch_gives(library, name, suffix, tmp_path):
    theirs = _torch_model(library, name)
    path = str(tmp_path / f"{name}{suffix}")
    if suffix == ".pth":
        torch.save(theirs.state_dict(), path)
    else:
        safetensors.torch.save_file(theirs.state_dict(), path)
    # An abstract model (initialising one compiles an RNG kernel per parameter shape: slow on CPU); the file fills
    # every leaf, since it has 1,000 classes here too and nothing is left initialised.
    ours = nnx.eval_shape(lambda: _ours(name))
    assert load_imagenet_weights(ours, path) == []
    ours.eval()

    # Pixels in [0, 1] for ours, which normalises them inside; normalised by the usual transform for PyTorch's.
    images = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    normalised = torchvision.transforms.functional.normalize(torch.from_numpy(images).permute(0, 3, 1, 2), mean, std)
    with torch.no_grad():
        expected = theirs(normalised).numpy()
    logits = np.asarray(nnx.jit(lambda model, x: model(x))(ours, images))
    assert np.abs(expected).max() > 0.1  # logits that say something
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("library", ["timm", "torchvision"])
@pytest.mark.parametrize("name", ["efficientnet_b2", "resnet50"])
def test_every_tensor_of_the_larger_models_has_its_place(library, name):
    # The mapping follows the model's structure; the logits test above proves the layouts on B0 and ResNet-18.
    state_dict = {key: value.numpy() for key, value in _torch_model(library, name).state_dict().items()}
    ours = nnx.eval_shape(lambda: _ours(name, num_classes=8))
    leaves, initialised = leaves_from_state_dict(ours, state_dict, name)
    # ImageNet's classifier does not fit 8 emotions: it is the one part left initialised, and said so.
    assert initialised == ["params/head/dense/bias", "params/head/dense/kernel"]
    backbone = [
        f"{collection}/{'/'.join(map(str, path))}"
        for collection, kind in (("params", nnx.Param), ("batch_stats", nnx.BatchStat))
        for path, _ in nnx.to_flat_state(nnx.state(ours.backbone, kind))
    ]
    assert sorted(leaves) == sorted(f"{name.split('/')[0]}/backbone/{name.split('/', 1)[1]}" for name in backbone)


def test_a_file_of_another_model_fails_naming_what_does_not_fit():
    state_dict = {key: value.numpy() for key, value in _torch_model("torchvision", "resnet18").state_dict().items()}
    ours = nnx.eval_shape(lambda: _ours("resnet50"))
    expected = r"resnet18\.pth \(timm or torchvision names\) does not fit ResNet: "
    with pytest.raises(ConfigError, match=expected) as error:
        leaves_from_state_dict(ours, state_dict, "resnet18.pth")
    assert "params/backbone/stages/0/0/conv3/conv/kernel: no layer1.0.conv3.weight in the file" in str(error.value)
    assert "more" in str(error.value)  # every misfit counted, the first ones named


def test_a_run_starts_from_the_file_and_says_what_it_loaded(tmp_path, caplog):
    theirs = _torch_model("timm", "resnet18")
    path = str(tmp_path / "resnet18.safetensors")
    safetensors.torch.save_file(theirs.state_dict(), path)
    config = tiny_config(
        **{"model.name": "resnet18", "model.imagenet_weights": path, "jigsaw.weight": 1.0, "data.image_size": 33}
    )
    check_config(config)
    _, jitted = jitted_for(config)  # eight devices: the loaded arrays take the state's sharding
    fresh = jitted.init(jax.random.key(0))
    caplog.set_level(logging.INFO)
    state = initialise_from_imagenet(path, fresh, jitted.graphdef)
    params, before = (ocp.tree.to_flat_dict(jax.device_get(s.params)) for s in (state, fresh))
    statistics = ocp.tree.to_flat_dict(jax.device_get(state.batch_stats))
    stem = theirs.conv1.weight.detach().numpy().transpose(2, 3, 1, 0)  # OIHW -> HWIO
    np.testing.assert_array_equal(params[("backbone", "stem", "conv", "kernel", "value")], stem)
    np.testing.assert_array_equal(statistics[("backbone", "stem", "bn", "var", "value")], theirs.bn1.running_var)
    for name in params:  # the 8-class emotion head and the jigsaw head keep their initialisation
        if name[0] in ("head", "jigsaw"):
            np.testing.assert_array_equal(params[name], before[name])
    assert "initialised afresh (params/head/dense, params/jigsaw/dense)" in caplog.text


@pytest.mark.parametrize(
    "overrides,error,message",
    [
        ({}, ConfigError, "a model timm and torchvision publish ImageNet weights for: one of efficientnet_b0"),
        ({"model.name": "resnet18", "init_from": "."}, ConfigError, "set config.init_from or config.model.imagenet"),
        ({"model.name": "resnet18"}, MissingFileError, "config.model.imagenet_weights='/nowhere.pth' does not exist"),
    ],
)
def test_imagenet_settings_that_cannot_work_fail_at_start(overrides, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(tiny_config(**{"model.imagenet_weights": "/nowhere.pth", **overrides}))


def test_a_file_of_another_model_is_refused_before_anything_is_compiled(tmp_path):
    path = str(tmp_path / "resnet18.pth")
    torch.save(_torch_model("torchvision", "resnet18").state_dict(), path)
    with pytest.raises(ConfigError, match="does not fit ResNet: params/backbone/stages/0/0/conv1/conv/kernel"):
        check_config(tiny_config(**{"model.name": "resnet50", "model.imagenet_weights": path}))
