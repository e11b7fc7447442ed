"""colorize.metrics against published values and scikit-image as an oracle."""

import math

import numpy as np
import pytest
from skimage import color as skcolor
from skimage.metrics import structural_similarity

from colorize import metrics
from colorize.color import CHROMA_BASIS, chroma_to_rgb, rgb_to_gray
from colorize.io import read_rgb

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1: (Lab1, Lab2, dE00).
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _photo(size=64):
    rgb = read_rgb(__file__.rsplit("/tests/", 1)[0] + "/images/chelsea.png")
    return rgb[:size, : size + 9]


def test_ciede2000_sharma_pairs():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expect = np.array([p[2] for p in SHARMA])
    got = metrics.ciede2000(lab1, lab2)
    np.testing.assert_allclose(got, expect, atol=1e-4)
    # Symmetric in its arguments.
    np.testing.assert_allclose(metrics.ciede2000(lab2, lab1), expect, atol=1e-4)


def test_ciede2000_matches_skimage_on_random_colours():
    rng = np.random.default_rng(0)
    lab1 = np.stack([rng.uniform(0, 100, 5000), rng.uniform(-100, 100, 5000), rng.uniform(-100, 100, 5000)], -1)
    lab2 = lab1 + rng.normal(0, 10, lab1.shape)
    lab2[:100, 1:] = 0  # achromatic cases
    np.testing.assert_allclose(metrics.ciede2000(lab1, lab2), skcolor.deltaE_ciede2000(lab1, lab2), atol=1e-8)


def test_delta_e2000_images():
    a = _photo()
    b = np.clip(a.astype(int) + np.array([12, -5, 3]), 0, 255).astype(np.uint8)
    ref = skcolor.deltaE_ciede2000(skcolor.rgb2lab(a), skcolor.rgb2lab(b)).mean()
    assert metrics.delta_e2000(a, b) == pytest.approx(ref, abs=1e-6)
    assert metrics.delta_e2000(a, a) == 0.0
    assert isinstance(metrics.delta_e2000(a, b), float)
    emap = metrics.error_map_de2000(a, b)
    assert emap.shape == a.shape[:2] and emap.min() >= 0


def test_rmse_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 48  # one error of 48 over 48 values: mse 48, rmse sqrt(48)
    assert metrics.rmse(a, b) == pytest.approx(math.sqrt(48))
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255 / math.sqrt(48)))
    assert metrics.psnr(a, a) == math.inf
    # uint8 subtraction must not wrap around.
    assert metrics.rmse(b, a) == metrics.rmse(a, b)
    with pytest.raises(ValueError):
        metrics.rmse(a, b[:3])


@pytest.mark.parametrize("shape", [(64, 73), (40, 40)])
def test_ssim_matches_skimage(shape):
    a = _photo(shape[0])[:, : shape[1]]
    rng = np.random.default_rng(1)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    ref = structural_similarity(a.astype(float), b, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, channel_axis=-1, data_range=255)
    assert metrics.ssim(a, b) == pytest.approx(ref, abs=1e-6)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_ssim_tiny_image_works():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (8, 4, 3))
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255)
    s = metrics.ssim(a, b)
    assert -1 <= s < 1 and metrics.ssim(a, a) == pytest.approx(1.0)


def test_colorfulness():
    gray = np.full((5, 5, 3), 90, np.uint8)
    assert metrics.colorfulness(gray) == 0.0
    red = np.zeros((5, 5, 3))
    red[..., 0] = 200  # rg = 200, yb = 100, no spread
    assert metrics.colorfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))
    half = np.zeros((2, 1, 3))
    half[0, 0] = [100, 0, 0]  # rg in {100, 0}: sd 50; yb in {50, 0}: sd 25
    assert metrics.colorfulness(half) == pytest.approx(math.hypot(50, 25) + 0.3 * math.hypot(50, 25))


def test_score_keys_and_types():
    a = _photo(32)
    s = metrics.score(a, a)
    assert tuple(s) == metrics.SCORE_KEYS
    assert all(type(v) is float for v in s.values())
    assert s["psnr"] == math.inf and s["rmse"] == 0 and s["colorfulness"] == s["colorfulness_true"]


