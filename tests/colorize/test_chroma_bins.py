"""Quantized chroma bins: fitting, soft encoding, rebalancing, annealed mean."""

import math

import numpy as np
import pytest

from colorize.chroma_bins import ChromaBins


def _bins():
    rng = np.random.default_rng(0)
    # Mostly near-gray pixels, a few saturated red ones: the imbalance rebalancing targets.
    dull = rng.normal(0, 3, size=(900, 2))
    vivid = rng.normal(0, 3, size=(100, 2)) + np.array([40.0, 20.0])
    return ChromaBins.fit(np.concatenate([dull, vivid]).astype(np.float32), step=10.0), dull, vivid


def test_fit_keeps_only_used_cells_on_the_grid():
    bins, dull, vivid = _bins()
    assert np.allclose(bins.centers / 10.0, np.rint(bins.centers / 10.0))
    cells = {tuple(c) for c in np.rint(np.concatenate([dull, vivid]) / 10.0).astype(int)}
    assert {tuple(c) for c in np.rint(bins.centers / 10.0).astype(int)} == cells
    assert bins.prior.sum() == pytest.approx(1.0, abs=1e-6)
    assert bins.centers.dtype == np.float32


def test_rebalancing_favours_rare_bins_and_has_unit_mean():
    bins, _, _ = _bins()
    w = bins.rebalance_weights(0.5)
    assert float((bins.prior * w).sum()) == pytest.approx(1.0, rel=1e-5)
    gray_bin = int(np.argmin((bins.centers ** 2).sum(1)))
    red_bin = int(np.argmin(((bins.centers - [40, 20]) ** 2).sum(1)))
    assert w[red_bin] > 2 * w[gray_bin]
    assert np.allclose(bins.rebalance_weights(1.0), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        bins.rebalance_weights(1.5)


def test_encode_hard_is_nearest_center():
    bins, _, _ = _bins()
    c = np.array([[[1.0, 2.0], [38.0, 21.0]]], dtype=np.float32)
    labels = bins.encode_hard(c)
    assert labels.shape == (1, 2)
    assert np.allclose(bins.centers[labels[0, 0]], [0, 0])
    assert np.allclose(bins.centers[labels[0, 1]], [40, 20])


def test_encode_soft_sums_to_one_with_k_nonzero_and_peaks_at_nearest():
    bins, _, _ = _bins()
    rng = np.random.default_rng(1)
    chroma = rng.normal(0, 5, size=(2, 2, 3, 4)).astype(np.float32)
    soft = bins.encode_soft(chroma, neighbors=5)
    assert soft.shape == (2, bins.n_bins, 3, 4) and soft.dtype == np.float32
    assert np.allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert ((soft > 0).sum(axis=1) == min(5, bins.n_bins)).all()
    hard = bins.encode_hard(chroma.transpose(0, 2, 3, 1))
    assert (soft.argmax(axis=1) == hard).all()
    one_hot = bins.encode_soft(chroma, neighbors=1)
    assert np.array_equal(one_hot.argmax(axis=1), hard) and np.allclose(one_hot.max(axis=1), 1.0)


def test_annealed_mean_interpolates_between_mean_and_mode():
    centers = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]], dtype=np.float32)
    bins = ChromaBins(centers, np.full(3, 1 / 3, np.float32), step=30.0)
    p = np.array([0.5, 0.3, 0.2])
    logits = np.log(p).astype(np.float32).reshape(1, 3, 1, 1)
    mean = bins.annealed_mean(logits, temperature=1.0)[0, :, 0, 0]
    assert np.allclose(mean, p @ centers, atol=1e-4)
    mode = bins.annealed_mean(logits, temperature=0.01)[0, :, 0, 0]
    assert np.allclose(mode, [0, 0], atol=1e-3)
    mid = bins.annealed_mean(logits, temperature=0.38)[0, :, 0, 0]
    assert 0 < mid[0] < mean[0]
    assert bins.annealed_mean(logits).dtype == np.float32


