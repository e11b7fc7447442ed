"""Layers that only change the shape of their input (the batch axis is kept)."""

import math

from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x):
        self._shape = x.shape
        # the feature count spelled out: reshape(N, -1) cannot infer it for an empty batch
        y = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        self._out_shape = y.shape
        return y

    def backward(self, dout):
        shape = saved_by_forward(self, "_shape")
        return checked_upstream(self, dout, self._out_shape).reshape(shape)


class Reshape(Layer):
    """(N, ...) -> (N, *shape); ``shape`` excludes the batch axis and may hold one -1."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def extra_repr(self):
        return f"{self.shape}"

    def _sample_shape(self, x_shape):
        """``self.shape`` with its -1 worked out from one sample's size (``reshape`` cannot
        infer it for an empty batch); ValueError when the sizes do not fit."""
        size = math.prod(x_shape[1:])
        known = math.prod(s for s in self.shape if s != -1)
        shape = tuple(size // known if s == -1 and known else s for s in self.shape)
        if math.prod(shape) != size:
            raise ValueError(f"Reshape cannot turn samples of shape {tuple(x_shape[1:])} into {self.shape}")
        return shape

    def forward(self, x):
        self._shape = x.shape
        y = x.reshape((x.shape[0],) + self._sample_shape(x.shape))
        self._out_shape = y.shape
        return y

    def backward(self, dout):
        shape = saved_by_forward(self, "_shape")
        return checked_upstream(self, dout, self._out_shape).reshape(shape)
