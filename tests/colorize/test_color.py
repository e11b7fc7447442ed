"""colorize.color: gray formula, Lab against published values and scikit-image, chroma space."""

import warnings

import numpy as np
import pytest
from skimage import color as skcolor

from colorize.color import (
    CHROMA_BASIS,
    GRAY_WEIGHTS,
    check_0_255,
    chroma_to_rgb,
    lab_to_rgb,
    rgb_to_chroma,
    rgb_to_gray,
    rgb_to_lab,
)


def _grid(levels=32):
    v = np.linspace(0, 255, levels)
    return np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)


def test_gray_formula_and_dtypes():
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], np.uint8)
    g = rgb_to_gray(rgb)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0.21 * 255, 0.72 * 255, 0.07 * 255, 2.1 + 14.4 + 2.1], rtol=1e-6)
    assert rgb_to_gray(rgb.astype(np.float32)).dtype == np.float32
    assert rgb_to_gray(rgb.astype(np.float64)).dtype == np.float64
    assert rgb_to_gray(np.zeros((2, 3, 3), np.uint8)).shape == (2, 3)
    assert sum(GRAY_WEIGHTS) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rgb_to_gray(np.zeros((4, 4)))


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((255, 0, 0), (53.2406, 80.0923, 67.2028)),
        ((0, 0, 255), (32.2957, 79.1856, -107.8573)),
    ],
)
def test_lab_published_values(rgb, lab):
    out = rgb_to_lab(np.array(rgb, np.float64))
    np.testing.assert_allclose(out, lab, atol=1e-4)


def test_lab_white_and_black():
    # The published matrix's rows sum to the D65 white only to ~1e-5, so white is a = b = 0
    # to ~5e-3 (scikit-image gives the same numbers).
    np.testing.assert_allclose(rgb_to_lab(np.array([255.0, 255, 255])), [100, 0, 0], atol=1e-2)
    np.testing.assert_allclose(rgb_to_lab(np.zeros(3)), [0, 0, 0], atol=1e-12)


def test_lab_matches_skimage_on_full_grid_both_ways():
    rgb = _grid(32)
    ours = rgb_to_lab(rgb)
    ref = skcolor.rgb2lab(rgb / 255)
    assert np.abs(ours - ref).max() < 0.05
    back = lab_to_rgb(ours)
    assert np.abs(back - rgb).max() < 0.05
    ref_back = skcolor.lab2rgb(ref) * 255
    assert np.abs(lab_to_rgb(ref) - ref_back).max() < 0.05
    # float32 input is computed in float32 and still within tolerance
    ours32 = rgb_to_lab(rgb.astype(np.float32))
    assert ours32.dtype == np.float32 and np.abs(ours32 - ref).max() < 0.05


def test_lab_to_rgb_clips_out_of_gamut():
    lab = np.array([[50, 120, -120], [120, 0, 0], [-10, 0, 0], [60, -128, 127]], np.float64)
    out = lab_to_rgb(lab)
    # Clipping each linear channel to [0, 1] keeps the in-gamut channels: scikit-image,
    # which clips after companding, gives the same colours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image warns about the negative Z values
        ref = skcolor.lab2rgb(lab) * 255
    np.testing.assert_allclose(out, ref, atol=1e-4)
    np.testing.assert_allclose(out[1], [255, 255, 255], atol=1e-9)  # whiter than white
    np.testing.assert_allclose(out[2], [0, 0, 0], atol=1e-9)  # blacker than black
    assert rgb_to_lab(np.zeros((5, 5, 3), np.uint8)).dtype == np.float32


def test_chroma_basis_orthonormal_and_gray_free():
    w = np.array(GRAY_WEIGHTS)
    np.testing.assert_allclose(CHROMA_BASIS @ w, 0, atol=1e-15)
    np.testing.assert_allclose(CHROMA_BASIS @ CHROMA_BASIS.T, np.eye(2), atol=1e-15)
    e1, e2 = CHROMA_BASIS
    assert e1[0] > 0 > e1[1]  # +red / -green
    assert e2[2] < 0 and abs(e2[2]) > 0.9  # +yellow / -blue


def test_chroma_round_trip_exact():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 255, (50, 40, 3))
    chroma = rgb_to_chroma(rgb)
    assert chroma.shape == (50, 40, 2) and chroma.dtype == np.float64
    back = chroma_to_rgb(rgb_to_gray(rgb), chroma)
    np.testing.assert_allclose(back, rgb, atol=1e-9)
    rgb8 = rng.integers(0, 256, (30, 3), dtype=np.uint8)
    back = chroma_to_rgb(rgb_to_gray(rgb8), rgb_to_chroma(rgb8))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, rgb8, atol=1e-3)


