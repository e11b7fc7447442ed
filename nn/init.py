"""Weight initialisers (He and Xavier), drawn on the host so a seed gives the same weights
on the CPU and the GPU.

``fan_in = in_channels * kh * kw`` (or ``in_features``), ``fan_out = out_channels * kh * kw``.
He (Kaiming) normal, for ReLU-like layers: ``W ~ N(0, 2 / fan_in)``, a variance of
``2 / fan_in`` (standard deviation ``sqrt(2 / fan_in)``; He et al. 2015).
Xavier (Glorot) uniform, for tanh / sigmoid / linear layers:
``W ~ U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio 2010).
"""

import math

import numpy as np

INITIALIZERS = ("he", "xavier")


def make_rng(rng):
    """A ``numpy.random.Generator`` from ``None`` (fresh entropy), an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def he_normal(shape, fan_in, rng=None, dtype=np.float32):
    """Samples of ``N(0, 2 / fan_in)`` (variance ``2 / fan_in``) with the given shape."""
    std = math.sqrt(2.0 / fan_in)
    return (make_rng(rng).standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, fan_in, fan_out, rng=None, dtype=np.float32):
    """Samples of ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``, with the given shape."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return make_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def initialize(kind, shape, fan_in, fan_out, rng=None, dtype=np.float32):
    """Dispatch on ``kind`` in ``("he", "xavier")``."""
    if kind == "he":
        return he_normal(shape, fan_in, rng, dtype)
    if kind == "xavier":
        return xavier_uniform(shape, fan_in, fan_out, rng, dtype)
    raise ValueError(f"unknown initializer {kind!r}; choose one of {', '.join(INITIALIZERS)}")
