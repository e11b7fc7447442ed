"""Inverted dropout (Srivastava et al. 2014), deterministic under a seed."""

import numpy as np

from nn.backend import get_array_module
from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer, floating


_IDENTITY = 1.0  # the saved scale of a forward that dropped nothing (eval mode or p = 0)


class Dropout(Layer):
    """Zero each element with probability ``p`` in training mode, scale survivors by 1/(1-p).

    ``E[y] = x``, so evaluation mode is the identity. The mask comes from a generator seeded
    with ``seed`` (one per array library: NumPy's PCG64 on the CPU, CuPy's generator on the
    GPU, so the two devices draw different masks for the same seed); ``reset_rng()``
    restarts the stream. Without a ``seed`` one is drawn from the operating system's entropy
    when the layer is made, so ``reset_rng()`` still replays the same masks (as a gradient
    check needs). With ``mask = [u >= p]``, ``u ~ U[0, 1)`` drawn per element:
    ``y = x * mask / (1 - p)`` and ``dx = dout * mask / (1 - p)``; ``p = 1`` gives zeros.
    """

    def __init__(self, p=0.5, seed=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.p, self.seed = float(p), int(seed)
        self._rngs = {}

    def extra_repr(self):
        return f"p={self.p}"

    def reset_rng(self):
        self._rngs = {}

    def _uniform(self, xp, shape, dtype):
        key = "cpu" if xp is np else "gpu"
        if key not in self._rngs:
            self._rngs[key] = (np.random.default_rng(self.seed) if xp is np
                               else xp.random.RandomState(self.seed))
        if xp is np:
            return self._rngs[key].random(shape, dtype=dtype)
        return self._rngs[key].random_sample(shape, dtype=dtype)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._scale = _IDENTITY
            return x
        xp = get_array_module(x)
        x = floating(x)
        # the generators draw float32 or float64 only; float16 input compares float32 draws
        draws = self._uniform(xp, x.shape, np.float64 if x.dtype == np.float64 else np.float32)
        keep = draws >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        self._scale = keep * x.dtype.type(scale)
        return x * self._scale

    def backward(self, dout):
        scale = saved_by_forward(self, "_scale")
        # in eval mode (or p = 0) the layer is the identity and passes any dout on
        return dout if scale is _IDENTITY else checked_upstream(self, dout, scale.shape) * scale
