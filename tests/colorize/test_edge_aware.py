"""Gray-guided edge-aware chroma smoothing (Levin, Lischinski and Weiss 2004)."""

import numpy as np
import pytest

from colorize.color import chroma_to_rgb
from colorize.edge_aware import (
    OFFSETS,
    MAX_STRENGTH,
    PROPAGATE_ITERATIONS,
    NeighbourGraph,
    _safe_ratio,
    affinity_weights,
    known_columns,
    propagate_from_left,
    propagation_iterations,
    shift,
    smooth_chroma,
)


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
    graph = NeighbourGraph(affinity_weights(gray).astype(np.float64))
    u = rng.normal(size=(2,) + gray.shape)
    v = rng.normal(size=(2,) + gray.shape)
    assert np.isclose((v * graph.apply(u)).sum(), (u * graph.apply_t(v)).sum(), rtol=1e-10)


def test_graph_operator_matches_its_definition_pixel_by_pixel():
    gray, _, rng = _scene()
    w = affinity_weights(gray).astype(np.float64)
    u = rng.normal(size=(2,) + gray.shape)
    h, width = gray.shape
    expected = np.zeros_like(u)
    for k, (dy, dx) in enumerate(OFFSETS):
        for y in range(h):
            for x in range(width):
                if 0 <= y + dy < h and 0 <= x + dx < width:
                    expected[:, y, x] += w[k, y, x] * u[:, y + dy, x + dx]
    np.testing.assert_allclose(NeighbourGraph(w).apply(u), expected, rtol=1e-12, atol=1e-12)