def test_state_round_trip():
    bins, _, _ = _bins()
    again = ChromaBins.from_state(bins.state())
    assert np.array_equal(again.centers, bins.centers) and again.step == bins.step
    assert np.array_equal(again.prior, bins.prior)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(centers=s["centers"] * np.nan), "must be finite numbers"),
    (lambda s: s.update(prior=-s["prior"]), "the prior non-negative"),
    (lambda s: s.update(step=np.array(np.inf)), "step must be a positive finite number"),
    (lambda s: s.update(step=np.array([1.0, 2.0])), "step must be one number"),
])
def test_bins_refuse_values_that_cannot_be_bins(change, message):
    bins, _, _ = _bins()
    state = dict(bins.state())
    change(state)
    with pytest.raises(ValueError, match=message):
        ChromaBins.from_state(state)


def test_fit_refuses_non_finite_chroma():
    # NaN cast to int64 used to become a bin near -9.2e19, which then passed as finite.
    with pytest.raises(ValueError, match="NaN or infinite"):
        ChromaBins.fit(np.array([[np.nan, 0.0], [5.0, 5.0]]), 10.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"sigma": 0.0}, "sigma must be a positive"),
    ({"sigma": float("nan")}, "sigma must be a positive"),
    ({"sigma": float("inf")}, "sigma must be a positive"),
    ({"sigma": -2.0}, "sigma must be a positive"),
    ({"sigma": 1e-23}, "sigma must be a positive"),  # 2 sigma^2 is 0 in float32
    ({"neighbors": 0}, "neighbors must be a whole number"),
    ({"neighbors": 2.5}, "neighbors must be a whole number"),
])
def test_encode_soft_refuses_settings_that_give_no_distribution(kwargs, message):
    bins, _, _ = _bins()
    with pytest.raises(ValueError, match=message):
        bins.encode_soft(np.zeros((1, 2, 2, 2), np.float32), **kwargs)


def test_encode_soft_names_the_shape_it_needs():
    bins, _, _ = _bins()
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\), got \(2, 2, 2\)"):
        bins.encode_soft(np.zeros((2, 2, 2), np.float32))


def test_annealed_mean_of_integer_scores_is_computed_in_floating_point():
    bins, _, _ = _bins()
    logits = np.zeros((1, bins.n_bins, 1, 1), np.int64)
    logits[0, 0] = 5
    as_float = bins.annealed_mean(logits.astype(np.float32), 0.7)
    assert np.array_equal(bins.annealed_mean(logits, 0.7), as_float)
    assert np.isfinite(as_float).all()


def test_full_inverse_prior_refuses_a_bin_of_zero_prior():
    bins = ChromaBins(np.array([[0.0, 0.0], [10.0, 0.0]], np.float32), np.array([1.0, 0.0], np.float32), 10.0)
    with pytest.raises(ValueError, match="above 0"):
        bins.rebalance_weights(0.0)
    assert np.isfinite(bins.rebalance_weights(0.5)).all()


