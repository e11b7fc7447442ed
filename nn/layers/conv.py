"""2-D convolution and transposed convolution on NCHW arrays, through im2col / col2im.

Memory: the columns (``kh*kw`` times the input) are the big temporary. By default a layer does
not keep them between forward and backward; it rebuilds them in backward (one more strided
copy), so a deep network never holds more than one layer's columns at a time. They live in
one reusable buffer (:mod:`nn.workspace`), which also takes their gradient in backward, so the
pages of a fresh 10-100 MB array are not faulted in at every call.
``Conv2D(keep_columns=True)`` trades memory for time: in training mode the layer keeps its
columns from forward to backward, in a buffer of its own that stays with the layer. The copy
it saves is not cheap next to the GEMMs on a CPU (a profile of the improved agent's default
run on astronaut at 256 px, 2 cores: 8.2 s in im2col, 14.7 s in the convolutions' matrix
products), and a small network on small crops can afford ``kh*kw`` times each convolution's
input for the whole of a step.
1x1 convolutions without padding skip im2col: they are a plain matrix product.
"""

import numpy as np

from nn.backend import get_array_module
from nn.errors import checked_upstream, saved_by_forward
from nn.im2col import col2im, im2col, output_hw, pair
from nn.init import initialize
from nn.layers.base import Layer, floating, positive_sizes, shape_of
from nn.workspace import scratch


def _shared_matmul(a, b, into_columns=False):
    """``a @ b[n]`` for every n: ``a: (M, K)``, ``b: (N, K, P)`` -> ``(N, M, P)``.

    On NumPy, a stacked matmul with a broadcast operand does not reach BLAS (measured about
    20x slower for conv-sized operands), so the batch is looped with one GEMM per sample;
    CuPy's stacked matmul is a batched cuBLAS call and is used as is. ``into_columns``: on
    NumPy, write the product into the shared column scratch (:func:`_column_buffer`; the
    caller's columns must be dead by then); CuPy allocates from its pool either way, so no
    scratch is made for it there.
    """
    if get_array_module(b) is not np:
        return a @ b
    shape = (b.shape[0], a.shape[0], b.shape[2])
    dtype = np.result_type(a, b)
    out = scratch("columns", shape, dtype, np) if into_columns else np.empty(shape, dtype)
    for n in range(b.shape[0]):
        np.matmul(a, b[n], out=out[n])
    return out


def _column_buffer(shape, like):
    """The shared scratch array for a convolution's columns (or their gradient), in the
    dtype and on the device of ``like``; dead before the next layer runs."""
    return scratch("columns", shape, like.dtype, get_array_module(like))


def _batched_weight_grad(a, b):
    """``sum_n a[n] @ b[n]^T`` for ``a: (N, F, P)``, ``b: (N, K, P)`` -> ``(F, K)``.

    On NumPy it is accumulated as ``(sum_n b[n] @ a[n]^T)^T``: OpenBLAS handles the long inner
    dimension P much better in that orientation (measured 1.5x to 10x faster).
    """
    if get_array_module(a, b) is not np:
        return (a @ b.transpose(0, 2, 1)).sum(axis=0)
    if a.shape[0] == 0:
        return np.zeros((a.shape[1], b.shape[1]), dtype=np.result_type(a, b))
    acc = b[0] @ a[0].T
    for n in range(1, a.shape[0]):
        acc += b[n] @ a[n].T
    return acc.T


