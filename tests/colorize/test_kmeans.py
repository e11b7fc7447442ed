"""colorize.kmeans against scikit-learn's inertia, determinism, empty clusters, degenerate input."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize.kmeans import _reseed_empty, _seed_plus_plus, inertia, kmeans

IMAGES = Path(__file__).resolve().parents[2] / "images"


def left_half_pixels(name):
    rgb = np.asarray(Image.open(IMAGES / f"{name}.png").convert("RGB"))
    return rgb[:, : rgb.shape[1] // 2].reshape(-1, 3)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_inertia_no_worse_than_sklearn(name):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    pixels = left_half_pixels(name)
    centers, labels = kmeans(pixels, 5, seed=0, n_init=4)
    ours = inertia(pixels, centers, labels)
    theirs = sklearn_cluster.KMeans(n_clusters=5, n_init=4, random_state=0).fit(
        pixels.astype(np.float64)
    ).inertia_
    assert ours <= 1.01 * theirs


def test_result_is_a_lloyd_fixed_point():
    pixels = left_half_pixels("astronaut")[::7].astype(np.float64)
    centers, labels = kmeans(pixels, 5)
    assert centers.shape == (5, 3) and centers.dtype == np.float64
    assert labels.shape == (pixels.shape[0],) and labels.dtype == np.int64
    d2 = ((pixels[:, None, :] - centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
    for j in range(5):
        np.testing.assert_allclose(centers[j], pixels[labels == j].mean(axis=0), rtol=1e-12)


def test_deterministic_under_a_seed():
    pixels = left_half_pixels("coffee")[::5]
    a = kmeans(pixels, 5, seed=3)
    b = kmeans(pixels, 5, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_float32_stays_float32():
    pixels = left_half_pixels("rocket")[::9].astype(np.float32)
    centers, _ = kmeans(pixels, 4, n_init=1)
    assert centers.dtype == np.float32


def test_float16_is_clustered_in_float32():
    pixels = left_half_pixels("rocket")[::9]
    centers, labels = kmeans(pixels.astype(np.float16), 4, seed=0)
    assert centers.dtype == np.float32
    ref_centers, ref_labels = kmeans(pixels.astype(np.float32), 4, seed=0)
    np.testing.assert_array_equal(labels, ref_labels)  # uint8 values are exact in float16
    np.testing.assert_array_equal(centers, ref_centers)


def test_empty_cluster_is_reseeded_at_the_farthest_point():
    # three tight groups; a single Lloyd start with two centres on one group empties one of
    # them after the first update, and re-seeding must find the third group
    rng = np.random.default_rng(0)
    groups = [np.array([0.0, 0.0]), np.array([10.0, 0.0]), np.array([100.0, 100.0])]
    points = np.vstack([g + 0.01 * rng.normal(size=(50, 2)) for g in groups])
    from colorize import kmeans as km

    start = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0]])  # centre 1 duplicates centre 0
    centers, labels = km._lloyd(points, np.ascontiguousarray(points.T), start.copy(), 100, np)
    assert np.bincount(labels, minlength=3).min() == 50
    assert np.abs(centers[np.argsort(centers[:, 0])] - np.array(groups)).max() < 0.1


def test_fewer_distinct_points_than_k():
    points = np.array([[0, 0, 0], [0, 0, 0], [255, 255, 255], [255, 255, 255]], dtype=np.uint8)
    centers, labels = kmeans(points, 5)
    assert centers.shape == (5, 3)
    assert inertia(points, centers, labels) == 0.0
    assert set(map(tuple, centers[labels].astype(int))) == {(0, 0, 0), (255, 255, 255)}


def test_errors():
    with pytest.raises(ValueError, match="k >= 1"):
        kmeans(np.zeros((4, 3)), 0)
    with pytest.raises(ValueError, match="non-empty"):
        kmeans(np.zeros((0, 3)), 2)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    import cupy

    pixels = left_half_pixels("coffee").astype(np.float64)
    centers, labels = kmeans(pixels, 5)
    gc, gl = kmeans(cupy.asarray(pixels), 5)
    np.testing.assert_allclose(cupy.asnumpy(gc), centers, rtol=1e-6)
    assert (cupy.asnumpy(gl) == labels).mean() > 0.999


def test_inertia_refuses_labels_that_would_wrap_around_or_not_line_up():
    points, centers = np.zeros((3, 2)), np.zeros((2, 2))
    assert inertia(points, centers, np.array([0, 1, 1])) == 0.0
    for labels in ([0, 1, -1], [0, 2, 1]):
        with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
            inertia(points, centers, np.array(labels))
    with pytest.raises(ValueError, match="integers"):
        inertia(points, centers, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="one per point"):
        inertia(points, centers, np.array([0, 1]))


@pytest.mark.parametrize("options", [{"k": None}, {"k": 2.5}, {"k": 2, "n_init": 2.5},
                                     {"k": 2, "max_iter": float("inf")}, {"k": True}])
def test_counts_that_are_not_whole_numbers_are_refused_in_one_sentence(options):
    with pytest.raises(ValueError, match="whole number"):
        kmeans(np.random.default_rng(0).standard_normal((10, 2)), **options)
    centers, _ = kmeans(np.random.default_rng(0).standard_normal((10, 2)), np.int64(2), n_init=2.0)
    assert centers.shape == (2, 2)


def test_seeding_draws_in_proportion_to_the_squared_distance():
    # 999 copies of one colour and 1 outlier: once a copy is the first centre, only the outlier
    # has D(x) > 0, so every later draw must pick it (uniform draws would almost never)
    points = np.zeros((1000, 3))
    points[-1] = [200.0, 10.0, 50.0]
    columns = np.ascontiguousarray(points.T)
    for seed in range(20):
        centers = _seed_plus_plus(points, columns, 2, np.random.default_rng(seed), np)
        assert {tuple(c) for c in centers} == {(0.0, 0.0, 0.0), (200.0, 10.0, 50.0)}, seed


def test_seeding_keeps_the_best_of_several_candidates():
    # two groups of 500 and one outlier at 100: a single D^2 draw from a centre in the groups
    # takes the outlier about 1 time in 6; the greedy choice of two candidates keeps the
    # candidate that lowers the potential most (the other group), so the outlier is rare
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(size=(500, 2)) * 0.5, rng.normal(size=(500, 2)) * 0.5 + [10, 0],
                        [[100.0, 0.0]]])
    columns = np.ascontiguousarray(points.T)
    outlier = 0
    for seed in range(200):
        centers = _seed_plus_plus(points, columns, 2, np.random.default_rng(seed), np)
        outlier += bool((np.abs(centers[:, 0] - 100) < 1).any())
    assert outlier <= 12  # 4 with the greedy rule, 31 with a single draw


def test_an_empty_cluster_moves_to_the_point_farthest_from_its_centre():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [3.0, 0.0]])
    centers = np.array([[0.0, 0.0], [9.0, 9.0], [9.0, 9.0]])
    labels, sq_dist = np.zeros(4, dtype=np.int64), np.array([0.0, 1.0, 25.0, 9.0])
    _reseed_empty(points, centers, labels, sq_dist, np.array([4, 0, 0]), np)
    # one point per empty cluster, the farthest first
    np.testing.assert_array_equal(centers, [[0.0, 0.0], [5.0, 0.0], [3.0, 0.0]])
    assert labels.tolist() == [0, 0, 1, 2] and sq_dist.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_seeding_repeats_the_first_centre_once_every_point_is_a_centre():
    points = np.array([[0.0, 0.0, 0.0]] * 3 + [[255.0, 255.0, 255.0]])
    columns = np.ascontiguousarray(points.T)
    for seed in range(5):
        centers = _seed_plus_plus(points, columns, 4, np.random.default_rng(seed), np)
        assert {tuple(c) for c in centers[:2]} == {(0.0, 0.0, 0.0), (255.0, 255.0, 255.0)}
        np.testing.assert_array_equal(centers[2:], centers[[0, 0]])


def test_one_iteration_moves_each_seed_to_the_mean_of_its_points():
    pixels = left_half_pixels("coffee")[::50].astype(np.float64)
    seeds = _seed_plus_plus(pixels, np.ascontiguousarray(pixels.T), 4, np.random.default_rng(0), np)
    nearest_seed = ((pixels[:, None, :] - seeds[None]) ** 2).sum(axis=2).argmin(axis=1)
    centers, labels = kmeans(pixels, 4, seed=0, n_init=1, max_iter=1)
    for j in range(4):
        np.testing.assert_allclose(centers[j], pixels[nearest_seed == j].mean(axis=0), rtol=1e-12)
    d2 = ((pixels[:, None, :] - centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, d2.argmin(axis=1))
