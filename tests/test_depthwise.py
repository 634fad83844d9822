"""The CPU form of depthwise convolution: the same values and gradients as lax's grouped convolution, and the form
EfficientNet's depthwise layers really take on CPU."""

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from hmtl_jax.models import create_model
from hmtl_jax.models.depthwise import depthwise_conv_general_dilated


def _conv(kernel: int, stride: int, dtype, implementation):
    conv = nnx.Conv(
        24, 24, (kernel, kernel), strides=(stride, stride), padding=((kernel // 2, kernel // 2),) * 2,
        feature_group_count=24, use_bias=False, dtype=dtype, rngs=nnx.Rngs(0),
        conv_general_dilated=implementation,
    )  # fmt: skip
    return conv


@pytest.mark.parametrize("kernel,stride,dtype", [(3, 1, jnp.float32), (5, 2, jnp.float32), (3, 2, jnp.bfloat16)])
def test_shifted_depthwise_gives_lax_values_and_gradients(kernel, stride, dtype):
    x = jax.random.normal(jax.random.key(1), (4, 17, 17, 24))
    reference = _conv(kernel, stride, dtype, lax.conv_general_dilated)
    shifted = _conv(kernel, stride, dtype, depthwise_conv_general_dilated)

    def loss(model, x):
        return jnp.sum(jnp.sin(model(x).astype(jnp.float32)))

    ref_out, (ref_kernel_grad, ref_x_grad) = reference(x), jax.grad(lambda k, x: loss(k, x), (0, 1))(reference, x)
    out, (kernel_grad, x_grad) = shifted(x), jax.grad(lambda k, x: loss(k, x), (0, 1))(shifted, x)
    assert out.shape == ref_out.shape == (4, -(-17 // stride), -(-17 // stride), 24) and out.dtype == ref_out.dtype
    tolerance = 1e-5 if dtype == jnp.float32 else 2e-2
    np.testing.assert_allclose(np.float32(out), np.float32(ref_out), atol=tolerance, rtol=tolerance)
    np.testing.assert_allclose(x_grad, ref_x_grad, atol=tolerance, rtol=tolerance)
    # The kernel's gradient sums 4 x 17 x 17 products per weight: the summation order shows in the last digits.
    np.testing.assert_allclose(
        kernel_grad.kernel[...], ref_kernel_grad.kernel[...], atol=10 * tolerance, rtol=10 * tolerance
    )


def _conv_groups(fn, *args) -> list[int]:
    """feature_group_count of every convolution in the jaxpr of fn(*args), nested calls included."""
    groups = []

    def visit(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "conv_general_dilated":
                groups.append(eqn.params["feature_group_count"])
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                visit(sub)

    visit(jax.make_jaxpr(fn)(*args).jaxpr)
    return groups


def test_efficientnet_on_cpu_runs_no_grouped_convolution():
    # Abstract parameters: only the traced program is looked at, so nothing is initialised (eagerly, the slow part).
    model = nnx.eval_shape(lambda: create_model("efficientnet_b0", num_classes=8, rngs=nnx.Rngs(0)))
    model.eval()
    graphdef, state = nnx.split(model)
    images = jnp.zeros((2, 64, 64, 3))
    groups = _conv_groups(lambda s, x: nnx.merge(graphdef, s)(x), state, images)
    assert groups and set(groups) == {1}, groups  # the regular convolutions are still lax's
    # The same model with lax's grouped convolution has 16 depthwise convolutions, one per MBConv block.
    for _, module in nnx.iter_modules(model):
        if isinstance(module, nnx.Conv) and module.feature_group_count > 1:
            module.conv_general_dilated = lax.conv_general_dilated
    graphdef, state = nnx.split(model)
    grouped = [g for g in _conv_groups(lambda s, x: nnx.merge(graphdef, s)(x), state, images) if g > 1]
    assert len(grouped) == 16