class Conv2D(Layer):
    """Cross-correlation
    ``y[n, f, r, q] = b[f] + sum_{c,i,j} W[f, c, i, j] x_pad[n, c, s*r + d*i, s*q + d*j]``.

    x: (N, C, H, W) -> y: (N, F, H_out, W_out), ``H_out = (H + 2p - d(kh - 1) - 1) // s + 1``.
    W: (F, C, kh, kw), b: (F,); ``x_pad`` is x with ``p`` zeros on each side, ``s`` the stride,
    ``d`` the dilation. With ``W2 = W.reshape(F, C*kh*kw)`` and columns ``X = im2col(x)`` as
    ``(N, C*kh*kw, P)``, ``P = H_out*W_out``, and ``dout`` read as ``(N, F, P)``:
    ``y = W2 @ X + b``, ``db = sum_{n,r,q} dout``, ``dW = sum_n dout_n X_n^T``,
    ``dX = W2^T dout`` then ``dx = col2im(dX)``.

    ``keep_columns``: in training mode, keep ``X`` from forward for backward instead of
    building it again (see the module docstring); eval-mode forwards keep nothing.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 *, bias=True, init="he", rng=None, dtype=np.float32, keep_columns=False):
        super().__init__()
        self.keep_columns = bool(keep_columns)
        self._kept, self._kept_buffer = None, None
        self.in_channels, self.out_channels = positive_sizes(
            type(self).__name__, in_channels=in_channels, out_channels=out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride, self.dilation = pair(stride, "stride", 1), pair(dilation, "dilation", 1)
        self.padding = pair(padding, "padding")
        kh, kw = self.kernel_size
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        self.params["W"] = initialize(init, (self.out_channels, self.in_channels, kh, kw),
                                      fan_in, fan_out, rng, dtype)
        if bias:
            self.params["b"] = np.zeros(self.out_channels, dtype=dtype)
        self._x = None

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}"
                + (", keep_columns=True" if self.keep_columns else ""))

    @property
    def _pointwise(self):
        return self.kernel_size == (1, 1) and self.padding == (0, 0)

    def _columns(self, x, keep=False):
        """``(N, K, P)`` operand of the GEMM and the output size ``(H_out, W_out)``; with
        ``keep``, built in the layer's own buffer rather than the shared scratch."""
        n = x.shape[0]
        if self._pointwise:
            sh, sw = self.stride
            xs = x if (sh, sw) == (1, 1) else x[:, :, ::sh, ::sw]
            return xs.reshape(n, self.in_channels, xs.shape[2] * xs.shape[3]), xs.shape[2:]
        kh, kw = self.kernel_size
        h_out, w_out = output_hw(x.shape[2], x.shape[3], self.kernel_size, self.stride,
                                 self.padding, self.dilation)
        shape = (n, self.in_channels, kh, kw, h_out, w_out)
        if not keep:
            buffer = _column_buffer(shape, x)
        else:
            xp, buffer = get_array_module(x), self._kept_buffer
            if (buffer is None or buffer.shape != shape or buffer.dtype != x.dtype
                    or get_array_module(buffer) is not xp):
                # allocated once for a shape: each training step reuses its pages
                buffer = self._kept_buffer = xp.empty(shape, dtype=x.dtype)
        cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation, out=buffer)
        return cols.reshape(n, self.in_channels * kh * kw, h_out * w_out), (h_out, w_out)

    def forward(self, x):
        if getattr(x, "ndim", None) != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expects (N, {self.in_channels}, H, W), got {shape_of(x)}")
        # the columns' buffer and the gradient take x's dtype, which must hold real numbers
        x = floating(x)
        self._x = x
        keep = self.keep_columns and self.training and not self._pointwise
        cols, (h_out, w_out) = self._columns(x, keep)
        self._kept = cols if keep else None
        w2 = self.params["W"].reshape(self.out_channels, -1)
        y = _shared_matmul(w2, cols)
        del cols
        if "b" in self.params:
            y += self.params["b"][:, None]
        return y.reshape(x.shape[0], self.out_channels, h_out, w_out)

    def backward(self, dout):
        x = saved_by_forward(self, "_x")
        n = x.shape[0]
        out_hw = output_hw(x.shape[2], x.shape[3], self.kernel_size, self.stride, self.padding,
                           self.dilation)
        dout = checked_upstream(self, dout, (n, self.out_channels) + tuple(out_hw))
        d2 = dout.reshape(n, self.out_channels, dout.shape[2] * dout.shape[3])
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        cols = self._kept if self._kept is not None else self._columns(x)[0]
        self.grads["W"] = _batched_weight_grad(d2, cols).reshape(self.params["W"].shape)
        del cols
        w2 = self.params["W"].reshape(self.out_channels, -1)
        if self._pointwise:
            dcols = _shared_matmul(w2.T, d2)
            sh, sw = self.stride
            if (sh, sw) == (1, 1):
                return dcols.reshape(x.shape)
            xp = get_array_module(x)
            dx = xp.zeros_like(x)
            dx[:, :, ::sh, ::sw] = dcols.reshape(n, self.in_channels, *dout.shape[2:])
            return dx
        # the columns are dead once dW is formed: their buffer takes their gradient
        dcols = _shared_matmul(w2.T, d2, into_columns=True)
        kh, kw = self.kernel_size
        dcols = dcols.reshape(n, self.in_channels, kh, kw, *dout.shape[2:])
        return col2im(dcols, x.shape, self.kernel_size, self.stride, self.padding, self.dilation)


