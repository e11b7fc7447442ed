"""Quantized chroma: colour prediction as classification (Zhang, Isola and Efros 2016).

Regression to the mean chroma of all plausible colours gives the washed-out, sepia look:
where a gray value could be red or green, the L2-optimal answer is their dull average. Zhang
et al. instead classify each pixel into a bin of a quantized chroma plane, re-weight rare
(saturated) bins during training, and decode the predicted distribution with an *annealed
mean*, a compromise between the mean (smooth, dull) and the mode (vivid, blotchy).

The plane is cut into square cells of side ``step`` centred on multiples of ``step``; only
cells that the training image actually uses become classes (``Q`` of them), so the network
never spends capacity on colours it cannot have seen.

- Soft targets: each pixel's chroma ``c`` spreads over its ``neighbors`` nearest bin centres
  ``q`` with Gaussian weights ``exp(-|c - q|^2 / (2 sigma^2))``, normalised to sum 1
  (``sigma = step / 2``; Zhang et al. use 5 neighbours and sigma 5 on a grid of 10).
- Class rebalancing: with the empirical bin distribution ``p`` smoothed by a Gaussian over
  the plane (``p~``), the weight of bin ``q`` is ``w_q ∝ ((1 - lam) p~_q + lam / Q)^-1``,
  scaled so that ``sum_q p~_q w_q = 1`` (lam = 0.5 in the paper). The paper weights each
  pixel by the weight of its target's most likely bin; the improved agent uses the weights
  as class weights inside the soft-target cross-entropy instead
  (:class:`agents.improved_losses.ChromaClassLoss`).
- Annealed mean: ``f_T(z) = softmax(logits / T)``, chroma ``= sum_q f_T(z)_q c_q``.
  ``T = 1`` is the mean, ``T -> 0`` the mode; the paper's choice is ``T = 0.38``.

Shapes: :meth:`ChromaBins.fit` and :meth:`ChromaBins.encode_hard` take chroma ``(..., 2)``;
:meth:`ChromaBins.encode_soft` takes and :meth:`ChromaBins.annealed_mean` returns the engine's
``(N, 2, H, W)``, and class scores are ``(N, Q, H, W)``.
Everything that runs per pixel works on NumPy or CuPy through ``get_array_module``; fitting
the bins (a histogram of one training image) runs on the host.
"""

import math

import numpy as np

from nn.backend import as_real_number, get_array_module, to_numpy