def test_chroma_distance_equals_rgb_distance_at_equal_gray():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (100, 3))
    g = rgb_to_gray(a)
    other_chroma = rng.normal(0, 10, (100, 2))
    b = g[:, None] + other_chroma @ CHROMA_BASIS  # same gray, different colour
    dc = np.linalg.norm(rgb_to_chroma(a) - rgb_to_chroma(b), axis=-1)
    np.testing.assert_allclose(dc, np.linalg.norm(a - b, axis=-1), rtol=1e-10)


def test_gray_of_chroma_is_zero():
    np.testing.assert_allclose(rgb_to_chroma(np.full((4, 3), 123.0)), 0, atol=1e-12)


def test_out_of_gamut_chroma_scaled_keeping_gray_and_hue():
    rng = np.random.default_rng(2)
    gray = rng.uniform(0, 255, 2000)
    gray[:3] = [0, 255, 127.5]
    chroma = rng.normal(0, 1, (2000, 2)) * 1e4
    for dtype in (np.float64, np.float32):
        out = chroma_to_rgb(gray.astype(dtype), chroma.astype(dtype))
        assert out.dtype == dtype
        assert out.min() >= 0 and out.max() <= 255
        np.testing.assert_allclose(rgb_to_gray(out), gray, atol=1e-3)
    # The direction of the chroma (hue) is kept: only its length shrinks.
    out = chroma_to_rgb(gray, chroma)
    kept = rgb_to_chroma(out)
    cos = (kept * chroma).sum(-1) / (np.linalg.norm(kept, axis=-1) * np.linalg.norm(chroma, axis=-1) + 1e-30)
    moving = np.linalg.norm(kept, axis=-1) > 1e-6
    assert (cos[moving] > 1 - 1e-9).all()
    # Extreme grays leave no room for any colour.
    np.testing.assert_allclose(out[0], 0, atol=1e-9)
    np.testing.assert_allclose(out[1], 255, atol=1e-9)


def test_in_gamut_chroma_untouched_and_shape_checked():
    rgb = np.array([[10.0, 200.0, 30.0]])
    out = chroma_to_rgb(rgb_to_gray(rgb), rgb_to_chroma(rgb) * 0.5)
    assert out.min() > 0 and out.max() < 255
    np.testing.assert_allclose(rgb_to_chroma(out), rgb_to_chroma(rgb) * 0.5, atol=1e-9)
    with pytest.raises(ValueError):
        chroma_to_rgb(np.zeros((4, 4)), np.zeros((4, 4, 3)))


@pytest.mark.gpu
def test_cupy_matches_numpy():
    import cupy

    rgb = _grid(8).astype(np.float32)
    g = cupy.asarray(rgb)
    np.testing.assert_allclose(rgb_to_gray(g).get(), rgb_to_gray(rgb), rtol=1e-6)
    np.testing.assert_allclose(rgb_to_lab(g).get(), rgb_to_lab(rgb), atol=1e-3)
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(g)).get(), rgb, atol=1e-2)
    chroma = rgb_to_chroma(g) * 5
    out = chroma_to_rgb(rgb_to_gray(g), chroma)
    np.testing.assert_allclose(out.get(), chroma_to_rgb(rgb_to_gray(rgb), chroma.get()), atol=1e-3)


def test_a_0_to_1_float_image_is_refused_where_0_to_255_is_expected():
    from agents.basic import BasicAgent
    from agents.improved import ImprovedAgent
    from colorize.metrics import score

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    unit = rgb / 255.0  # what matplotlib.pyplot.imread gives for a PNG
    for call in (lambda: BasicAgent().fit(unit),
                 lambda: ImprovedAgent().fit(unit),
                 lambda: score(rgb, unit),
                 lambda: score(unit, rgb.astype(np.float32))):
        with pytest.raises(ValueError, match="multiply a 0..1 image by 255"):
            call()
    # on the 0..255 scale floats are welcome, and so is an all-black image
    check_0_255(unit * 255, "x")
    check_0_255(np.zeros((4, 4, 3)), "x")
    check_0_255(np.ones((4, 4, 3), np.uint8), "x")
    assert score(rgb.astype(np.float64), rgb)["rmse"] == 0.0
    # two very dark images (every value under 1 on 0..255) are scored, not refused
    dark = unit * 0.9
    assert score(dark, dark + 0.05)["rmse"] > 0


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_an_image_with_values_that_are_not_numbers_is_refused(value):
    x = np.full((2, 2, 3), 128.0)
    x[0, 0, 0] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_0_255(x, "img")
    # a bicubic resize overshoots the scale a little at sharp edges: that is an image
    check_0_255(np.array([[-2.25, 257.25]]), "img")
    with pytest.raises(ValueError, match="divide a 16-bit image by 257"):
        check_0_255(np.array([[0, 65535]], np.uint16), "img")