def test_gray_lookup_recovers_colour_that_is_a_function_of_gray():
    rng = np.random.default_rng(3)
    h, w = 24, 40
    gray = rng.integers(20, 236, (h, w)).astype(np.float64)
    # Move left-half levels divisible by 7 up by one, so the right half has levels the left
    # never shows and the interpolation of unseen levels is exercised.
    gray[:, : w // 2] = np.where(gray[:, : w // 2] % 7 == 0, gray[:, : w // 2] + 1, gray[:, : w // 2])
    levels = np.arange(256.0)
    table = np.stack([20 * np.sin(levels / 30), 15 * np.cos(levels / 20)], -1)
    rgb = chroma_to_rgb(gray, table[gray.astype(int)])
    left, right = rgb[:, : w // 2], rgb[:, w // 2 :]
    preds = metrics.baseline_predictions(left, rgb_to_gray(right))
    assert set(preds) == set(metrics.BASELINES)
    seen = np.isin(gray[:, w // 2 :], gray[:, : w // 2])
    assert seen.mean() > 0.5
    np.testing.assert_allclose(preds["gray_lookup"][seen], right[seen], atol=1e-6)
    # Unseen levels are interpolated, so the error stays small on a smooth table.
    assert np.abs(preds["gray_lookup"] - right).max() < 3
    for name, pred in preds.items():
        assert pred.shape == right.shape
        np.testing.assert_allclose(rgb_to_gray(pred), rgb_to_gray(right), atol=1e-6)
    np.testing.assert_allclose(preds["gray"], np.repeat(rgb_to_gray(right)[..., None], 3, -1))


def test_mean_chroma_baseline_on_constant_colour():
    gray = np.random.default_rng(4).uniform(80, 160, (10, 20))
    chroma = np.broadcast_to(np.array([12.0, -9.0]), gray.shape + (2,))
    rgb = chroma_to_rgb(gray, chroma)
    preds = metrics.baseline_predictions(rgb[:, :10], rgb_to_gray(rgb[:, 10:]))
    np.testing.assert_allclose(preds["mean_chroma"], rgb[:, 10:], atol=1e-9)
    np.testing.assert_allclose(preds["gray_lookup"], rgb[:, 10:], atol=1e-9)
    assert CHROMA_BASIS.shape == (2, 3)


def test_baseline_scores_on_a_photo():
    rgb = _photo(48)
    scores = metrics.baseline_scores(rgb)
    assert tuple(scores) == metrics.BASELINES
    for s in scores.values():
        assert tuple(s) == metrics.SCORE_KEYS
    assert scores["gray"]["colorfulness"] < 1.0
    # On a real photo, learning from the left half beats no colour at all.
    assert scores["gray_lookup"]["rmse"] < scores["gray"]["rmse"]
    assert scores["mean_chroma"]["delta_e2000"] < scores["gray"]["delta_e2000"]
    # A 0..1 photo used to score the gray baseline at 55.8 dB instead of 20.
    with pytest.raises(ValueError, match="multiply a 0..1 image by 255"):
        metrics.baseline_scores(rgb / 255.0)


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 4), (0, 8, 3)])
def test_score_names_an_image_that_is_not_rgb(shape):
    image, good = np.zeros(shape), np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match=r"the true image must be a non-empty \(H, W, 3\)"):
        metrics.score(image, good)
    with pytest.raises(ValueError, match=r"the prediction must be a non-empty \(H, W, 3\)"):
        metrics.score(good, image)


@pytest.mark.gpu
def test_cupy_matches_numpy():
    import cupy

    a = _photo(32)
    b = np.clip(a.astype(int) + 9, 0, 255).astype(np.uint8)
    ours = metrics.score(cupy.asarray(a), cupy.asarray(b))
    ref = metrics.score(a, b)
    for key in metrics.SCORE_KEYS:
        assert ours[key] == pytest.approx(ref[key], rel=1e-6)
    gpu = metrics.baseline_predictions(cupy.asarray(a[:, :16]), cupy.asarray(rgb_to_gray(a[:, 16:])))
    cpu = metrics.baseline_predictions(a[:, :16], rgb_to_gray(a[:, 16:]))
    for name in metrics.BASELINES:
        np.testing.assert_allclose(gpu[name].get(), cpu[name], atol=1e-3)


