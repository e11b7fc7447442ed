"""Element-wise activations and softmax. Each caches what its backward needs: ReLU a bool mask,
LeakyReLU the slope of each element, Tanh, Sigmoid and Softmax their output."""

from nn.backend import get_array_module
from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer, floating, shape_of


class ReLU(Layer):
    """``y = max(x, 0)``; ``dx = dout * [x > 0]`` (the kink at 0 gets gradient 0)."""

    def forward(self, x):
        xp = get_array_module(x)
        self._mask = x > 0
        # maximum, not x * mask: -inf * 0 would be NaN, and a NaN input stays NaN
        return xp.maximum(x, x.dtype.type(0))

    def backward(self, dout):
        mask = saved_by_forward(self, "_mask")
        return checked_upstream(self, dout, mask.shape) * mask


class LeakyReLU(Layer):
    """``y = x`` for ``x > 0``, else ``negative_slope * x``;
    ``dx = dout * (1 if x > 0 else negative_slope)``."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def _slope(self, x):
        xp = get_array_module(x)
        # Python floats are weak scalars in NumPy 2, so where() keeps x's dtype.
        return xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))

    def forward(self, x):
        x = floating(x)
        self._scale = self._slope(x)
        return x * self._scale

    def backward(self, dout):
        scale = saved_by_forward(self, "_scale")
        return checked_upstream(self, dout, scale.shape) * scale


class Tanh(Layer):
    """``y = tanh(x)``; ``dx = dout * (1 - y^2)``."""

    def forward(self, x):
        xp = get_array_module(x)
        self._y = xp.tanh(floating(x))
        return self._y

    def backward(self, dout):
        y = saved_by_forward(self, "_y")
        return checked_upstream(self, dout, y.shape) * (1 - y * y)


class Sigmoid(Layer):
    """``y = 1 / (1 + e^-x)``; ``dx = dout * y (1 - y)``.

    Computed from ``e = e^-|x|``, which never overflows: ``1 / (1 + e)`` for ``x >= 0`` and
    ``e / (1 + e)`` for ``x < 0``. The second form keeps full relative precision for very
    negative ``x`` (``sigmoid(-30)`` is 9.4e-14 in float32), where ``1 - sigmoid(-x) =
    1 - 1 / (1 + e^x)`` or ``0.5 tanh(x / 2) + 0.5`` would cancel to 0.
    """

    def forward(self, x):
        xp = get_array_module(x)
        x = floating(x)
        e = xp.exp(-xp.abs(x))
        self._y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def backward(self, dout):
        y = saved_by_forward(self, "_y")
        return checked_upstream(self, dout, y.shape) * y * (1 - y)


def softmax(x, axis=1):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis`` (shifted, so it never overflows;
    integer ``x`` is made floating first, where ``x - max`` cannot wrap around)."""
    xp = get_array_module(x)
    x = floating(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Softmax(Layer):
    """Softmax along ``axis`` (channels by default).

    Backward (Jacobian-vector product): ``dx = y * (dout - sum(dout * y, axis))``.
    """

    def __init__(self, axis=1):
        super().__init__()
        self.axis = int(axis)

    def extra_repr(self):
        return f"axis={self.axis}"

    def forward(self, x):
        if not -getattr(x, "ndim", 0) <= self.axis < getattr(x, "ndim", 0):
            raise ValueError(f"Softmax(axis={self.axis}) needs an input with that axis, got shape "
                             f"{shape_of(x)}; a single sample still needs its batch axis (x[None])")
        self._y = softmax(x, self.axis)
        return self._y

    def backward(self, dout):
        y = saved_by_forward(self, "_y")
        dout = checked_upstream(self, dout, y.shape)
        return y * (dout - (dout * y).sum(axis=self.axis, keepdims=True))