class ConvTranspose2D(Layer):
    """Transposed convolution: the backward (adjoint) of :class:`Conv2D` used as a forward.

    x: (N, C_in, H, W) -> y: (N, C_out, H_out, W_out),
    ``H_out = (H - 1) s - 2p + d(kh - 1) + output_padding + 1`` (must be at least 1;
    ``output_padding`` must be smaller than the stride). W: (C_in, C_out, kh, kw),
    b: (C_out,). Forward: ``cols = W2^T @ x`` with ``W2 = W.reshape(C_in, C_out*kh*kw)``, then
    ``y = col2im(cols) + b``. Backward is convolution's forward: ``D = im2col(dout)``,
    ``dx = W2 @ D``, ``dW = sum_n x_n D_n^T``, ``db = sum_{n,h,w} dout``. Both initialisers use
    the effective fan-in ``max(1, C_in * kh * kw // (sh * sw))`` (each output pixel sees about
    that many inputs).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 output_padding=0, *, bias=True, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels = positive_sizes(
            type(self).__name__, in_channels=in_channels, out_channels=out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride, self.dilation = pair(stride, "stride", 1), pair(dilation, "dilation", 1)
        self.padding = pair(padding, "padding")
        self.output_padding = pair(output_padding, "output_padding")
        if any(o >= s for o, s in zip(self.output_padding, self.stride)):
            raise ValueError("output_padding must be smaller than the stride")
        kh, kw = self.kernel_size
        fan_in = max(1, self.in_channels * kh * kw // (self.stride[0] * self.stride[1]))
        self.params["W"] = initialize(init, (self.in_channels, self.out_channels, kh, kw),
                                      fan_in, self.out_channels * kh * kw, rng, dtype)
        if bias:
            self.params["b"] = np.zeros(self.out_channels, dtype=dtype)
        self._x = None

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"output_padding={self.output_padding}")

    def output_shape(self, x_shape):
        """``(N, C_out, H_out, W_out)`` for an input of shape ``x_shape``; ValueError when the
        output would be empty."""
        n, _, h, w = x_shape
        size = [(length - 1) * s - 2 * p + d * (k - 1) + o + 1
                for length, s, p, d, k, o in zip((h, w), self.stride, self.padding, self.dilation,
                                                 self.kernel_size, self.output_padding)]
        if min(size) < 1:
            raise ValueError(f"ConvTranspose2D output would be {size[0]}x{size[1]} for an input "
                             f"of {h}x{w}: the padding {self.padding} cuts away more than the "
                             "kernel adds")
        return n, self.out_channels, size[0], size[1]

    def forward(self, x):
        if getattr(x, "ndim", None) != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose2D expects (N, {self.in_channels}, H, W), "
                             f"got {shape_of(x)}")
        # the columns' buffer takes x's dtype, which must hold the weights' products
        x = floating(x)
        self._x = x
        n, _, h, w = x.shape
        kh, kw = self.kernel_size
        w2 = self.params["W"].reshape(self.in_channels, -1)
        cols = _shared_matmul(w2.T, x.reshape(n, self.in_channels, h * w),
                              into_columns=True).reshape(
            n, self.out_channels, kh, kw, h, w)
        y = col2im(cols, self.output_shape(x.shape), self.kernel_size, self.stride,
                   self.padding, self.dilation)
        if "b" in self.params:
            y += self.params["b"][:, None, None]
        return y

    def backward(self, dout):
        x = saved_by_forward(self, "_x")
        dout = checked_upstream(self, dout, self.output_shape(x.shape))
        n = x.shape[0]
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=(0, 2, 3))
        kh, kw = self.kernel_size
        cols = im2col(dout, self.kernel_size, self.stride, self.padding, self.dilation,
                      out=_column_buffer((n, self.out_channels, kh, kw) + x.shape[2:], dout))
        cols = cols.reshape(n, self.out_channels * kh * kw, x.shape[2] * x.shape[3])
        x2 = x.reshape(n, self.in_channels, x.shape[2] * x.shape[3])
        self.grads["W"] = _batched_weight_grad(x2, cols).reshape(self.params["W"].shape)
        w2 = self.params["W"].reshape(self.in_channels, -1)
        return _shared_matmul(w2, cols).reshape(x.shape)