def test_chroma_that_is_not_pairs_is_refused_rather_than_regrouped():
    rgb = np.random.default_rng(0).uniform(0, 255, (8, 8, 3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        ChromaBins.fit(rgb, 10)  # 192 values would regroup into 96 false pairs
    bins = ChromaBins.fit(rgb[..., :2], 10)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        bins.encode_hard(rgb)
    with pytest.raises(ValueError, match="smoothing"):
        ChromaBins.fit(rgb[..., :2], 10, smoothing=float("nan"))


def test_an_all_zero_prior_is_refused():
    with pytest.raises(ValueError, match="all zero"):
        ChromaBins(np.zeros((3, 2)), np.zeros(3), 10)


def test_a_prior_that_does_not_sum_to_one_is_scaled_so_rebalancing_is_unchanged():
    centers = np.array([[0, 0], [10, 0]], np.float32)
    raw = ChromaBins(centers, np.array([3, 1], np.float32), 10)
    unit = ChromaBins(centers, np.array([0.75, 0.25], np.float32), 10)
    np.testing.assert_allclose(raw.prior, [0.75, 0.25])
    np.testing.assert_allclose(raw.rebalance_weights(0.5), unit.rebalance_weights(0.5), rtol=1e-6)


@pytest.mark.parametrize("dtype, temperature", [(np.float32, 1e-40), (np.float16, 1e-4)])
def test_annealed_mean_at_a_tiny_temperature_is_the_mode_not_nan(dtype, temperature):
    """Dividing before subtracting the maximum gave inf - inf = NaN."""
    bins = ChromaBins(np.array([[0, 0], [10, 0]], np.float32), np.array([0.5, 0.5], np.float32), 10)
    logits = np.array([0.0, 50.0], dtype).reshape(1, 2, 1, 1)
    np.testing.assert_array_equal(bins.annealed_mean(logits, temperature).ravel(), [10, 0])
    with pytest.raises(ValueError, match="one score per bin"):
        bins.annealed_mean(np.zeros((1, 3, 1, 1), np.float32), 1.0)
    for bad in ("0.38", True, np.True_, None, [0.5], np.array([0.5]), 0.0, -1.0):
        with pytest.raises(ValueError, match="temperature must be"):
            bins.annealed_mean(logits, bad)


def test_soft_targets_of_saturated_chroma_at_a_fine_step_match_float64():
    """|c|^2 - 2 c.q + |q|^2 in float32 lost the small distances near |c| = 250."""
    rng = np.random.default_rng(0)
    chroma = rng.uniform(150, 260, (400, 2))
    bins = ChromaBins.fit(chroma, 1.0)
    centers = bins.centers.astype(np.float64)
    got = bins.encode_soft(chroma.T.reshape(1, 2, 20, 20).astype(np.float32), 5)
    got = got.reshape(bins.n_bins, 400).T
    c32 = chroma.astype(np.float32).astype(np.float64)
    d2 = ((c32[:, None, :] - centers[None]) ** 2).sum(axis=2)
    keep = np.argsort(d2, axis=1, kind="stable")[:, :5]
    expected = np.zeros_like(d2)
    rows = np.arange(400)[:, None]
    expected[rows, keep] = np.exp(-(d2[rows, keep] - d2[rows, keep[:, :1]]) / (2 * 0.5**2))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_fit_refuses_a_step_too_small_to_number_the_cells():
    with pytest.raises(ValueError, match="too small"):
        ChromaBins.fit(np.array([[100.0, -100.0]]), 1e-17)
    with pytest.raises(ValueError, match="step"):
        ChromaBins.fit(np.array([[100.0, -100.0]]), 0.0)


@pytest.mark.parametrize("neighbors", [1, 5, 9])
def test_sparse_encoding_densifies_to_the_soft_targets_bit_for_bit(neighbors):
    rng = np.random.default_rng(3)
    chroma = rng.normal(0, 40, (3, 2, 9, 11)).astype(np.float32)
    # pixels exactly between bin centres: exact ties at the k-th distance keep more bins
    chroma[0, :, 0, :4] = [[5.0], [5.0]]
    bins = ChromaBins.fit(chroma.transpose(0, 2, 3, 1), step=10.0)
    soft = bins.encode_soft(chroma, neighbors)
    for chunk in (7, 16384):  # chunks that keep different numbers of bins are padded alike
        index, weights = bins.encode_sparse(chroma, neighbors, rows_per_chunk=chunk)
        assert index.dtype == np.int32 and weights.dtype == np.float32
        assert index.shape == weights.shape and index.shape[1] >= min(neighbors, bins.n_bins)
        assert np.array_equal(bins.densify(index, weights), soft)
    assert (soft[0, :, 0, 0] > 0).sum() > neighbors or neighbors >= bins.n_bins
    empty = np.zeros((0, 2, 3, 4), np.float32)
    assert np.array_equal(bins.densify(*bins.encode_sparse(empty, neighbors)),
                          bins.encode_soft(empty, neighbors))


@pytest.mark.parametrize("smoothing", [0.0, 1.0, 2.0])
def test_the_prior_is_the_histogram_smoothed_by_a_gaussian_of_smoothing_cells(smoothing):
    # two bins one cell apart, used 3:1; a Gaussian of standard deviation ``smoothing`` cells
    # gives the other bin exp(-1 / (2 smoothing^2)) of a bin's mass
    chroma = np.array([[0.0, 0.0]] * 3 + [[10.0, 0.0]], dtype=np.float32)
    bins = ChromaBins.fit(chroma, step=10.0, smoothing=smoothing)
    assert np.array_equal(bins.centers, [[0.0, 0.0], [10.0, 0.0]])
    e = math.exp(-1.0 / (2.0 * smoothing**2)) if smoothing else 0.0
    expected = np.array([0.75 + 0.25 * e, 0.75 * e + 0.25])
    np.testing.assert_allclose(bins.prior, expected / expected.sum(), rtol=1e-6)


def test_neighbors_one_short_of_all_bins_still_drops_the_farthest():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [30.0, 0.0]], np.float32)
    bins = ChromaBins(centers, np.full(3, 1 / 3, np.float32), step=10.0)
    chroma = np.array([[2.0, 14.0, 27.0], [1.0, -3.0, 2.0]], np.float32).reshape(1, 2, 1, 3)
    assert ((bins.encode_soft(chroma, neighbors=2) > 0).sum(axis=1) == 2).all()
    assert ((bins.encode_soft(chroma, neighbors=3) > 0).sum(axis=1) == 3).all()
    index, weights = bins.encode_sparse(chroma, neighbors=2)
    assert index.shape == (1, 2, 1, 3) and (weights > 0).all()