class ChromaBins:
    """The classes of a quantized chroma plane, and their rebalancing weights.

    Parameters
    ----------
    centers : (Q, 2) float32 array, the chroma of each class (multiples of ``step``).
    prior : (Q,) float32 array, the smoothed empirical frequency of each class; it is scaled
        to sum to 1 (the rebalancing mix with ``lam / Q`` assumes a distribution).
    step : float, side of a cell of the grid, in chroma units.
    """

    def __init__(self, centers, prior, step):
        centers = np.asarray(to_numpy(centers), dtype=np.float32)
        prior = np.asarray(to_numpy(prior), dtype=np.float32)
        if centers.ndim != 2 or centers.shape[1] != 2 or centers.shape[0] < 1:
            raise ValueError(f"centers must have shape (Q, 2) with Q >= 1, got {centers.shape}")
        if prior.shape != (centers.shape[0],):
            raise ValueError(f"prior must have shape ({centers.shape[0]},), got {prior.shape}")
        if not (step > 0 and math.isfinite(step)):
            raise ValueError(f"step must be a positive finite number, got {step}")
        if not (np.isfinite(centers).all() and np.isfinite(prior).all() and (prior >= 0).all()):
            raise ValueError("centers and prior must be finite numbers, and the prior non-negative")
        if not prior.sum() > 0:
            raise ValueError("the prior is all zero: it must give the bins some probability")
        self.centers = centers
        self.prior = (prior / prior.astype(np.float64).sum()).astype(np.float32)
        self.step = float(step)

    @property
    def n_bins(self):
        """Q, the number of classes."""
        return self.centers.shape[0]

    @classmethod
    def fit(cls, chroma, step, smoothing=1.0):
        """Bins of the grid of side ``step`` that ``chroma`` (..., 2) uses, with their prior.

        ``smoothing`` is the standard deviation, in cells, of the Gaussian that smooths the
        histogram into the prior ``p~`` (Zhang et al. smooth with sigma 5 on a grid of 10,
        half a cell; one cell suits the coarser grids a single photo can fill). The smoothing
        is a dense Q x Q product: the bundled photos' training columns at 256 px fill 43-152
        bins at ``step`` 10 (about 1 MiB), but astronaut's fill 4,714 at ``step`` 1, where
        fitting peaks at 0.5 GiB (tracemalloc); the memory grows with Q squared.
        """
        chroma = np.asarray(to_numpy(chroma), dtype=np.float64)
        if chroma.shape[-1:] != (2,):
            raise ValueError(f"chroma must have shape (..., 2), got {chroma.shape}")
        if not (step > 0 and math.isfinite(step)):
            raise ValueError(f"step must be a positive finite number, got {step}")
        if not (smoothing >= 0 and math.isfinite(smoothing)):
            raise ValueError(f"smoothing must be a non-negative finite number, got {smoothing}")
        chroma = chroma.reshape(-1, 2)
        if chroma.shape[0] == 0:
            raise ValueError("cannot fit chroma bins to an empty set of pixels")
        if not np.isfinite(chroma).all():
            raise ValueError("cannot fit chroma bins to NaN or infinite chroma")
        cells = np.rint(chroma / step)
        if not (np.abs(cells) < 2.0**52).all():
            # far beyond, the cell numbers lose their units digit (and then overflow int64)
            raise ValueError(f"step {step:g} is too small for chroma as large as "
                             f"{np.abs(chroma).max():g}: cells would be numbered beyond 2**52")
        cells = cells.astype(np.int64)
        used, counts = np.unique(cells, axis=0, return_counts=True)
        centers = used.astype(np.float64) * step
        hist = counts / counts.sum()
        if smoothing > 0:
            d2 = ((used[:, None, :] - used[None, :, :]) ** 2).sum(axis=2)
            kernel = np.exp(-d2 / (2.0 * smoothing**2))
            hist = kernel @ hist
            hist /= hist.sum()
        return cls(centers.astype(np.float32), hist.astype(np.float32), step)

    def rebalance_weights(self, lam=0.5):
        """(Q,) float32 class weights ``w ∝ ((1 - lam) p~ + lam / Q)^-1`` with ``E_p~[w] = 1``.

        ``lam = 1`` gives uniform weights (no rebalancing), ``lam = 0`` the full inverse prior.
        """
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must lie in [0, 1], got {lam}")
        prior = self.prior.astype(np.float64)
        if lam == 0 and not (prior > 0).all():
            raise ValueError("lam = 0 (the full inverse prior) needs every bin's prior above 0")
        w = 1.0 / ((1.0 - lam) * prior + lam / self.n_bins)
        w /= (prior * w).sum()
        return w.astype(np.float32)

    def _centers_like(self, x):
        xp = get_array_module(x)
        return xp.asarray(self.centers)

    def _sq_distances(self, flat):
        """(N, 2) chroma -> (N, Q) float32 squared distances to the bin centres.

        Expanded as ``|c|^2 - 2 c.q + |q|^2``: one (N, 2) x (2, Q) product instead of an
        (N, Q, 2) temporary (encoding runs on every training batch). In float64: chroma
        reaches about 270, where float32's ``|c|^2`` carries an error of 0.008, so a small
        distance computed as that difference would lose its last digits (at ``step`` 1 the
        soft targets moved by up to 0.035, and some pixels kept other bins).
        """
        flat = flat.astype(np.float64)
        centers = self._centers_like(flat).astype(np.float64)
        d2 = ((flat * flat).sum(axis=1, keepdims=True) - 2.0 * (flat @ centers.T)
              + (centers * centers).sum(axis=1)[None, :])
        return d2.astype(np.float32)

    def encode_hard(self, chroma):
        """(..., 2) chroma -> (...) int64 index of the nearest bin centre.

        The chroma must be finite; it is not checked here (a NaN pixel gets some index)."""
        xp = get_array_module(chroma)
        if chroma.shape[-1:] != (2,):
            raise ValueError(f"chroma must have shape (..., 2), got {tuple(chroma.shape)}")
        flat = chroma.reshape(-1, 2).astype(np.float32)
        return xp.argmin(self._sq_distances(flat), axis=1).reshape(chroma.shape[:-1])

    def encode_soft(self, chroma, neighbors=5, sigma=None):
        """(N, 2, H, W) chroma -> (N, Q, H, W) float32 soft targets that sum to 1 per pixel.

        Each pixel's weight goes to its ``neighbors`` nearest bins with Gaussian weights of
        standard deviation ``sigma`` (default ``step / 2``); ``neighbors = 1`` is one-hot.
        The chroma must be finite: it is not checked here, since this runs on every training
        batch, and a NaN pixel gets NaN weights (callers with unknown pixels fill them in
        first and mask them out, as :class:`agents.improved_losses.ChromaClassLoss` does).
        """
        n, _, h, w = self._check_encoding(chroma, neighbors)
        flat = chroma.transpose(0, 2, 3, 1).reshape(-1, 2).astype(np.float32)
        weights = self._soft_rows(flat, neighbors, sigma)
        return weights.reshape(n, h, w, self.n_bins).transpose(0, 3, 1, 2)

    def encode_sparse(self, chroma, neighbors=5, sigma=None, rows_per_chunk=16384):
        """(N, 2, H, W) chroma -> ``(index, weights)``, each (N, K, H, W): the bins that
        :meth:`encode_soft` gives weight, as int32 indices, and those float32 weights.

        K is the most bins any pixel keeps (``neighbors``, or a few more where distances tie
        exactly); a pixel that keeps fewer fills its other slots with weight 0.
        :meth:`densify` rebuilds :meth:`encode_soft`'s targets of finite chroma bit for bit,
        since each pixel's weights are computed by the same row-wise arithmetic (a NaN pixel
        keeps no bin, so it densifies to zeros, not NaN). Training encodes its
        crop bank once this way instead of encoding every batch (the distances to all Q bins
        and their partition; on astronaut at 256 px, one BLAS thread, the improved agent then
        trained in 49 s instead of 64 s, to the same weights), and the cross-entropy takes
        each batch's ``(index, weights)`` as they are (:class:`nn.SoftmaxCrossEntropyLoss`'s
        sparse targets).
        ``rows_per_chunk`` pixels are encoded at a time, which bounds the (pixels, Q)
        temporaries.
        """
        n, _, h, w = self._check_encoding(chroma, neighbors)
        xp = get_array_module(chroma)
        flat = chroma.transpose(0, 2, 3, 1).reshape(-1, 2).astype(np.float32)
        parts = []
        for start in range(0, flat.shape[0], rows_per_chunk):
            dense = self._soft_rows(flat[start:start + rows_per_chunk], neighbors, sigma)
            # each row's nonzero bins, in order, into slots 0, 1, ... of that row
            kept_bins = dense > 0
            rows, bins = xp.nonzero(kept_bins)
            # counted per row, not by bincount: CuPy's bincount fails on an empty ``rows`` (a
            # chunk of NaN pixels keeps no bin) and reads the device twice
            counts = kept_bins.sum(axis=1)
            slot = xp.arange(rows.shape[0]) - (xp.cumsum(counts) - counts)[rows]
            kept = int(counts.max())
            index = xp.zeros((dense.shape[0], kept), dtype=np.int32)
            weights = xp.zeros((dense.shape[0], kept), dtype=np.float32)
            index[rows, slot] = bins
            weights[rows, slot] = dense[rows, bins]
            parts.append((index, weights))
        if not parts:  # no pixels: nothing to index
            return (xp.zeros((n, 0, h, w), dtype=np.int32),
                    xp.zeros((n, 0, h, w), dtype=np.float32))
        k = max(index.shape[1] for index, _ in parts)
        # pad every chunk to k slots: bin 0 at weight 0 adds nothing in densify
        index = xp.concatenate([xp.pad(i, ((0, 0), (0, k - i.shape[1]))) for i, _ in parts])
        weights = xp.concatenate([xp.pad(v, ((0, 0), (0, k - v.shape[1]))) for _, v in parts])
        return tuple(a.reshape(n, h, w, k).transpose(0, 3, 1, 2) for a in (index, weights))

    def densify(self, index, weights):
        """(N, K, H, W) ``index`` and ``weights`` of :meth:`encode_sparse` -> (N, Q, H, W)
        float32 soft targets, zero but at the indexed bins (the dense targets that the sparse
        ones stand for)."""
        xp = get_array_module(weights)
        n, k, h, w = weights.shape
        dense = xp.zeros((n, h, w, self.n_bins), dtype=np.float32)
        rows = dense.reshape(-1, self.n_bins)
        pixel = xp.arange(rows.shape[0])
        index = index.transpose(0, 2, 3, 1).reshape(n * h * w, k)
        weights = weights.transpose(0, 2, 3, 1).reshape(n * h * w, k)
        weights = weights.astype(np.float32, copy=False)
        # one slot at a time: within a slot every pixel is written once, so the padding slots
        # (bin 0, weight 0) and a real weight at bin 0 just add up, on NumPy and CuPy alike
        for slot in range(k):
            rows[pixel, index[:, slot]] += weights[:, slot]
        return dense.transpose(0, 3, 1, 2)

    def _check_encoding(self, chroma, neighbors):
        """(N, 2, H, W) of ``chroma``, or ValueError for another shape or a bad ``neighbors``."""
        if chroma.ndim != 4 or chroma.shape[1] != 2:
            raise ValueError(f"chroma must have shape (N, 2, H, W), got {tuple(chroma.shape)}")
        if int(neighbors) != neighbors or neighbors < 1:
            raise ValueError(f"neighbors must be a whole number of at least 1, got {neighbors!r}")
        return chroma.shape

    def _soft_rows(self, flat, neighbors, sigma):
        """(P, 2) float32 chroma -> (P, Q) float32 soft targets (see :meth:`encode_soft`)."""
        xp = get_array_module(flat)
        sigma = self.step / 2.0 if sigma is None else float(sigma)
        if not (sigma > 0 and math.isfinite(sigma) and np.float32(2.0 * sigma * sigma) > 0):
            raise ValueError(f"sigma must be a positive finite number whose 2 sigma^2 float32 "
                             f"holds (above about 1e-22), got {sigma}")
        q = self.n_bins
        k = min(int(neighbors), q)
        d2 = self._sq_distances(flat)
        # Keep the bins no farther than the k-th nearest (a partition is far cheaper than an
        # argpartition here); exact ties at the k-th distance may keep a few more.
        nearest = d2.min(axis=1, keepdims=True)
        keep = d2 <= xp.partition(d2, k - 1, axis=1)[:, k - 1:k] if k < q else None
        # Shift by the row minimum so the nearest bin has weight exp(0) = 1 (no underflow):
        # exp(-(d2 - nearest) / (2 sigma^2)), computed in place in d2 (dead once ``keep`` is)
        weights = xp.subtract(d2, nearest, out=d2)
        xp.negative(weights, out=weights)
        weights /= np.float32(2.0 * sigma * sigma)
        xp.exp(weights, out=weights)
        if keep is not None:
            xp.copyto(weights, np.float32(0.0), where=~keep)
        weights = weights.astype(np.float32, copy=False)
        weights /= weights.sum(axis=1, keepdims=True)
        return weights

    def annealed_mean(self, logits, temperature=0.38):
        """(N, Q, H, W) class scores -> (N, 2, H, W) chroma: ``sum_q softmax(z / T)_q c_q``.

        ``T = inf`` gives the plain mean of the bin centres; a tiny ``T`` the mode (ties
        shared equally).
        """
        # a Python float: the dtype's constructor would refuse a CuPy 0-d array
        value = as_real_number(temperature)
        if value is None:
            raise ValueError(f"temperature must be a number, got {temperature!r}")
        xp = get_array_module(logits)
        if logits.dtype.kind != "f":
            logits = logits.astype(np.float32)
        if logits.ndim != 4 or logits.shape[1] != self.n_bins:
            raise ValueError(f"logits must have shape (N, {self.n_bins}, H, W), one score per "
                             f"bin, got {tuple(logits.shape)}")
        if not logits.dtype.type(value) > 0:
            raise ValueError(f"temperature must be positive (and above 0 in "
                             f"{logits.dtype.name}), got {temperature!r}")
        temperature = value
        # The maximum is subtracted before dividing: z / T could overflow to inf for a small
        # T, and inf - inf is NaN. Shifted, every score is <= 0 and the largest exactly 0.
        with np.errstate(over="ignore"):  # -inf, whose exp is the 0 wanted
            z = (logits - logits.max(axis=1, keepdims=True)) / logits.dtype.type(temperature)
        p = xp.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        centers = self._centers_like(logits).astype(logits.dtype)
        return xp.einsum("nqhw,qc->nchw", p, centers)

    def state(self):
        """Host arrays that :meth:`from_state` rebuilds the bins from (for model files)."""
        return {
            "centers": self.centers,
            "prior": self.prior,
            "step": np.array(self.step, dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state):
        """Rebuild the bins from :meth:`state`'s arrays."""
        step = np.asarray(state["step"])
        if step.size != 1:
            raise ValueError(f"step must be one number, got an array of shape {step.shape}")
        return cls(state["centers"], state["prior"], float(step.reshape(())))
