"""Losses on chroma targets with a mask: regression and binned classification.

Both take predictions (N, K, H, W) and chroma targets (N, 2, H, W) in which NaN marks pixels
that do not count (outside the validation strip), and report the mean over the pixels that
do. They wrap the engine's losses: masked pixels get a target that contributes nothing (the
prediction itself for regression, soft-target weights of zero for cross-entropy) and the
engine's mean over all pixels is rescaled by ``all / counted``. Without NaN they are exactly the
engine's losses.

- :class:`ChromaRegressionLoss`: ``nn.MSELoss``, ``nn.L1Loss`` or ``nn.SmoothL1Loss`` on
  the two chroma values (K = 2).
- :class:`ChromaClassLoss`: soft-target cross-entropy over the Q chroma bins with the
  rebalancing class weights (K = Q); the chroma targets are soft-encoded once, before
  training (:meth:`ChromaClassLoss.encode`).

The rebalancing weights ``w`` enter as class weights, ``sum_q w_q t_q (-log p_q)`` per pixel,
which Zhang, Isola and Efros do not do: they weight a pixel's whole cross-entropy by
``w[argmax_q t_q]``. The two differ in what they learn: per pixel, the paper's form is
minimised by ``p = t`` (rarer colours only count more), the class-weighted form by ``p``
proportional to ``w t`` (predictions lean toward rare bins, which the annealed mean then
turns into more vivid colours). On the six benchmark photos at 256 px (seeds 0-2) the paper's
form scored 25.08 dB mean PSNR against 25.04 for this one (under the earlier whole-photo
resize: see :data:`agents.improved_settings.DEFAULTS`), a difference within the seeds'
spread, so the recorded form stays.
"""

import numpy as np

from nn import L1Loss, MSELoss, SmoothL1Loss, SoftmaxCrossEntropyLoss
from nn.backend import get_array_module

REGRESSION_LOSSES = {"l2": MSELoss, "l1": L1Loss, "smooth_l1": SmoothL1Loss}
REGRESSION_SCALE = 32.0
"""Regression networks predict ``chroma / REGRESSION_SCALE``: natural chroma spans tens of
units, and a freshly initialised head outputs values near 0 with unit-scale features, so
unscaled targets would take Adam (steps of about ``lr``) thousands of steps to reach."""


def _valid_pixels(target):
    """(N, 1, H, W) bool mask of the pixels whose values are all finite: chroma known (both
    values), or a target :meth:`ChromaClassLoss.encode` made for a known pixel."""
    xp = get_array_module(target)
    return xp.isfinite(target).all(axis=1, keepdims=True)


class ChromaRegressionLoss:
    """Masked regression loss on (N, 2, H, W) chroma; ``kind`` in ``REGRESSION_LOSSES``.

    Predictions are in units of ``REGRESSION_SCALE`` chroma (targets are divided by it).
    ``smooth_l1`` uses ``beta = 0.25`` (8 chroma units): quadratic for small errors, linear
    for the outliers that one photo's colour ambiguities produce.
    """

    def __init__(self, kind="l2"):
        if kind not in REGRESSION_LOSSES:
            raise ValueError(f"unknown regression loss {kind!r}; choose one of {sorted(REGRESSION_LOSSES)}")
        self.kind = kind
        self.inner = SmoothL1Loss(beta=0.25) if kind == "smooth_l1" else REGRESSION_LOSSES[kind]()
        self._scale = 1.0

    def forward(self, pred, target):
        xp = get_array_module(pred)
        valid = _valid_pixels(target)
        counted = valid.sum()
        scaled = target.astype(pred.dtype, copy=False) / pred.dtype.type(REGRESSION_SCALE)
        target = xp.where(valid, scaled, pred)
        self._scale = pred.dtype.type(valid.size) / xp.maximum(counted, 1).astype(pred.dtype)
        return self.inner.forward(pred, target) * self._scale

    def backward(self):
        return self.inner.backward() * self._scale


class ChromaClassLoss:
    """Masked, rebalanced soft-target cross-entropy over the bins of a ``ChromaBins``.

    ``lam`` is the rebalancing mix of :meth:`ChromaBins.rebalance_weights` (1 = no
    rebalancing); ``neighbors`` the number of bins each pixel's soft target spreads over.
    Targets are encoded once by :meth:`encode` (the agent encodes its crop bank and its
    validation target before training): each pixel's few nonzero bins and their weights,
    which the engine's cross-entropy takes as sparse targets, so no batch builds the
    (N, Q, H, W) soft targets of :meth:`ChromaBins.encode_soft`.
    """

    def __init__(self, bins, lam=0.5, neighbors=5):
        self.bins, self.lam, self.neighbors = bins, float(lam), int(neighbors)
        self.inner = SoftmaxCrossEntropyLoss(weights=bins.rebalance_weights(lam))
        self._scale = 1.0

    def encode(self, chroma):
        """(N, 2, H, W) chroma, NaN where unknown -> (N, 2K, H, W) float32 targets for
        :meth:`forward`: the K bin indices of :meth:`ChromaBins.encode_sparse` (whole numbers,
        exact in float32), then their K weights, NaN at unknown pixels. One array, so that
        cropping and flipping treat the targets as they treat the chroma."""
        xp = get_array_module(chroma)
        valid = _valid_pixels(chroma)
        filled = xp.where(valid, chroma, np.float32(0.0)).astype(np.float32, copy=False)
        index, weights = self.bins.encode_sparse(filled, self.neighbors)
        weights = xp.where(valid, weights, np.float32(np.nan))
        return xp.concatenate([index.astype(np.float32), weights], axis=1)

    def forward(self, logits, target):
        xp = get_array_module(logits)
        k = target.shape[1] // 2
        valid = _valid_pixels(target[:, k:])
        counted = valid.sum()
        index = xp.where(valid, target[:, :k], np.float32(0.0)).astype(np.int64)
        weights = xp.where(valid, target[:, k:], np.float32(0.0))
        self._scale = logits.dtype.type(valid.size) / xp.maximum(counted, 1).astype(logits.dtype)
        return self.inner.forward(logits, (index, weights)) * self._scale

    def backward(self):
        return self.inner.backward() * self._scale
