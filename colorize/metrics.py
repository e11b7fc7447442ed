"""Quality of a colourization: RMSE, PSNR, SSIM, CIEDE2000, colourfulness, and baselines.

All image metrics take two RGB images ``(H, W, 3)`` on 0..255 (uint8 or float, NumPy or
CuPy, same shape), compute in float64 and return Python floats.

- ``rmse = sqrt(mean((a - b)^2))`` over all pixels and channels.
- ``psnr = 20 log10(255 / rmse)`` in dB; ``inf`` for identical images (JSON has no infinity:
  :func:`colorize.io.write_json` writes it as ``null``).
- ``ssim``: Wang, Bovik, Sheikh and Simoncelli (2004), computed per channel and averaged:
  local means, variances and covariance under a Gaussian window (sigma 1.5, truncated at
  radius 5, i.e. the paper's 11 x 11 window, which is also scikit-image's ``truncate=3.5``),
  population (not sample) covariances, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = 255``::

      SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2))

  averaged over the pixels whose window lies inside the image (a 5-pixel border is left out,
  as scikit-image does). Images smaller than 11 pixels on a side are mirrored at the borders
  (``d c b a | a b c d``) and every pixel is averaged, so tiny protocol halves still get a
  score.
- ``delta_e2000``: mean CIEDE2000 colour difference (Sharma, Wu and Dalal 2005; kL = kC = kH
  = 1) between the two images' CIE Lab colours.
- ``colorfulness``: Hasler and Suesstrunk (2003) with signed opponent channels
  ``rg = R - G``, ``yb = (R + G) / 2 - B``:
  ``M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` (0 for any gray image).

Baselines (what any colourizer must beat on the right half of the protocol), all working in
the gray-preserving chroma space of :mod:`colorize.color`, so each keeps the right half's gray
exactly:

- ``gray``: the gray replicated into R, G, B (no colour at all);
- ``mean_chroma``: the left half's mean chroma added to every right-half pixel;
- ``gray_lookup``: for each gray level 0..255 (gray rounded to an integer), the mean chroma of
  the left-half pixels at that level; levels the left half never shows are filled by linear
  interpolation between the nearest seen levels (constant beyond the darkest and brightest).
"""

import math

from nn.backend import get_array_module

from .color import (check_0_255, chroma_to_rgb, looks_like_0_1, rgb_to_chroma, rgb_to_gray,
                    rgb_to_lab)
from .halves import check_protocol_size, split_halves

SCORE_KEYS = ("rmse", "psnr", "ssim", "delta_e2000", "colorfulness", "colorfulness_true")
BASELINES = ("gray", "mean_chroma", "gray_lookup")

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
_K1, _K2, _PEAK = 0.01, 0.03, 255.0

# Pixels per chunk for CIEDE2000: about twenty float64 temporaries per pixel, so a
# 12-megapixel photo is scored in bounded memory.
_CHUNK = 1 << 20


