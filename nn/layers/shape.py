"""Layers that only change the shape of their input (the batch axis is kept)."""

from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x):
        self._shape = x.shape
        y = x.reshape(x.shape[0], -1)
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

    def forward(self, x):
        self._shape = x.shape
        y = x.reshape((x.shape[0],) + self.shape)
        self._out_shape = y.shape
        return y

    def backward(self, dout):
        shape = saved_by_forward(self, "_shape")
        return checked_upstream(self, dout, self._out_shape).reshape(shape)
