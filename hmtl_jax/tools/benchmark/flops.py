"""Analytic FLOPs of a jitted function: 2 x multiply-adds of every convolution and matrix product in its jaxpr.

Why not XLA's cost analysis: on GPU it does not count the convolutions that run as cuDNN calls
(docs/PERFORMANCE.md), which are nearly all of a CNN's work. Elementwise work is left out on purpose: the floor it
feeds compares matrix-unit work with the matrix peak.
"""

from __future__ import annotations

import math

import jax
from jax.extend import core as jax_core


def _conv_flops(eqn) -> int:
    out_elements = math.prod(eqn.outvars[0].aval.shape)
    rhs = eqn.invars[1].aval.shape
    out_feature_dim = eqn.params["dimension_numbers"].rhs_spec[0]
    return 2 * out_elements * math.prod(rhs) // rhs[out_feature_dim]


def _dot_flops(eqn) -> int:
    (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return 2 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[d] for d in lhs_contracting)


def _sub_jaxprs(value):
    if isinstance(value, jax_core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jax_core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def jaxpr_flops(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "conv_general_dilated":
            total += _conv_flops(eqn)
        elif name == "dot_general":
            total += _dot_flops(eqn)
        elif name == "cond":  # one branch runs: count the dearest
            total += max(jaxpr_flops(b.jaxpr) for b in eqn.params["branches"])
        else:
            inner = sum(jaxpr_flops(j) for value in eqn.params.values() for j in _sub_jaxprs(value))
            total += inner * (eqn.params.get("length", 1) if name == "scan" else 1)
    return total


def count_flops(fn, *args) -> int:
    """FLOPs of one call of `fn(*args)` (args may be ShapeDtypeStructs)."""
    return jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)
