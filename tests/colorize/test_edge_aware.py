"""Gray-guided edge-aware chroma smoothing (Levin, Lischinski and Weiss 2004)."""

import numpy as np

from colorize.edge_aware import _apply_w, _apply_wt, _safe_ratio, affinity_weights, shift, smooth_chroma


def _scene(seed=0):
    """Two regions split by a gray edge; chroma is constant per region."""
    rng = np.random.default_rng(seed)
    h, w = 32, 40
    yy, xx = np.mgrid[:h, :w]
    inside = (xx - 18) ** 2 + (yy - 15) ** 2 < 11**2
    gray = np.where(inside, 170.0, 70.0) + rng.normal(0, 1.0, (h, w))
    chroma = np.zeros((h, w, 2))
    chroma[inside] = [30.0, -10.0]
    chroma[~inside] = [-5.0, 20.0]
    return gray.astype(np.float32), chroma.astype(np.float32), rng


def test_weights_are_a_partition_of_unity_and_stop_at_edges():
    gray, _, _ = _scene()
    w = affinity_weights(gray)
    assert w.shape == (8, *gray.shape) and w.dtype == np.float32
    assert np.allclose(w.sum(axis=0), 1.0, atol=1e-5)
    # Corner pixel: the 5 neighbours outside the image get nothing.
    assert np.count_nonzero(w[:, 0, 0]) == 3
    # A pixel next to the edge gives almost no weight to the neighbour across it.
    assert w[:, 15, 7].min() < 1e-3


def test_transpose_operator_is_the_adjoint():
    gray, _, rng = _scene()
    w = affinity_weights(gray).astype(np.float64)
    u = rng.normal(size=gray.shape + (2,))
    v = rng.normal(size=gray.shape + (2,))
    assert np.isclose((v * _apply_w(w, u)).sum(), (u * _apply_wt(w, v)).sum(), rtol=1e-10)


def test_shift():
    a = np.arange(12).reshape(3, 4)
    b = shift(a, 1, -1)
    assert b[0, 1] == a[1, 0] and b[2].sum() == 0 and b[:, 0].sum() == 0


def test_smoothing_reduces_noise_without_bleeding_across_edges():
    gray, truth, rng = _scene()
    noisy = truth + rng.normal(0, 8.0, truth.shape).astype(np.float32)
    refined = smooth_chroma(gray, noisy, strength=4.0)
    err_before = np.sqrt(((noisy - truth) ** 2).mean())
    err_after = np.sqrt(((refined - truth) ** 2).mean())
    assert refined.dtype == np.float32 and refined.shape == noisy.shape
    assert err_after < 0.5 * err_before
    assert np.array_equal(smooth_chroma(gray, noisy, strength=0.0), noisy)


def test_sparse_convergence_tests_give_the_same_solution():
    # the GPU tests convergence only every few steps; the answer must match testing every step
    gray, chroma, rng = _scene()
    noisy = chroma + rng.normal(0, 5.0, chroma.shape).astype(np.float32)
    every = smooth_chroma(gray, noisy, 1.0, check_every=1)
    sparse = smooth_chroma(gray, noisy, 1.0, check_every=8)
    assert np.abs(sparse - every).max() < 0.2  # chroma units; the values span about 60
    flat = np.full_like(chroma, 7.0)
    np.testing.assert_allclose(smooth_chroma(gray, flat, 1.0, check_every=8), flat, atol=1e-3)


def test_step_ratios_of_an_exactly_solved_system_are_zero_not_nan():
    with np.errstate(all="raise"):
        assert _safe_ratio(np.float64(0.0), np.float64(0.0), np) == 0
        assert _safe_ratio(np.float64(3.0), np.float64(2.0), np) == np.float32(1.5)