def _pair(a, b):
    """Two images as float64 arrays of one library, checked: the same shape, not empty, and
    finite (a NaN would otherwise come back as a NaN score)."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"images differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    if a.size == 0:
        raise ValueError(f"cannot score empty images (shape {tuple(a.shape)})")
    xp = get_array_module(a, b)
    a, b = xp.asarray(a, dtype=xp.float64), xp.asarray(b, dtype=xp.float64)
    if not bool(xp.isfinite(a).all() and xp.isfinite(b).all()):
        raise ValueError("cannot score images that hold NaN or infinite values")
    return xp, a, b


def rmse(a, b):
    """Root-mean-square difference over all pixels and channels (0..255 scale)."""
    xp, a, b = _pair(a, b)
    return float(xp.sqrt(xp.mean((a - b) ** 2)))


def psnr(a, b):
    """Peak signal-to-noise ratio in dB for peak 255; ``inf`` when the images are identical."""
    error = rmse(a, b)
    return math.inf if error == 0 else 20 * math.log10(_PEAK / error)


def _gaussian_taps(xp):
    x = xp.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=xp.float64)
    g = xp.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _filter_valid(x, taps):
    """Separable correlation with ``taps`` along both axes, 'valid' part only.

    ``(H, W) -> (H - 2r, W - 2r)``; one shifted slice per tap, no Python loop over pixels.
    """
    n = taps.shape[0]
    h, w = x.shape
    rows = sum(taps[k] * x[k : h - n + 1 + k] for k in range(n))
    return sum(taps[k] * rows[:, k : w - n + 1 + k] for k in range(n))


def _ssim_channel(x, y, taps):
    xp = get_array_module(x)
    r = SSIM_RADIUS
    if min(x.shape) <= 2 * r:
        x = xp.pad(x, r, mode="symmetric")
        y = xp.pad(y, r, mode="symmetric")
    mx, my = _filter_valid(x, taps), _filter_valid(y, taps)
    vx = _filter_valid(x * x, taps) - mx * mx
    vy = _filter_valid(y * y, taps) - my * my
    cxy = _filter_valid(x * y, taps) - mx * my
    c1, c2 = (_K1 * _PEAK) ** 2, (_K2 * _PEAK) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def ssim(a, b):
    """Mean structural similarity of two RGB images (per channel, averaged); 1 when equal."""
    xp, a, b = _pair(a, b)
    if a.ndim not in (2, 3):
        raise ValueError(f"ssim takes (H, W) or (H, W, C) images, got shape {tuple(a.shape)}")
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    taps = _gaussian_taps(xp)
    return sum(_ssim_channel(a[:, :, c], b[:, :, c], taps) for c in range(a.shape[2])) / a.shape[2]


def ciede2000(lab1, lab2):
    """Per-pixel CIEDE2000 colour difference (Sharma, Wu and Dalal 2005; kL = kC = kH = 1).

    Args:
        lab1, lab2: ``(..., 3)`` CIE Lab arrays (NumPy or CuPy), broadcastable.

    Returns:
        ``(...)`` float64 array of dE00 values.

    Steps (angles in degrees): ``C = hypot(a, b)``, ``G = 0.5 (1 - sqrt(Cm^7 / (Cm^7 + 25^7)))``
    with ``Cm`` the mean of the two C; ``a' = (1 + G) a``; ``C' = hypot(a', b)``,
    ``h' = atan2(b, a') mod 360``; differences ``dL'``, ``dC'``,
    ``dH' = 2 sqrt(C1' C2') sin(dh' / 2)`` with ``dh'`` wrapped into [-180, 180] (0 when a
    chroma is 0); means ``L'm, C'm, h'm`` (the hue mean taken the short way round the circle);
    weights ``SL = 1 + 0.015 (L'm - 50)^2 / sqrt(20 + (L'm - 50)^2)``, ``SC = 1 + 0.045 C'm``,
    ``SH = 1 + 0.015 C'm T`` with
    ``T = 1 - 0.17 cos(h'm - 30) + 0.24 cos(2 h'm) + 0.32 cos(3 h'm + 6) - 0.20 cos(4 h'm - 63)``,
    and the rotation ``RT = -sin(2 dtheta) RC``, ``dtheta = 30 exp(-((h'm - 275) / 25)^2)``,
    ``RC = 2 sqrt(C'm^7 / (C'm^7 + 25^7))``::

        dE00 = sqrt((dL'/SL)^2 + (dC'/SC)^2 + (dH'/SH)^2 + RT (dC'/SC)(dH'/SH))
    """
    xp = get_array_module(lab1, lab2)
    lab1 = xp.asarray(lab1, dtype=xp.float64)
    lab2 = xp.asarray(lab2, dtype=xp.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    pow25_7 = 25.0**7

    c_mean = (xp.hypot(a1, b1) + xp.hypot(a2, b2)) / 2
    c_mean7 = c_mean**7
    g = 0.5 * (1 - xp.sqrt(c_mean7 / (c_mean7 + pow25_7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = xp.hypot(a1p, b1), xp.hypot(a2p, b2)
    h1p = xp.degrees(xp.arctan2(b1, a1p)) % 360
    h2p = xp.degrees(xp.arctan2(b2, a2p)) % 360
    chroma_product = c1p * c2p
    achromatic = chroma_product == 0

    dLp = L2 - L1
    dCp = c2p - c1p
    dh = h2p - h1p
    dh = xp.where(dh > 180, dh - 360, xp.where(dh < -180, dh + 360, dh))
    dh = xp.where(achromatic, 0.0, dh)
    dHp = 2 * xp.sqrt(chroma_product) * xp.sin(xp.radians(dh) / 2)

    Lp_mean = (L1 + L2) / 2
    Cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    far = xp.abs(h1p - h2p) > 180
    hp_mean = xp.where(far, xp.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    hp_mean = xp.where(achromatic, h_sum, hp_mean)

    t = (
        1
        - 0.17 * xp.cos(xp.radians(hp_mean - 30))
        + 0.24 * xp.cos(xp.radians(2 * hp_mean))
        + 0.32 * xp.cos(xp.radians(3 * hp_mean + 6))
        - 0.20 * xp.cos(xp.radians(4 * hp_mean - 63))
    )
    d_theta = 30 * xp.exp(-(((hp_mean - 275) / 25) ** 2))
    cp_mean7 = Cp_mean**7
    rc = 2 * xp.sqrt(cp_mean7 / (cp_mean7 + pow25_7))
    lm50 = (Lp_mean - 50) ** 2
    sl = 1 + 0.015 * lm50 / xp.sqrt(20 + lm50)
    sc = 1 + 0.045 * Cp_mean
    sh = 1 + 0.015 * Cp_mean * t
    rt = -xp.sin(xp.radians(2 * d_theta)) * rc

    dl, dc, dhh = dLp / sl, dCp / sc, dHp / sh
    return xp.sqrt(dl**2 + dc**2 + dhh**2 + rt * dc * dhh)


def error_map_de2000(a, b):
    """``(H, W)`` float64 per-pixel CIEDE2000 between two RGB images, in bounded memory."""
    xp, a, b = _pair(a, b)
    flat_a, flat_b = a.reshape(-1, 3), b.reshape(-1, 3)
    out = xp.empty(flat_a.shape[0], dtype=xp.float64)
    for start in range(0, flat_a.shape[0], _CHUNK):
        stop = start + _CHUNK
        out[start:stop] = ciede2000(rgb_to_lab(flat_a[start:stop]), rgb_to_lab(flat_b[start:stop]))
    return out.reshape(a.shape[:-1])


def delta_e2000(a, b):
    """Mean CIEDE2000 difference between two RGB images (sRGB on 0..255 -> Lab D65)."""
    return float(error_map_de2000(a, b).mean())


def colorfulness(rgb):
    """Hasler and Suesstrunk (2003) colourfulness of an RGB image on 0..255 (module doc)."""
    xp = get_array_module(rgb)
    if getattr(rgb, "shape", ())[-1:] != (3,):
        raise ValueError(f"colorfulness needs an (..., 3) RGB image, got shape "
                         f"{getattr(rgb, 'shape', None)}")
    x = xp.asarray(rgb, dtype=xp.float64).reshape(-1, 3)
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    spread = xp.sqrt(rg.var() + yb.var())
    centre = xp.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * centre)


def score(true_rgb, pred_rgb):
    """All scores of a prediction against the truth, as Python floats.

    Returns:
        dict with exactly the keys ``rmse``, ``psnr``, ``ssim``, ``delta_e2000``,
        ``colorfulness`` (of the prediction) and ``colorfulness_true`` (of the truth).
        ``psnr`` is ``float('inf')`` for a perfect prediction.

    Raises ValueError for images that are not non-empty ``(H, W, 3)`` RGB of one shape or that
    hold NaN or infinite values, and when one image looks like a 0..1 float image
    (:func:`colorize.color.looks_like_0_1`) and the other goes above 1: the scores would
    compare two scales. (Two images both under 1 may be two very dark photos, and pass.)
    """
    for name, x in (("the true image", true_rgb), ("the prediction", pred_rgb)):
        if x.ndim != 3 or x.shape[2] != 3 or x.size == 0:
            raise ValueError(f"{name} must be a non-empty (H, W, 3) RGB image, got shape "
                             f"{tuple(x.shape)}")
        if not bool(get_array_module(x).isfinite(x).all()):
            raise ValueError(f"{name} holds NaN or infinite values")
    for name, x, other in (("the true image", true_rgb, pred_rgb),
                           ("the prediction", pred_rgb, true_rgb)):
        if looks_like_0_1(x) and float(other.max()) > 1.0:
            raise ValueError(f"{name} is on 0..1 and the other image on 0..255; images here "
                             "are on 0..255: multiply a 0..1 image by 255")
    return {
        "rmse": rmse(true_rgb, pred_rgb),
        "psnr": psnr(true_rgb, pred_rgb),
        "ssim": ssim(true_rgb, pred_rgb),
        "delta_e2000": delta_e2000(true_rgb, pred_rgb),
        "colorfulness": colorfulness(pred_rgb),
        "colorfulness_true": colorfulness(true_rgb),
    }


def gray_level_chroma_table(rgb):
    """Mean chroma per integer gray level, ``(256, 2)``, learnt from an RGB image.

    Level ``k`` collects the pixels whose gray rounds to ``k``; levels with no pixel are
    linearly interpolated between the nearest levels that have pixels (held constant beyond
    the extremes).
    """
    xp = get_array_module(rgb)
    chroma = rgb_to_chroma(rgb).reshape(-1, 2).astype(xp.float64)
    levels = xp.clip(xp.rint(rgb_to_gray(rgb)), 0, 255).astype(xp.int64).reshape(-1)
    counts = xp.bincount(levels, minlength=256)
    seen = xp.nonzero(counts)[0]
    all_levels = xp.arange(256, dtype=xp.float64)
    table = xp.empty((256, 2), dtype=xp.float64)
    for c in range(2):
        sums = xp.bincount(levels, weights=chroma[:, c], minlength=256)
        table[:, c] = xp.interp(all_levels, seen.astype(xp.float64), sums[seen] / counts[seen])
    return table


def baseline_predictions(left_rgb, right_gray):
    """The three baselines' predictions for the right half.

    Args:
        left_rgb: ``(H, Wl, 3)`` training half on 0..255.
        right_gray: ``(H, Wr)`` gray of the test half (float, 0..255).

    Returns:
        dict ``"gray" | "mean_chroma" | "gray_lookup"`` -> ``(H, Wr, 3)`` float RGB on 0..255,
        each with gray exactly ``right_gray``.
    """
    xp = get_array_module(left_rgb, right_gray)
    gray = right_gray.astype(xp.float64 if right_gray.dtype == xp.float64 else xp.float32)
    mean_chroma = rgb_to_chroma(left_rgb).reshape(-1, 2).astype(xp.float64).mean(axis=0)
    flat = xp.broadcast_to(mean_chroma.astype(gray.dtype), gray.shape + (2,))
    table = gray_level_chroma_table(left_rgb).astype(gray.dtype)
    levels = xp.clip(xp.rint(gray), 0, 255).astype(xp.int64)
    return {
        "gray": xp.repeat(gray[..., None], 3, axis=-1),
        "mean_chroma": chroma_to_rgb(gray, flat),
        "gray_lookup": chroma_to_rgb(gray, table[levels]),
    }


def baseline_scores(rgb, *, quantize=True):
    """Score the three baselines on the right half of a colour photo under the protocol.

    Args:
        rgb: ``(H, W, 3)`` colour photo, at least 8 x 8.
        quantize: round each prediction to uint8 before scoring, as it would be when
            written to a PNG (the agents' outputs are scored from 8-bit images too).

    Returns:
        dict baseline name -> :func:`score` dict.
    """
    check_protocol_size(rgb.shape)
    check_0_255(rgb, "the photo")
    xp = get_array_module(rgb)
    left, right = split_halves(rgb)
    preds = baseline_predictions(left, rgb_to_gray(right))
    if quantize:
        preds = {k: xp.clip(xp.rint(v), 0, 255).astype(xp.uint8) for k, v in preds.items()}
    return {name: score(right, pred) for name, pred in preds.items()}
