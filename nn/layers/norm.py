"""Batch normalisation with per-channel statistics (Ioffe and Szegedy 2015)."""

import numpy as np

from nn.backend import get_array_module
from nn.errors import checked_upstream, saved_by_forward
from nn.layers.base import Layer, floating, positive_sizes, shape_of


class BatchNorm2D(Layer):
    """``y = gamma * (x - mu) / sqrt(var + eps) + beta`` per channel (axis 1).

    x: (N, C, H, W) (or (N, C)); gamma, beta: (C,). Training mode normalises with the batch
    statistics over ``m = N*H*W`` values per channel (biased variance) and updates the running
    statistics as PyTorch does (``momentum`` is the weight of the new batch; Keras's
    ``momentum=0.99`` is ``1 - momentum`` here)::

        running_mean = (1 - momentum) running_mean + momentum mu
        running_var  = (1 - momentum) running_var  + momentum var * m / (m - 1)   (unbiased)

    Evaluation mode normalises with the running statistics (a fixed affine map). Backward in
    training mode, with ``xhat`` the normalised input and ``g = dout * gamma``::

        dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)
        dgamma = sum(dout * xhat),   dbeta = sum(dout)          (sums and means over N, H, W)

    In evaluation mode ``dx = dout * gamma / sqrt(running_var + eps)``.
    ``running_mean`` and ``running_var`` are buffers: saved in the state dict, not trained.
    """

    def __init__(self, channels, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        (self.channels,) = positive_sizes("BatchNorm2D", channels=channels)
        self.eps, self.momentum = float(eps), float(momentum)
        self.params["gamma"] = np.ones(self.channels, dtype=dtype)
        self.params["beta"] = np.zeros(self.channels, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(self.channels, dtype=dtype)
        self.buffers["running_var"] = np.ones(self.channels, dtype=dtype)

    def extra_repr(self):
        return f"{self.channels}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x):
        if getattr(x, "ndim", 0) < 2 or x.shape[1] != self.channels:
            raise ValueError(f"BatchNorm2D expects (N, {self.channels}, ...), got {shape_of(x)}")
        xp = get_array_module(x)
        x = floating(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, self.channels) + (1,) * (x.ndim - 2)
        if self.training:
            m = x.size // self.channels
            if m < 2:
                raise ValueError("BatchNorm2D needs more than one value per channel in training mode")
            mean = x.mean(axis=axes)
            centred = x - mean.reshape(bshape)
            var = (centred * centred).mean(axis=axes)
            mom = self.momentum
            # In place: the buffers keep their dtype and identity whatever x's dtype.
            self.buffers["running_mean"] *= 1 - mom
            self.buffers["running_mean"] += mom * mean
            self.buffers["running_var"] *= 1 - mom
            self.buffers["running_var"] += (mom * m / (m - 1)) * var
        else:
            centred = x - self.buffers["running_mean"].reshape(bshape)
            var = self.buffers["running_var"]
        inv_std = (1 / xp.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xhat = centred * inv_std.reshape(bshape)
        self._xhat, self._inv_std, self._axes, self._bshape = xhat, inv_std, axes, bshape
        self._batch_stats = self.training
        return xhat * self.params["gamma"].reshape(bshape) + self.params["beta"].reshape(bshape)

    def backward(self, dout):
        xhat = saved_by_forward(self, "_xhat")
        dout = checked_upstream(self, dout, xhat.shape)
        inv_std, axes, bshape = self._inv_std, self._axes, self._bshape
        self.grads["gamma"] = (dout * xhat).sum(axis=axes)
        self.grads["beta"] = dout.sum(axis=axes)
        g = dout * self.params["gamma"].reshape(bshape)
        if not self._batch_stats:
            return g * inv_std.reshape(bshape)
        g_mean = g.mean(axis=axes).reshape(bshape)
        gx_mean = (g * xhat).mean(axis=axes).reshape(bshape)
        return (g - g_mean - xhat * gx_mean) * inv_std.reshape(bshape)
