"""The VGG-16 perceptual network: torchvision's numbers from torchvision's files, read without running pickles."""

import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file

from hmtl_jax.config.validation import check_config
from hmtl_jax.models import vgg16
from hmtl_jax.models.torch_weights import UnsafePickleError, load_state_dict
from tests.helpers import backbone_grad_norm, tiny_config

LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


@pytest.fixture(scope="module")
def torch_vgg(tmp_path_factory):
    """A randomly initialised torchvision VGG-16, its features saved in the three file formats we read."""
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    # Only the conv part: the 400 MB classifier is not read and would only slow the test down.
    state = {k: v for k, v in model.state_dict().items() if k.startswith("features.")}
    root = tmp_path_factory.mktemp("vgg")
    paths = {
        "zip": str(root / "vgg16.pth"),
        "legacy": str(root / "vgg16_legacy.pth"),
        "safetensors": str(root / "vgg16.safetensors"),
    }
    torch.save(state, paths["zip"])
    torch.save(state, paths["legacy"], _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items()}, paths["safetensors"])
    return model, paths


def _torchvision_activations(model, images_nhwc: np.ndarray) -> list[np.ndarray]:
    """Activations after torchvision's relu1_2/2_2/3_3/4_3 (features indices 3, 8, 15, 22)."""
    x = torch.from_numpy(images_nhwc.transpose(0, 3, 1, 2).copy())
    mean = torch.tensor(vgg16.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(vgg16.IMAGENET_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    out = []
    with torch.no_grad():
        for index, layer in enumerate(model.features[:23]):
            x = layer(x)
            if index in (3, 8, 15, 22):
                out.append(x.numpy().transpose(0, 2, 3, 1))
    return out


@pytest.mark.parametrize("file_format", ["zip", "legacy", "safetensors"])
def test_vgg16_features_match_torchvision_on_the_same_weights(torch_vgg, file_format):
    model, paths = torch_vgg
    images = np.random.default_rng(0).random((2, 50, 50, 3), dtype=np.float32)  # odd size: pooling floors
    params = vgg16.load(paths[file_format], LAYERS)
    ours = vgg16.features(params, jnp.asarray(images), LAYERS)
    for name, got, want in zip(LAYERS, ours, _torchvision_activations(model, images), strict=True):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5 * np.abs(want).max(), err_msg=name)


def test_state_dict_reader_returns_every_tensor_exactly(torch_vgg):
    model, paths = torch_vgg
    expected = {k: v.numpy() for k, v in model.state_dict().items() if k.startswith("features.")}
    for path in paths.values():
        loaded = load_state_dict(path)
        assert loaded.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(loaded[key], expected[key])


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pickle_that_would_run_code_is_refused_unexecuted(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "evil.pth")
    torch.save(
        {"features.0.weight": torch.zeros(1), "payload": _Exploit(marker)},
        path,
        _use_new_zipfile_serialization=not legacy,
    )
    with pytest.raises(UnsafePickleError, match="refusing to load"):
        load_state_dict(path)
    assert not marker.exists()


def test_a_whole_pickled_model_is_refused_with_a_hint(tmp_path):
    path = str(tmp_path / "model.pth")
    torch.save(torch.nn.Conv2d(3, 4, 3), path)
    with pytest.raises(pickle.UnpicklingError, match=r"state_dict\(\)"):
        load_state_dict(path)


def test_missing_or_wrong_weights_are_clear_errors(tmp_path):
    config = tiny_config(**{"inpaint.weight": 1.0, "inpaint.perceptual_network": "vgg16"})
    with pytest.raises(ValueError, match="vgg16-397923af.pth"):
        check_config(config)
    config = tiny_config(
        **{
            "inpaint.weight": 1.0,
            "inpaint.perceptual_network": "vgg16",
            "inpaint.perceptual_weights": str(tmp_path / "nowhere.pth"),
        }
    )
    with pytest.raises(FileNotFoundError, match="does not exist.*download.pytorch.org"):
        check_config(config)
    wrong = str(tmp_path / "resnet.safetensors")
    save_file({"conv1.weight": torch.zeros(64, 3, 7, 7)}, wrong)
    with pytest.raises(ValueError, match="features.0.weight"):
        vgg16.load(wrong, LAYERS)
    with pytest.raises(ValueError, match="unknown VGG-16 layers"):
        vgg16.check_layers(("relu9_9",))


def test_perceptual_loss_trains_the_backbone_through_the_frozen_network(torch_vgg):
    _, paths = torch_vgg
    common = {
        "data.image_size": 48,
        "loss.emotion_weight": 0.0,
        "inpaint.weight": 1.0,
        "inpaint.perceptual_network": "vgg16",
        "inpaint.perceptual_weights": paths["safetensors"],
        "inpaint.perceptual_layers": ("relu1_2", "relu2_2"),
    }
    _, without, grads_without = backbone_grad_norm(tiny_config(**common, **{"inpaint.perceptual_weight": 0.0}))
    _, with_, grads_with = backbone_grad_norm(tiny_config(**common, **{"inpaint.perceptual_weight": 1.0}))
    assert "perceptual_loss" in with_ and with_["perceptual_loss"] > 0
    assert with_["pixel_loss"] == pytest.approx(without["pixel_loss"])
    difference = jax.tree.map(
        lambda a, b: float(np.abs(a - b).max()), grads_with["backbone"], grads_without["backbone"]
    )
    assert max(jax.tree.leaves(difference)) > 1e-6, "the perceptual term changed no backbone gradient"
