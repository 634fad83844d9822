"""The zoo matches the reference architectures' parameter counts and behaves right in train and eval mode.

Speed: random initialisation compiles one RNG kernel per parameter shape (tens of seconds for an EfficientNet on a
small CPU), so the large models are built abstractly (`nnx.eval_shape`) and, where a forward pass is needed, filled
with numpy values. Only `resnet_tiny` goes through the real initialisers. Forward passes run under `nnx.jit`, as in
training.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hmtl_jax.models import MODEL_NAMES, create_model


def _abstract(name: str, **kwargs):
    kwargs.setdefault("num_classes", 8)
    return nnx.eval_shape(lambda: create_model(name, rngs=nnx.Rngs(0), **kwargs))


def _materialise(abstract):
    """Concrete values for an abstract model without compiling the initialisers: small random Params, and BatchNorm
    statistics of one (a valid mean and variance)."""
    graphdef, params, batch_stats = nnx.split(abstract, nnx.Param, nnx.BatchStat)
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: jnp.asarray(rng.normal(0.0, 0.05, s.shape), s.dtype), params)
    batch_stats = jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), batch_stats)
    return nnx.merge(graphdef, params, batch_stats)


@nnx.jit
def _forward(model, images, rngs=None):
    features = model.features(images)
    return model.head(features[-1], rngs=rngs), features


def _count(model) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)))


@pytest.fixture(scope="module")
def tiny():
    """A really initialised resnet_tiny; tests take a clone, since running it in train mode mutates it."""
    return create_model("resnet_tiny", num_classes=8, dropout_rate=0.5, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "resnet18", "resnet50"])
def test_parameter_count_matches_reference(name):
    """As many parameters as torchvision's model of the same name with the same 1000-class head (5,288,548 for
    EfficientNet-B0, as timm's; 25,557,032 for ResNet-50), counted here from torchvision's model on the meta device
    (built without memory or initialisation)."""
    import torch
    import torchvision

    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(num_classes=1000)
    assert _count(_abstract(name, num_classes=1000)) == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_gives_float32_logits_and_shrinking_features(name):
    model = _materialise(_abstract(name))
    model.eval()
    logits, features = _forward(model, jnp.ones((2, 64, 64, 3)))
    assert logits.shape == (2, 8) and logits.dtype == jnp.float32
    assert np.isfinite(np.asarray(logits)).all()
    sizes = [f.shape[1] for f in features]
    assert len(sizes) == 4 and all(a > b for a, b in zip(sizes, sizes[1:], strict=False)), sizes
    assert features[-1].shape[-1] == model.backbone.num_features


def test_train_mode_updates_batch_statistics_and_eval_mode_does_not(tiny):
    model = nnx.clone(tiny)
    images = jax.random.uniform(jax.random.key(1), (4, 32, 32, 3))
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat))

    model.eval()
    first, _ = _forward(model, images)
    second, _ = _forward(model, images)
    np.testing.assert_array_equal(first, second)  # no dropout, running averages: deterministic
    jax.tree.map(np.testing.assert_array_equal, before, nnx.state(model, nnx.BatchStat))

    model.train()
    _forward(model, images, nnx.Rngs(dropout=0))
    unchanged = jax.tree.leaves(jax.tree.map(np.array_equal, before, nnx.state(model, nnx.BatchStat)))
    assert unchanged and not any(unchanged)  # every running mean and variance moved


def test_dropout_draws_from_the_rngs_given_per_call(tiny):
    model = nnx.clone(tiny)
    model.train()
    images = jax.random.uniform(jax.random.key(1), (4, 32, 32, 3))
    a, _ = _forward(model, images, nnx.Rngs(dropout=0))
    b, _ = _forward(model, images, nnx.Rngs(dropout=1))
    assert not np.allclose(a, b)
    # The model keeps no RNG state of its own: only parameters and BatchNorm statistics.
    assert not jax.tree.leaves(nnx.state(model, nnx.RngState))


def test_dropout_is_the_same_for_the_same_seed_and_differs_for_another(tiny):
    model = nnx.clone(tiny)
    model.train()
    # The head's dropout on ones: its output is the mask itself, kept entries scaled by 1 / (1 - 0.5).
    ones = jnp.ones((64, 16))
    masks = {seed: np.asarray(model.head.dropout(ones, rngs=nnx.Rngs(dropout=seed))) for seed in (0, 1)}
    np.testing.assert_array_equal(np.asarray(model.head.dropout(ones, rngs=nnx.Rngs(dropout=0))), masks[0])
    assert set(np.unique(masks[0])) == {0.0, 2.0} and 0.4 < np.mean(masks[0] == 0) < 0.6
    assert not np.array_equal(masks[0], masks[1])
    # The whole head in train mode (eager, as a loss function would call it): same seed, same logits.
    features = jax.random.uniform(jax.random.key(2), (4, 2, 2, model.backbone.num_features))
    logits = [np.asarray(model.head(features, rngs=nnx.Rngs(dropout=seed))) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(logits[0], logits[1])
    assert not np.allclose(logits[0], logits[2])


def test_bf16_compute_keeps_fp32_parameters_and_logits():
    model = _materialise(_abstract("efficientnet_b0", dtype=jnp.bfloat16))
    model.eval()
    logits, features = _forward(model, jnp.ones((1, 64, 64, 3)))
    assert logits.dtype == jnp.float32 and np.isfinite(np.asarray(logits)).all()
    assert all(f.dtype == jnp.bfloat16 for f in features)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="efficientnet_b0.*resnet50"):
        create_model("vit_b16", num_classes=8, rngs=nnx.Rngs(0))