def test_rebalancing_weights_follow_the_formula_for_a_known_prior():
    bins = ChromaBins(np.array([[0, 0], [10, 0]], np.float32), np.array([0.75, 0.25], np.float32), 10)
    # w ∝ 1 / (0.5 p + 0.5 / 2), scaled so that sum p w = 1
    raw = 1 / (0.5 * np.array([0.75, 0.25]) + 0.25)
    np.testing.assert_allclose(bins.rebalance_weights(0.5), raw / (raw @ [0.75, 0.25]), rtol=1e-6)
    raw = 1 / (0.8 * np.array([0.75, 0.25]) + 0.1)
    np.testing.assert_allclose(bins.rebalance_weights(0.2), raw / (raw @ [0.75, 0.25]), rtol=1e-6)


def test_the_prior_smoothing_is_gaussian_in_the_squared_distance_of_farther_cells():
    # cells (0, 0), (2, 0) and (1, 1): squared distances 4, 2 and 2 cells
    chroma = np.array([[0.0, 0.0]] * 3 + [[20.0, 0.0]] * 2 + [[10.0, 10.0]], np.float32)
    bins = ChromaBins.fit(chroma, step=10.0, smoothing=1.0)
    assert np.array_equal(bins.centers, [[0, 0], [10, 10], [20, 0]])
    d2 = np.array([[0, 2, 4], [2, 0, 2], [4, 2, 0]], float)
    expected = np.exp(-d2 / 2) @ np.array([3, 1, 2]) / 6
    np.testing.assert_allclose(bins.prior, expected / expected.sum(), rtol=1e-6)


def test_a_step_that_float32_cannot_hold_survives_the_round_trip():
    bins = ChromaBins.fit(np.array([[0.0, 0.0], [0.9, 0.3]]), step=0.3)
    again = ChromaBins.from_state(bins.state())
    assert again.step == bins.step == 0.3


@pytest.mark.parametrize("pixels, chunk", [(1, 16384), (8, 7)])
def test_sparse_encoding_keeps_a_last_chunk_of_one_pixel(pixels, chunk):
    bins, _, _ = _bins()
    chroma = np.random.default_rng(0).normal(0, 20, (1, 2, 1, pixels)).astype(np.float32)
    index, weights = bins.encode_sparse(chroma, 5, rows_per_chunk=chunk)
    assert np.array_equal(bins.densify(index, weights), bins.encode_soft(chroma, 5))
