"""Max pooling and nearest-neighbour upsampling on NCHW arrays."""

import numpy as np

from nn.backend import get_array_module
from nn.errors import checked_upstream, saved_by_forward
from nn.im2col import conv_output_size, pair
from nn.layers.base import Layer, positive_sizes, require_nchw


class MaxPool2D(Layer):
    """Max over ``kh x kw`` windows with stride ``s`` (default: the kernel size), no padding.

    x: (N, C, H, W) -> y: (N, C, H_out, W_out), ``H_out = (H - kh) // sh + 1`` (floor mode).
    The window maximum is found over the ``kh*kw`` strided slices of ``x`` (one per kernel
    offset); the winning offset (the first one on ties) is stored per output as uint8, and
    backward routes ``dout`` to it slice by slice, so overlapping windows accumulate.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride, "stride", 1) if stride is not None else self.kernel_size
        if self.kernel_size[0] * self.kernel_size[1] > 255:
            raise ValueError("MaxPool2D supports windows of at most 255 elements")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def _slices(self, h_out, w_out):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for i in range(kh):
            for j in range(kw):
                yield i * kw + j, (slice(None), slice(None),
                                   slice(i, i + sh * (h_out - 1) + 1, sh),
                                   slice(j, j + sw * (w_out - 1) + 1, sw))

    def forward(self, x):
        require_nchw("MaxPool2D", x)
        xp = get_array_module(x)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h_out, w_out = conv_output_size(h, kh, sh, 0, 1), conv_output_size(w, kw, sw, 0, 1)
        if h_out < 1 or w_out < 1:
            raise ValueError(f"MaxPool2D window {self.kernel_size} is larger than the input {h}x{w}")
        y = None
        arg = xp.zeros((n, c, h_out, w_out), dtype=np.uint8)
        for k, idx in self._slices(h_out, w_out):
            window = x[idx]
            if y is None:
                y = window.copy()
                continue
            # a NaN input must reach the output (as with max()), not lose every comparison
            better = (window > y) | xp.isnan(window)
            y = xp.where(better, window, y)
            arg = xp.where(better, np.uint8(k), arg)
        self._arg, self._x_shape = arg, x.shape
        return y

    def backward(self, dout):
        xp = get_array_module(dout)
        x_shape = saved_by_forward(self, "_x_shape")
        dout = checked_upstream(self, dout, self._arg.shape)
        dx = xp.zeros(x_shape, dtype=dout.dtype)
        h_out, w_out = dout.shape[2:]
        for k, idx in self._slices(h_out, w_out):
            dx[idx] += dout * (self._arg == k)
        return dx


class Upsample2D(Layer):
    """Nearest-neighbour upsampling by an integer ``scale``: each pixel becomes a block.

    x: (N, C, H, W) -> y: (N, C, H*scale, W*scale); backward sums ``dout`` over each block.
    """

    def __init__(self, scale=2):
        super().__init__()
        (self.scale,) = positive_sizes("Upsample2D", scale=scale)

    def extra_repr(self):
        return f"scale={self.scale}"

    def forward(self, x):
        require_nchw("Upsample2D", x)
        xp = get_array_module(x)
        n, c, h, w = x.shape
        s = self.scale
        block = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, s, w, s))
        # the gradient does not depend on x; its shape tells backward which dout is right
        self._x_shape = x.shape
        return block.reshape(n, c, h * s, w * s)

    def backward(self, dout):
        n, c, h, w = saved_by_forward(self, "_x_shape")
        s = self.scale
        dout = checked_upstream(self, dout, (n, c, h * s, w * s))
        blocks = dout.reshape(n, c, h, s, w, s)
        if s == 2 and w > 1 and dout.dtype in (np.float32, np.float64):
            # (a + b) + (c + d) with a, b along a row: the order NumPy's sum over axes (3, 5)
            # adds the four in (same bits), as two plain adds instead of a strided reduction.
            # For a width of 1 or float16, NumPy adds them in another order: the sum stays.
            pairs = blocks[..., 0] + blocks[..., 1]
            return pairs[:, :, :, 0] + pairs[:, :, :, 1]
        return blocks.sum(axis=(3, 5))
