"""Fully connected layer."""

import numpy as np

from nn.errors import checked_upstream, saved_by_forward
from nn.init import initialize
from nn.layers.base import Layer, positive_sizes, shape_of


class Dense(Layer):
    """``y = x @ W + b``.

    x: (N, in_features) (any leading dims), W: (in_features, out_features), b: (out_features,)
    -> y: (N, out_features) (the same leading dims). Backward, with the leading dims flattened
    into rows: ``dW = x^T dout``, ``db = sum(dout)`` over the rows, ``dx = dout W^T``.
    ``W`` is the transpose of ``torch.nn.Linear``'s ``weight`` (out_features, in_features).
    ``init`` is ``"he"`` (ReLU-like followers) or ``"xavier"``; ``rng`` is a seed or Generator.
    """

    def __init__(self, in_features, out_features, *, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = positive_sizes("Dense", in_features=in_features,
                                                             out_features=out_features)
        self.params["W"] = initialize(init, (self.in_features, self.out_features),
                                      self.in_features, self.out_features, rng, dtype)
        self.params["b"] = np.zeros(self.out_features, dtype=dtype)
        self._x = None

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"

    def forward(self, x):
        if getattr(x, "ndim", 0) < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Dense expects (..., {self.in_features}), got {shape_of(x)} "
                             "(an image batch needs nn.Flatten() first)")
        self._x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        x = saved_by_forward(self, "_x")
        dout = checked_upstream(self, dout, x.shape[:-1] + (self.out_features,))
        x2 = x.reshape(-1, self.in_features)
        d2 = dout.reshape(-1, self.out_features)
        self.grads["W"] = x2.T @ d2
        self.grads["b"] = d2.sum(axis=0)
        return dout @ self.params["W"].T
