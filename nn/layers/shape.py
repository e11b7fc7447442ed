"""Layers that only change the shape of their input (the batch axis is kept)."""

import math

from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer


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
            raise ValueError(f"{type(self).__name__} cannot turn samples of shape "
                             f"{tuple(x_shape[1:])} into {self.shape}")
        return shape

    def forward(self, x):
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self._sample_shape(x.shape))

    def backward(self, dout):
        shape = saved_by_forward(self, "_shape")
        out_shape = (shape[0],) + self._sample_shape(shape)
        return checked_upstream(self, dout, out_shape).reshape(shape)


class Flatten(Reshape):
    """(N, d1, d2, ...) -> (N, d1*d2*...): ``Reshape((-1,))``."""

    def __init__(self):
        super().__init__((-1,))

    def extra_repr(self):
        return ""