def test_offsets_are_in_the_order_the_gpu_kernel_computes():
    # colorize/edge_aware_gpu.py finds offset k as (m / 3 - 1, m % 3 - 1), m = k + (k >= 4)
    assert OFFSETS == tuple((m // 3 - 1, m % 3 - 1) for m in range(9) if m != 4)


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
    # chroma units (the values span about 60); measured 0.0035, an unconverged solve is ~0.1 off
    assert np.abs(sparse - every).max() < 0.01
    flat = np.full_like(chroma, 7.0)
    np.testing.assert_allclose(smooth_chroma(gray, flat, 1.0, check_every=8), flat, atol=1e-3)


def test_step_ratios_of_an_exactly_solved_system_are_zero_not_nan():
    with np.errstate(all="raise"):
        assert _safe_ratio(np.float64(0.0), np.float64(0.0)) == 0
        assert _safe_ratio(np.float64(3.0), np.float64(2.0)) == np.float32(1.5)


def _seam_scene():
    """A 24 x 48 photo cut in two: the left half is known, flat gray 120 and one colour; the
    right half continues that region for 12 columns, then a gray edge opens a darker region."""
    h, w = 24, 24
    gray_right = np.full((h, w), 120.0, dtype=np.float32)
    gray_right[:, 12:] = 40.0
    known_chroma = np.tile(np.float32([25.0, -15.0]), (h, w, 1))
    known_rgb = chroma_to_rgb(np.full((h, w), 120.0, dtype=np.float32), known_chroma)
    guess = np.tile(np.float32([-10.0, 10.0]), (h, w, 1))
    return known_rgb, gray_right, known_chroma, guess


def test_known_colours_flow_across_the_seam_but_not_across_a_gray_edge():
    known_rgb, gray, known_chroma, guess = _seam_scene()
    out = propagate_from_left(known_rgb, gray, guess, strength=1e5)
    assert out.shape == guess.shape and out.dtype == np.float32
    # the region that continues the known half takes its colour (fading a little with the
    # distance from the seam: the energy penalises curvature, not slope) ...
    to_known = np.linalg.norm(out[:, :12] - known_chroma[:, :12], axis=-1)
    to_guess = np.linalg.norm(out[:, :12] - guess[:, :12], axis=-1)
    assert (to_known < 0.25 * to_guess).all()
    assert to_known[:, :3].max() < 2.0
    # ... the region behind the gray edge keeps the prediction
    assert np.abs(out[:, 12:] - guess[:, 12:]).max() < 0.5


def test_weak_propagation_stays_near_the_prediction_and_zero_is_off():
    known_rgb, gray, _, guess = _seam_scene()
    weak = propagate_from_left(known_rgb, gray, guess, strength=1e-3)
    assert np.abs(weak - guess).max() < 0.5
    assert np.array_equal(propagate_from_left(known_rgb, gray, guess, strength=0.0), guess)


def test_propagation_refuses_halves_of_different_heights():
    known_rgb, gray, _, guess = _seam_scene()
    with pytest.raises(ValueError, match="height"):
        propagate_from_left(known_rgb[:-1], gray, guess, strength=1.0)


def test_propagation_steps_grow_with_the_square_root_of_the_strength():
    assert propagation_iterations(0.0) == propagation_iterations(1e5) == PROPAGATE_ITERATIONS
    assert propagation_iterations(1e6) == 3163
    assert propagation_iterations(1e7) == propagation_iterations(MAX_STRENGTH) == 10000


def _exact_propagation(known_rgb, gray, guess, strength):
    """The minimiser of :func:`propagate_from_left`'s energy over the whole of [known | gray],
    by SciPy's LU factorisation of (C + lam (I - W)^T (I - W)) u = C u0, built here from its
    definition; float64, the gray part."""
    sparse = pytest.importorskip("scipy.sparse")
    linalg = pytest.importorskip("scipy.sparse.linalg")
    from colorize.color import rgb_to_chroma, rgb_to_gray
    from colorize.edge_aware import KNOWN_WEIGHT

    both = np.concatenate([rgb_to_gray(known_rgb), gray], axis=1)
    u0 = np.concatenate([rgb_to_chroma(known_rgb), guess], axis=1).reshape(-1, 2)
    weights = affinity_weights(both).astype(np.float64)
    index = np.arange(both.size).reshape(both.shape)
    rows, cols, vals = [], [], []
    for k, (dy, dx) in enumerate(OFFSETS):
        for y in range(both.shape[0]):
            for x in range(both.shape[1]):
                if 0 <= y + dy < both.shape[0] and 0 <= x + dx < both.shape[1]:
                    rows.append(index[y, x])
                    cols.append(index[y + dy, x + dx])
                    vals.append(weights[k, y, x])
    laplacian = sparse.identity(both.size) - sparse.csr_matrix((vals, (rows, cols)), shape=(both.size,) * 2)
    confidence = np.ones(both.shape)
    confidence[:, :known_rgb.shape[1]] = KNOWN_WEIGHT
    system = sparse.diags(confidence.ravel()) + strength * (laplacian.T @ laplacian)
    exact = linalg.splu(system.tocsc()).solve(confidence.ravel()[:, None] * u0.astype(np.float64))
    return exact.reshape(both.shape + (2,))[:, known_rgb.shape[1]:]


def _random_halves(known_width, h=20, w=16, seed=5):
    rng = np.random.default_rng(seed)
    known_rgb = np.clip(rng.normal(128, 40, (h, known_width, 3)), 0, 255).astype(np.float32)
    gray = np.clip(rng.normal(128, 40, (h, w)), 0, 255).astype(np.float32)
    guess = rng.normal(0, 20, (h, w, 2)).astype(np.float32)
    return known_rgb, gray, guess


@pytest.mark.parametrize("known_width", [16, 64])
@pytest.mark.parametrize("strength", [1e3, 1e6])
def test_propagation_agrees_with_a_sparse_direct_solve(strength, known_width):
    """The matrix-free CG against the exact minimiser over all the known columns (64 are more
    than :func:`known_columns` keeps at either strength: the dropped ones must not matter)."""
    known_rgb, gray, guess = _random_halves(known_width)
    exact = _exact_propagation(known_rgb, gray, guess, strength)
    assert np.abs(exact - guess).max() > 5  # the energy moves the guess: not a trivial check
    solved = propagate_from_left(known_rgb, gray, guess, strength)
    # chroma units, the values span about 100; float32 CG on a stiff system ends near 0.1
    assert np.abs(solved - exact).max() < 0.25


@pytest.mark.parametrize("strength", [1e2, 1e4, 1e5, 1e6])
def test_known_columns_beyond_the_kept_ones_do_not_move_the_exact_solution(strength):
    known_rgb, gray, guess = _random_halves(96)
    kept = known_columns(strength)
    assert kept < 96
    whole = _exact_propagation(known_rgb, gray, guess, strength)
    near = _exact_propagation(known_rgb[:, -kept:], gray, guess, strength)
    assert np.abs(near - whole).max() < 1e-3
    # the rule is not idle: far fewer columns than it keeps do move the solution
    fewer = _exact_propagation(known_rgb[:, -max(1, kept // 8):], gray, guess, strength)
    assert np.abs(fewer - whole).max() > 1e-3


def test_propagation_uses_the_known_columns_near_the_seam_only():
    known_rgb, gray, guess = _random_halves(80)
    kept = known_columns(1e5)
    assert (kept, known_columns(0.0), known_columns(1e4), known_columns(1e6)) == (26, 16, 16, 45)
    assert known_columns(MAX_STRENGTH) == 253
    far = known_rgb.copy()
    far[:, :-kept] = 255.0 - far[:, :-kept]
    near = known_rgb.copy()
    near[:, -kept] = 255.0 - near[:, -kept]
    out = propagate_from_left(known_rgb, gray, guess, 1e5)
    np.testing.assert_array_equal(propagate_from_left(far, gray, guess, 1e5), out)
    # the farthest kept column still takes part (faintly, 26 columns from the seam)
    assert np.abs(propagate_from_left(near, gray, guess, 1e5) - out).max() > 1e-3
    with pytest.raises(ValueError, match="strength"):
        known_columns(-1.0)
    # a NaN among the dropped columns is still refused: the whole input is checked
    far[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="known colours"):
        propagate_from_left(far, gray, guess, 1e5)


def test_zero_propagation_steps_leave_the_guess_and_the_graph_follows_its_input():
    known_rgb, gray, _, guess = _seam_scene()
    np.testing.assert_array_equal(propagate_from_left(known_rgb, gray, guess, 1e5, iterations=0), guess)
    # one graph applied to planes of another size or dtype rebuilds its buffer
    weights = affinity_weights(gray).astype(np.float64)
    graph = NeighbourGraph(weights)
    graph.apply(np.ones((2,) + gray.shape, np.float32))
    precise = np.random.default_rng(0).normal(size=(2,) + gray.shape)  # float64
    np.testing.assert_array_equal(graph.apply(precise), NeighbourGraph(weights).apply(precise))
    with pytest.raises(ValueError):
        graph.apply(np.ones((2, 3, 3)))  # the weights fix the size; no silent broadcast


def test_a_one_pixel_image_is_left_as_it_is_not_nan():
    gray = np.full((1, 1), 100.0)
    chroma = np.array([[[3.0, -4.0]]])
    np.testing.assert_array_equal(affinity_weights(gray), np.zeros((8, 1, 1), np.float32))
    np.testing.assert_array_equal(smooth_chroma(gray, chroma, 1.0), chroma.astype(np.float32))
    # one column and one row are still smoothed, with finite values
    for shape in ((1, 5), (5, 1)):
        noisy = np.random.default_rng(0).normal(size=shape + (2,))
        out = smooth_chroma(np.full(shape, 100.0), noisy, 1.0)
        assert np.isfinite(out).all() and out.std() < 0.9 * noisy.std()


@pytest.mark.parametrize("strength", [-1.0, float("nan"), float("inf"), "1", True, None])
def test_a_strength_that_is_not_a_number_in_range_is_refused(strength):
    gray = np.zeros((4, 4), np.float32)
    chroma = np.zeros((4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="must be a number from 0 to"):
        smooth_chroma(gray, chroma, strength)
    with pytest.raises(ValueError, match="must be a number from 0 to"):
        propagate_from_left(np.zeros((4, 2, 3), np.float32), gray, chroma, strength)
    with pytest.raises(ValueError, match="must be a number from 0 to"):
        propagation_iterations(strength)


def test_a_strength_may_be_any_real_number_type():
    # ImprovedAgent accepts refine=np.array(1.0) (its config check uses float()); so must the solve.
    gray, chroma, _ = _scene()
    expected = smooth_chroma(gray, chroma, 1.0)
    for strength in (np.array(1.0), np.float32(1.0), 1):
        np.testing.assert_array_equal(smooth_chroma(gray, chroma, strength), expected)


@pytest.mark.parametrize("confidence", [np.zeros((4, 4)), -np.ones((4, 4)), np.full((4, 4), np.inf),
                                        np.ones((4, 3))])
def test_a_confidence_that_is_not_positive_finite_or_of_the_gray_shape_is_refused(confidence):
    # A negative data weight made the system indefinite: chroma of 0..20 came back near 2279.
    gray = np.tile(np.arange(4, dtype=np.float32) * 60, (4, 1))
    chroma = np.random.default_rng(0).uniform(0, 20, (4, 4, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="confidence"):
        smooth_chroma(gray, chroma, 1.0, confidence=confidence)


def test_smoothing_refuses_mismatched_shapes_and_values_that_are_not_numbers():
    gray = np.random.default_rng(0).uniform(0, 255, (6, 8)).astype(np.float32)
    chroma = np.zeros((6, 8, 2), np.float32)
    with pytest.raises(ValueError, match="must share H and W"):
        smooth_chroma(gray, chroma[:, :5])
    with pytest.raises(ValueError, match="must share H and W"):
        smooth_chroma(gray, chroma[..., 0])
    bad = chroma.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="chroma holds NaN"):
        smooth_chroma(gray, bad)
    bad_gray = gray.copy()
    bad_gray[2, 3] = np.nan  # its weights would silently become "no neighbour"
    with pytest.raises(ValueError, match="gray holds NaN"):
        smooth_chroma(bad_gray, chroma)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        affinity_weights(np.zeros((3, 3, 3)))


def test_strengths_beyond_what_float32_conjugate_gradients_hold_are_refused():
    """Near 1e11 the CG products overflowed and the input came back unchanged, silently."""
    gray, chroma, _ = _scene()
    assert not np.allclose(smooth_chroma(gray, chroma + 5, MAX_STRENGTH, iterations=5), chroma + 5)
    for call in (lambda s: smooth_chroma(gray, chroma, s),
                 lambda s: propagate_from_left(np.zeros((32, 4, 3)), gray, chroma, s),
                 propagation_iterations):
        with pytest.raises(ValueError, match="from 0 to 1e"):
            call(MAX_STRENGTH * 10)


@pytest.mark.parametrize("kwargs, message", [
    ({"check_every": 0}, "check_every"),
    ({"confidence": np.full((32, 40), 1e39)}, "in float32"),
    ({"confidence": np.full((32, 40), 1e-50)}, "in float32"),
])
def test_smoothing_checks_its_settings_as_the_solve_uses_them(kwargs, message):
    gray, chroma, _ = _scene()
    with pytest.raises(ValueError, match=message):
        smooth_chroma(gray, chroma, 1.0, **kwargs)


def test_a_gray_too_large_for_float32_squares_is_refused_not_read_as_flat():
    gray, chroma, _ = _scene()
    with pytest.raises(ValueError, match="huge"):
        smooth_chroma(gray * np.float32(1e18), chroma, 1.0)


def test_propagation_names_non_finite_known_colours_and_checks_at_strength_zero():
    gray, chroma, _ = _scene()
    known = np.zeros((32, 4, 3))
    known[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="known colours"):
        propagate_from_left(known, gray, chroma, 10.0)
    chroma[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="chroma holds NaN"):
        propagate_from_left(np.zeros((32, 4, 3)), gray, chroma, 0.0)


def test_weights_match_the_windowed_variance_formula_pixel_by_pixel():
    # w_rs ∝ exp(-(Y_r - Y_s)^2 / (0.6 max(var_r, 4))), var_r the population variance of the
    # 3x3 window (clipped at the border); a flat noisy patch (var < 4) and an edge both appear
    rng = np.random.default_rng(7)
    gray = np.full((6, 7), 100.0)
    gray[:, 4:] = 160.0
    gray += rng.normal(0, 0.8, gray.shape)
    h, w = gray.shape
    expected = np.zeros((8, h, w))
    for y in range(h):
        for x in range(w):
            window = gray[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            two_sigma_sq = 0.6 * max(window.var(), 4.0)
            for k, (dy, dx) in enumerate(OFFSETS):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    expected[k, y, x] = np.exp(-((gray[y, x] - gray[y + dy, x + dx]) ** 2) / two_sigma_sq)
            expected[:, y, x] /= expected[:, y, x].sum()
    np.testing.assert_allclose(affinity_weights(gray), expected, rtol=1e-4, atol=1e-6)


def test_the_iteration_cap_and_a_default_confidence_of_one_are_honoured():
    gray, chroma, rng = _scene()
    noisy = chroma + rng.normal(0, 5.0, chroma.shape).astype(np.float32)
    np.testing.assert_array_equal(smooth_chroma(gray, noisy, 1.0, iterations=0), noisy)
    one_step = smooth_chroma(gray, noisy, 1.0, iterations=1)
    assert np.abs(one_step - noisy).max() > 0.1  # a single CG step already moves the chroma
    # no confidence means 1 everywhere (2 everywhere would be the same as half the strength)
    np.testing.assert_allclose(smooth_chroma(gray, noisy, 1.0, confidence=np.ones(gray.shape)),
                               smooth_chroma(gray, noisy, 1.0), atol=1e-5)
    assert np.abs(smooth_chroma(gray, noisy, 1.0, confidence=np.full(gray.shape, 2.0))
                  - smooth_chroma(gray, noisy, 1.0)).max() > 0.1


def test_sparse_convergence_tests_still_stop_the_solve_early(monkeypatch):
    # check_every=8 tests convergence every 8 steps: it stops at most 8 steps after check_every=1
    import colorize.edge_aware as edge_aware

    calls = []

    class Counting(NeighbourGraph):
        def apply(self, u):
            calls.append(1)
            return super().apply(u)

    monkeypatch.setattr(edge_aware, "NeighbourGraph", Counting)
    gray, chroma, rng = _scene()
    noisy = chroma + rng.normal(0, 5.0, chroma.shape).astype(np.float32)
    smooth_chroma(gray, noisy, 1.0, iterations=500, check_every=1)
    every = len(calls)
    calls.clear()
    smooth_chroma(gray, noisy, 1.0, iterations=500, check_every=8)
    assert every < 200 and len(calls) <= every + 8


def test_smooth_chroma_checks_its_step_counts_as_whole_numbers():
    gray, chroma = np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.float32)
    for bad in (True, 1.5, 0):
        with pytest.raises(ValueError, match="check_every must be a whole number"):
            smooth_chroma(gray, chroma, check_every=bad)
    for bad in (None, 2.5, -1):
        with pytest.raises(ValueError, match="iterations must be a whole number"):
            smooth_chroma(gray, chroma, iterations=bad)
    done = smooth_chroma(gray, chroma, iterations=np.int64(3), check_every=np.int64(2))
    assert done.shape == chroma.shape  # NumPy integers are whole numbers too
