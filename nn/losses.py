"""Losses: ``forward(pred, target) -> loss``, ``backward() -> dL/dpred``.

``forward`` returns a 0-d array of pred's library and dtype (on the CPU a NumPy scalar, usable
as a float; on the GPU a 0-d CuPy array, so a training loop can sum losses on the device and
synchronise once per epoch; call ``float()`` only to log). ``backward`` returns an array like
``pred``. Regression losses average over all elements; cross-entropy averages over samples and
pixels (with class weights and integer targets it divides by the sum of the targets' weights).
"""

import numpy as np

from nn.backend import get_array_module, to_numpy
from nn.errors import saved_by_forward
from nn.layers.base import floating


class Loss:
    """Base class; ``loss(pred, target)`` is ``loss.forward(pred, target)``."""

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def __repr__(self):
        return f"{type(self).__name__}()"

    @staticmethod
    def _prediction(pred):
        """``pred`` as a floating array of its library (a list is welcome, integers are made
        floating: :func:`nn.layers.base.floating`); ValueError when it is empty, since a mean
        over no elements is undefined."""
        pred = floating(get_array_module(pred).asarray(pred))
        if pred.size == 0:
            raise ValueError(f"the prediction is empty (shape {pred.shape}); a loss needs at "
                             "least one element")
        return pred

    @staticmethod
    def _as_array(pred, target):
        """``target`` as an array of ``pred``'s library (a list of labels is welcome)."""
        return get_array_module(pred).asarray(target)

    @staticmethod
    def _check_same_shape(pred, target):
        if pred.shape != target.shape:
            raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")


class MSELoss(Loss):
    """``L = mean((pred - target)^2)``; ``dL/dpred = 2 (pred - target) / n``, ``n = pred.size``."""

    def forward(self, pred, target):
        pred = self._prediction(pred)
        target = self._as_array(pred, target)
        self._check_same_shape(pred, target)
        self._diff = pred - target.astype(pred.dtype, copy=False)
        return (self._diff * self._diff).mean()

    def backward(self):
        diff = saved_by_forward(self, "_diff")
        return diff * (2.0 / diff.size)


class L1Loss(Loss):
    """``L = mean|pred - target|``; ``dL/dpred = sign(pred - target) / n``, ``n = pred.size``
    (0 at the kink)."""

    def forward(self, pred, target):
        pred = self._prediction(pred)
        target = self._as_array(pred, target)
        self._check_same_shape(pred, target)
        xp = get_array_module(pred)
        self._diff = pred - target.astype(pred.dtype, copy=False)
        return xp.abs(self._diff).mean()

    def backward(self):
        diff = saved_by_forward(self, "_diff")
        xp = get_array_module(diff)
        return xp.sign(diff) * (1.0 / diff.size)


class SmoothL1Loss(Loss):
    """Huber-like loss with PyTorch's ``beta``: per element, with ``d = pred - target``,
    ``0.5 d^2 / beta`` if ``|d| < beta`` else ``|d| - 0.5 beta``; mean over elements.

    Gradient: ``dL/dpred = (d / beta if |d| < beta else sign(d)) / n`` with ``n = pred.size``;
    ``beta = 0`` is exactly L1.
    """

    def __init__(self, beta=1.0):
        if beta < 0:
            raise ValueError("SmoothL1Loss beta must be non-negative")
        self.beta = float(beta)

    def __repr__(self):
        return f"SmoothL1Loss(beta={self.beta})"

    def forward(self, pred, target):
        pred = self._prediction(pred)
        target = self._as_array(pred, target)
        self._check_same_shape(pred, target)
        xp = get_array_module(pred)
        d = pred - target.astype(pred.dtype, copy=False)
        ad = xp.abs(d)
        self._d = d
        if self.beta == 0.0:
            return ad.mean()
        self._inside = ad < self.beta
        return xp.where(self._inside, (0.5 / self.beta) * d * d, ad - 0.5 * self.beta).mean()

    def backward(self):
        d = saved_by_forward(self, "_d")
        xp = get_array_module(d)
        if self.beta == 0.0:
            return xp.sign(d) * (1.0 / d.size)
        return xp.where(self._inside, d * (1.0 / self.beta), xp.sign(d)) * (1.0 / d.size)