def test_colorfulness_needs_three_channels_and_score_needs_numbers():
    ramp = np.tile(np.arange(12.0) * 20, (12, 1))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        metrics.colorfulness(ramp)  # a gray (H, W) image used to score 10.8
    assert metrics.colorfulness(np.repeat(ramp[..., None], 3, axis=2)) == 0.0
    truth = np.full((4, 4, 3), 100.0)
    for bad in (np.nan, np.inf):
        pred = truth.copy()
        pred[1, 1, 1] = bad
        with pytest.raises(ValueError, match="the prediction holds NaN or infinite"):
            metrics.score(truth, pred)


def test_ssim_of_small_and_gray_images_follows_the_documented_rule():
    rng = np.random.default_rng(5)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    # 11 px on a side: the window fits, no mirroring (scikit-image as it is)
    a = rng.integers(0, 256, (11, 13, 3)).astype(float)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255)
    assert metrics.ssim(a, b) == pytest.approx(structural_similarity(a, b, channel_axis=-1, **kw), abs=1e-9)
    # under 11 px: mirrored (d c b a | a b c d) by 5 px and every pixel averaged, which is
    # scikit-image on the mirrored image (its 5-px border left out is the mirror)
    a, b = a[:8, :10], b[:8, :10]
    pad = ((5, 5), (5, 5), (0, 0))
    ref = structural_similarity(np.pad(a, pad, mode="symmetric"), np.pad(b, pad, mode="symmetric"),
                                channel_axis=-1, **kw)
    assert metrics.ssim(a, b) == pytest.approx(ref, abs=1e-9)
    # a 2-D (gray) pair is one channel
    g = _photo(24)[..., 1].astype(float)
    h = np.clip(g + rng.normal(0, 20, g.shape), 0, 255)
    assert metrics.ssim(g, h) == pytest.approx(structural_similarity(g, h, **kw), abs=1e-9)


def test_error_map_is_the_same_in_chunks(monkeypatch):
    a = _photo(16)
    b = np.clip(a.astype(int) + np.array([12, -5, 3]), 0, 255).astype(np.uint8)
    whole = metrics.error_map_de2000(a, b)
    monkeypatch.setattr(metrics, "_CHUNK", 37)  # not a divisor of the pixel count
    np.testing.assert_array_equal(metrics.error_map_de2000(a, b), whole)


def test_mean_chroma_baseline_is_the_mean_of_unequal_colours():
    gray = np.full((8, 16), 120.0)
    chroma = np.zeros((8, 16, 2))
    chroma[:, :2] = [30.0, -20.0]  # a quarter of the left half
    chroma[:, 2:] = [-6.0, 4.0]
    rgb = chroma_to_rgb(gray, chroma)
    preds = metrics.baseline_predictions(rgb[:, :8], rgb_to_gray(rgb[:, 8:]))
    expected = chroma_to_rgb(gray[:, 8:], np.broadcast_to([3.0, -2.0], (8, 8, 2)))
    np.testing.assert_allclose(preds["mean_chroma"], expected, atol=1e-9)


def test_baseline_scores_round_the_predictions_to_8_bits():
    from colorize.halves import split_halves

    rgb = _photo(16)
    left, right = split_halves(rgb)
    preds = metrics.baseline_predictions(left, rgb_to_gray(right))
    scores = metrics.baseline_scores(rgb)
    for name, pred in preds.items():
        assert scores[name] == metrics.score(right, np.clip(np.rint(pred), 0, 255).astype(np.uint8))
    assert metrics.baseline_scores(rgb, quantize=False)["gray_lookup"] == metrics.score(right, preds["gray_lookup"])


def test_scores_refuse_empty_non_finite_and_misshapen_images():
    a = np.full((4, 4, 3), 100.0)
    b = a.copy()
    b[0, 0, 0] = np.nan
    for score in (metrics.rmse, metrics.psnr, metrics.ssim):
        with pytest.raises(ValueError, match="NaN or infinite"):
            score(a, b)
        with pytest.raises(ValueError, match="empty"):
            score(np.zeros((0, 4, 3)), np.zeros((0, 4, 3)))
    with pytest.raises(ValueError, match=r"ssim takes \(H, W\) or \(H, W, C\) images"):
        metrics.ssim(np.zeros(16), np.zeros(16))
