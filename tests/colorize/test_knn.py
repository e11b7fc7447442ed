"""colorize.knn.nearest against a float64 brute-force reference, ties included."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from colorize import knn
from colorize.knn import nearest

IMAGES = __import__("pathlib").Path(__file__).resolve().parents[2] / "images"


reference = knn.nearest_reference


def test_the_reference_is_the_definition_on_a_hand_made_case():
    # distances to query 0: 1, 0, 1, 4 (rows 0 and 2 tie: the lower index first)
    train = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    idx, d2 = reference(train, np.zeros((1, 2)), 3)
    np.testing.assert_array_equal(idx, [[1, 0, 2]])
    np.testing.assert_array_equal(d2, [[0.0, 1.0, 1.0]])
    with pytest.raises(ValueError):
        reference(train, np.zeros((1, 2)), 5)


def gray_patches(gray):
    """(H*W, 9) 3x3 patches of an edge-padded gray image, row-major."""
    padded = np.pad(gray, 1, mode="edge")
    return sliding_window_view(padded, (3, 3)).reshape(-1, 9)


def photo_gray(name, width=None):
    img = Image.open(IMAGES / f"{name}.png").convert("RGB")
    if width is not None:
        img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.BICUBIC)
    rgb = np.asarray(img).astype(np.float64)
    return rgb @ np.array([0.21, 0.72, 0.07])


def check(train, query, k, search=nearest):
    idx, d2 = search(train, query, k)
    ref_idx, ref_d2 = reference(train, query, k)
    assert idx.shape == d2.shape == (query.shape[0], k)
    assert idx.dtype == np.int64 and d2.dtype == np.float64
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n, m, k", [(300, 50, 1), (3000, 400, 6), (20000, 300, 6), (5000, 300, 40),
                                     (20000, 300, 49), (20000, 300, 100)])
def test_random_anisotropic_data(n, m, k):
    rng = np.random.default_rng(n + k)
    scale = np.array([50.0, 9, 5, 3, 2, 1, 1, 0.5, 0.5])
    check(rng.normal(size=(n, 9)) * scale, rng.normal(size=(m, 9)) * scale, k)


def test_real_photo_patches_match_the_brute_force_reference():
    gray = photo_gray("chelsea")  # 451 x 300: left half 225 columns, ~67k training patches
    half = gray.shape[1] // 2
    train = gray_patches(gray[:, :half])
    query = gray_patches(gray[:, half:])[::151]  # a spread-out sample keeps the reference cheap
    check(train, query, 6)


def test_exact_ties_are_ordered_by_index():
    rng = np.random.default_rng(7)
    train = rng.integers(0, 3, size=(20000, 4)).astype(np.float64)  # at most 81 distinct rows
    query = rng.integers(0, 3, size=(300, 4)).astype(np.float64)
    check(train, query, 6)
    idx, d2 = nearest(train, query, 6)
    assert (d2 == 0).all()  # every query has >= 6 exact copies: the 6 lowest indices win
    for q, row in zip(query, idx):
        np.testing.assert_array_equal(row, np.nonzero((train == q).all(axis=1))[0][:6])


def test_flat_image_many_duplicates():
    train = np.full((40000, 9), 128.0)
    train[17] += 1.0
    query = np.vstack([np.full(9, 128.0), np.full(9, 129.0)])
    idx, d2 = nearest(train, query, 6)
    np.testing.assert_array_equal(idx[0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(idx[1], [17, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(d2[1], [0, 9, 9, 9, 9, 9])


def test_k_above_the_distinct_rows_on_the_sweep_path():
    # 400 distinct rows twice each, enough queries for the sweep to run; k = 500 needs the
    # duplicates of most distinct rows
    rng = np.random.default_rng(3)
    distinct = rng.normal(size=(400, 9)) * np.array([50.0, 9, 5, 3, 2, 1, 1, 0.5, 0.5])
    check(np.vstack([distinct, distinct]), rng.normal(size=(12000, 9)) * 20, 500)


@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e6])
def test_tiny_and_huge_scales_on_the_sweep_path(scale):
    # 3000 x 2000 pairs take the sweep; its sort key once used a fixed offset of 1, which
    # rounded distances around 1e-12 away (wrong neighbours, or an IndexError)
    rng = np.random.default_rng(5)
    check(rng.normal(size=(3000, 9)) * scale, rng.normal(size=(2000, 9)) * scale, 6)


def test_brute_force_memory_does_not_grow_with_the_row_width():
    # few distinct rows take the brute-force path for any number of queries; its chunks once
    # held (rows, u, d) differences sized for (rows, u), 1 GiB here
    import tracemalloc

    rng = np.random.default_rng(2)
    train = rng.normal(size=(96, 27))
    query = rng.normal(size=(50_000, 27))
    tracemalloc.start()
    try:
        idx, _ = nearest(train, query, 6)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB"
    np.testing.assert_array_equal(idx[:200], reference(train, query[:200], 6)[0])


def test_float32_and_uint8_inputs():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, size=(2000, 9), dtype=np.uint8)
    query = rng.integers(0, 256, size=(100, 9), dtype=np.uint8)
    check(train, query, 6)
    check(train.astype(np.float32), query.astype(np.float32), 6)


def test_errors_are_clear():
    train = np.zeros((5, 9))
    with pytest.raises(ValueError, match="cannot find 6 nearest neighbours among only 5"):
        nearest(train, np.zeros((2, 9)), 6)
    with pytest.raises(ValueError, match="9 values but query rows have 4"):
        nearest(train, np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="NaN"):
        nearest(train, np.full((1, 9), np.nan), 1)


def test_k_below_one_is_refused():
    # k = 0 once returned (m, 0) arrays, and a caller averaging them got NaN colours
    train = np.zeros((5, 9))
    for search in (nearest, reference):
        for k in (0, -1, 2.5):
            with pytest.raises(ValueError, match="k >= 1"):
                search(train, np.zeros((2, 9)), k)


def test_exact_ties_between_distinct_rows_on_the_sweep_path():
    # integer rows: many distinct rows lie at exactly the same distance from a query, while
    # the rotated, screened distances differ by rounding; every tie must reach the exact
    # stage, where the lower index wins (a screen without its 2 delta slack lost some)
    rng = np.random.default_rng(11)
    train = rng.integers(0, 6, size=(3000, 9)).astype(np.float64)
    query = rng.integers(0, 6, size=(1500, 9)).astype(np.float64)
    assert np.unique(train, axis=0).shape[0] * query.shape[0] > knn._BRUTE_CELLS  # the sweep
    check(train, query, 4)


def test_empty_query():
    idx, d2 = nearest(np.zeros((5, 9)), np.zeros((0, 9)), 3)
    assert idx.shape == d2.shape == (0, 3)


def device_path(train, query, k):
    """The GPU algorithm run on NumPy, so that CI checks it without a GPU."""
    return knn._nearest_device(np.asarray(train), np.asarray(query), k, np, lambda done: None)


def test_device_path_on_random_data_in_several_chunks(monkeypatch):
    monkeypatch.setattr(knn, "_GPU_CHUNK", 50_000)  # 3000 rows -> 16 queries per chunk
    rng = np.random.default_rng(11)
    scale = np.array([50.0, 9, 5, 3, 2, 1, 1, 0.5, 0.5])
    for n, m, k in [(3000, 400, 6), (3000, 200, 40), (100, 30, 6), (7, 5, 7)]:
        check(rng.normal(size=(n, 9)) * scale, rng.normal(size=(m, 9)) * scale, k, device_path)


def test_device_path_on_ties_duplicates_and_a_photo():
    rng = np.random.default_rng(7)
    train = rng.integers(0, 3, size=(20000, 4)).astype(np.float64)
    check(train, rng.integers(0, 3, size=(300, 4)).astype(np.float64), 6, device_path)
    distinct = rng.normal(size=(400, 9)) * 20
    check(np.vstack([distinct, distinct]), rng.normal(size=(50, 9)) * 20, 500, device_path)
    flat = np.full((40000, 9), 128.0)
    flat[17] += 1.0
    idx, d2 = device_path(flat, np.vstack([np.full(9, 128.0), np.full(9, 129.0)]), 6)
    np.testing.assert_array_equal(idx, [[0, 1, 2, 3, 4, 5], [17, 0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(d2[1], [0, 9, 9, 9, 9, 9])
    gray = photo_gray("chelsea", width=160)
    half = gray.shape[1] // 2
    check(gray_patches(gray[:, :half]), gray_patches(gray[:, half:])[::37], 6, device_path)


def test_device_path_outside_float32s_comfortable_range():
    # float32 screening of raw values would overflow (1e19: squares above 3.4e38) or round in
    # absolute steps (1e-22: subnormal squares) and drop true neighbours
    rng = np.random.default_rng(0)
    for scale in (1e-22, 1e19):
        check(rng.normal(size=(2000, 9)) * scale, rng.normal(size=(50, 9)) * scale, 5, device_path)
    train = rng.normal(size=(300, 3))
    train[0] = 1e25  # one outlier sets the scale of all the others
    check(train, rng.normal(size=(20, 3)), 5, device_path)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    import cupy

    gray = photo_gray("coffee")
    half = gray.shape[1] // 2
    train = gray_patches(gray[:, :half])
    query = gray_patches(gray[:, half:])[::7]
    idx, d2 = nearest(train, query, 6)
    gidx, gd2 = nearest(cupy.asarray(train), cupy.asarray(query), 6)
    np.testing.assert_array_equal(cupy.asnumpy(gidx), idx)
    np.testing.assert_allclose(cupy.asnumpy(gd2), d2, rtol=1e-12, atol=1e-9)


@pytest.mark.gpu
def test_gpu_ties_are_ordered_by_index():
    import cupy

    train = np.full((3000, 9), 5.0)
    query = np.full((4, 9), 5.0)
    gidx, _ = nearest(cupy.asarray(train), cupy.asarray(query), 6)
    np.testing.assert_array_equal(cupy.asnumpy(gidx), np.tile(np.arange(6), (4, 1)))


@pytest.mark.parametrize("path", ["brute", "sweep", "device"])
def test_progress_counts_every_query_once_and_changes_no_answer(path, monkeypatch):
    rng = np.random.default_rng(5)
    train = rng.normal(size=(3000, 9)) * np.linspace(5, 1, 9)
    query = rng.normal(size=(2500, 9)) * np.linspace(5, 1, 9)
    if path == "brute":
        monkeypatch.setattr(knn, "_BRUTE_CELLS", 10**9)
    if path == "device":
        monkeypatch.setattr(knn, "_GPU_CHUNK", 200_000)  # several chunks
    calls = []
    if path == "device":
        idx, d2 = knn._nearest_device(train, query, 6, np, calls.append)
    else:
        idx, d2 = nearest(train, query, 6, progress=calls.append)
    assert sum(calls) == query.shape[0] and len(calls) > 1 and min(calls) > 0
    ref_idx, ref_d2 = nearest(train, query, 6)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(d2, ref_d2)


@pytest.mark.parametrize("k", [None, float("nan"), True, 1.5, 0])
def test_k_must_be_a_whole_number_of_at_least_one(k):
    train = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="whole number of neighbours"):
        nearest(train, train, k)
    assert nearest(train, train, np.int64(2))[0].shape == (4, 2)  # a NumPy integer is one