class SoftmaxCrossEntropyLoss(Loss):
    """Cross-entropy of ``softmax(logits, axis=1)``, computed from the logits (log-sum-exp).

    logits: (N, C) or (N, C, H, W). Targets, with optional class ``weights`` (C,):

    - integer class indices (N,) or (N, H, W), of an integer dtype (floats are refused rather
      than truncated):
      ``L = sum_i w[t_i] (-log p_i[t_i]) / sum_i w[t_i]`` over samples and pixels ``i``: the
      weighted mean, normalised by the sum of the targets' weights, as PyTorch does (without
      weights the denominator is the count). Indices are range-checked on the CPU only (a
      check on the GPU would synchronise every step): there an index out of range wraps
      around, as CuPy's indexing does, and picks another class without an error;
    - soft targets (probabilities) shaped like the logits:
      ``L = mean_i sum_c w_c t_ic (-log p_ic)``, normalised by the count of samples and pixels,
      as PyTorch does for probability targets;
    - sparse soft targets, a pair ``(index, prob)`` of arrays (N, K) or (N, K, H, W): pixel
      ``i``'s probability ``prob[:, k]`` sits at class ``index[:, k]`` (integers), every other
      class has 0; repeated classes add up. The same loss and gradient as the dense soft
      targets (up to rounding: sums over K terms instead of C group them differently), for
      targets that put weight on K of C classes (colour bins: 5 of 150), without building or
      multiplying the (N, C, ...) target array. A tuple always means this pair (labels go in
      a list or an array). As for integer targets, indices are range-checked on the CPU only;
      on the GPU one out of range lands on another pixel's or sample's score, without an error.

    Gradient w.r.t. the logits: integer ``w[t_i] (p_i - onehot_i) / sum w[t]``; soft
    ``(p_i sum_c w_c t_ic - w * t_i) / count``.

    Pass raw logits: a model that ends with :class:`nn.Softmax` would have the softmax applied
    twice, which flattens the probabilities and shrinks the gradients.
    """

    def __init__(self, weights=None):
        self.weights = None if weights is None else np.asarray(to_numpy(weights))

    def __repr__(self):
        return f"SoftmaxCrossEntropyLoss(weights={None if self.weights is None else 'given'})"

    def _class_weights(self, xp, c, dtype):
        if self.weights is None:
            return None
        if self.weights.shape != (c,):
            raise ValueError(f"class weights have shape {self.weights.shape}, expected ({c},)")
        return xp.asarray(self.weights, dtype=dtype)

    def forward(self, logits, target):
        logits = self._prediction(logits)
        xp = get_array_module(logits)
        if logits.ndim < 2:
            raise ValueError(f"logits must be (N, C, ...), got {logits.shape}")
        c = logits.shape[1]
        bshape = (1, c) + (1,) * (logits.ndim - 2)
        w = self._class_weights(xp, c, logits.dtype)
        # log p = shifted - log(sum exp(shifted)): log-sum-exp, stable for large logits
        shifted = logits - logits.max(axis=1, keepdims=True)
        prob = xp.exp(shifted)
        total = prob.sum(axis=1, keepdims=True)
        prob /= total
        self._prob, log_total = prob, xp.log(total)
        self._count = logits.size // c
        if isinstance(target, tuple):
            return self._sparse_forward(shifted, log_total, w, target)
        logp = shifted - log_total
        target = self._as_array(logits, target)
        if target.shape == logits.shape:
            t = target.astype(logits.dtype, copy=False)
            wt = t if w is None else t * w.reshape(bshape)
            self._wt, self._kind = wt, "soft"
            return -(wt * logp).sum() / logits.dtype.type(self._count)
        expected = (logits.shape[0],) + logits.shape[2:]
        if target.shape != expected:
            raise ValueError(f"targets must be {expected} (indices) or {logits.shape} "
                             f"(probabilities), got {target.shape}")
        if target.dtype.kind not in "iu":
            raise ValueError(f"class indices must be integers, got dtype {target.dtype} (soft "
                             f"targets must have the logits' shape {logits.shape})")
        if xp is np and target.size and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"class indices must lie in [0, {c}), got {target.min()}..{target.max()}")
        idx = xp.expand_dims(target.astype(np.int64, copy=False), 1)
        picked = xp.take_along_axis(logp, idx, axis=1)
        self._kind = "int"
        self._onehot = idx == xp.arange(c).reshape(bshape)
        if w is None:
            self._wpix, self._norm = None, logits.dtype.type(target.size)
            return -picked.sum() / self._norm
        self._wpix = w[idx]
        self._norm = self._wpix.sum()
        return -(self._wpix * picked).sum() / self._norm

    def _sparse_forward(self, shifted, log_total, w, target):
        """The loss of sparse soft targets ``(index, prob)``, from the shifted logits and the
        log of their exponentials' sum (log p is their difference, needed at K classes only);
        keeps what backward needs."""
        xp = get_array_module(shifted)
        if len(target) != 2:
            raise ValueError(f"sparse targets are a pair (index, prob), got {len(target)} arrays")
        index, prob = (xp.asarray(a) for a in target)
        n, c = shifted.shape[:2]
        if (index.shape != prob.shape or index.ndim != shifted.ndim or index.shape[0] != n
                or index.shape[2:] != shifted.shape[2:]):
            raise ValueError(f"sparse targets must be two arrays (N, K) + {shifted.shape[2:]} "
                             f"with N = {n}, got index {index.shape} and prob {prob.shape}")
        if index.dtype.kind not in "iu":
            raise ValueError(f"class indices must be integers, got dtype {index.dtype}")
        if xp is np and index.size and (index.min() < 0 or index.max() >= c):
            raise ValueError(f"class indices must lie in [0, {c}), "
                             f"got {index.min()}..{index.max()}")
        # Flat positions in the (N, C, pixels) logits: within one slot k every pixel appears
        # once, so a slot's fancy-indexed update never writes one element twice.
        k, pixels = index.shape[1], int(np.prod(shifted.shape[2:], dtype=np.int64))
        index = index.reshape(n, k, pixels).astype(np.int64, copy=False)
        sample = xp.arange(n, dtype=np.int64).reshape(n, 1, 1)
        self._flat = (sample * c + index) * pixels + xp.arange(pixels, dtype=np.int64)
        wt = prob.reshape(n, k, pixels).astype(shifted.dtype, copy=False)
        if w is not None:
            wt = wt * w[index]
        self._wt, self._kind = wt, "sparse"
        picked = shifted.reshape(-1)[self._flat] - log_total.reshape(n, 1, pixels)
        return -(wt * picked).sum() / shifted.dtype.type(self._count)

    def backward(self):
        p = saved_by_forward(self, "_prob")
        if self._kind == "sparse":
            # p * sum_k w t_k, then w t_k subtracted at class index_k, one slot at a time
            # (one flat C-order array: a reshape of a product in another layout, e.g. of
            # transposed logits, would be a copy that the in-place updates never reach)
            flat = (p * self._wt.sum(axis=1).reshape((p.shape[0], 1) + p.shape[2:])).reshape(-1)
            for slot in range(self._wt.shape[1]):
                flat[self._flat[:, slot]] -= self._wt[:, slot]
            return flat.reshape(p.shape) / p.dtype.type(self._count)
        if self._kind == "soft":
            scale = self._wt.sum(axis=1, keepdims=True)
            return (p * scale - self._wt) / p.dtype.type(self._count)
        grad = p - self._onehot
        if self._wpix is not None:
            grad *= self._wpix
        return grad / self._norm
