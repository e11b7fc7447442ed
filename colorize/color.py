"""Colour spaces: the coursework gray, sRGB <-> CIE L*a*b* (D65), and a gray-preserving chroma.

All functions take NumPy or CuPy arrays whose last axis holds the channels, and return arrays
of the same library. RGB values are on 0..255. Result dtype: float32 for uint8 or float32
input, float64 for float64 input (other integer types give float32).

**Gray.** ``gray = 0.21 R + 0.72 G + 0.07 B`` on 0..255, kept as floats (no rounding).

**CIE Lab.** sRGB companding (IEC 61966-2-1)::

    c = v / 255;  lin = c / 12.92            if c <= 0.04045
                  lin = ((c + 0.055) / 1.055) ** 2.4   otherwise

then ``XYZ = M @ lin`` with the sRGB/D65 primaries matrix ``M`` below, normalised by the D65
white ``(0.95047, 1, 1.08883)``, and::

    f(t) = t ** (1/3)                 if t > (6/29) ** 3
    f(t) = t / (3 (6/29) ** 2) + 4/29 otherwise
    L = 116 f(Y) - 16,  a = 500 (f(X) - f(Y)),  b = 200 (f(Y) - f(Z))

With this matrix pure red is L 53.2406, a 80.0923, b 67.2028 and pure blue 32.2957, 79.1856,
-107.8573, the commonly published values (scikit-image uses the same constants).

**Gray-preserving chroma.** With ``w = (0.21, 0.72, 0.07)`` (``w . (1, 1, 1) = 1``) every RGB
vector splits uniquely as ``rgb = gray (1, 1, 1) + u e1 + v e2`` where ``e1, e2`` is an
orthonormal basis of the plane ``w . x = 0``. Because ``w . e1 = w . e2 = 0``, the gray of the
reconstruction is exactly ``gray`` whatever ``(u, v)`` is: a model that predicts only
``(u, v)`` can never change the known gray. The axes:

- ``e1 = (0.72, -0.21, 0) / 0.75 = (0.96, -0.28, 0)``: red (+) versus green (-), trading R
  against G at constant gray (the B weight is left alone);
- ``e2 = w x e1 / |w x e1|`` ~ ``(0.026, 0.089, -0.996)``: yellow (+) versus blue (-).

The signs follow Lab's a (+red) and b (+yellow). Since ``e1, e2`` are orthonormal, the
Euclidean distance between two chroma vectors equals the RGB distance between the two colours
when they share a gray: a squared error on ``(u, v)`` *is* the squared RGB error.

Out of gamut: a predicted chroma can put the reconstruction outside ``[0, 255]^3``.
:func:`chroma_to_rgb` then scales that pixel's chroma toward the gray axis,
``rgb = gray + s (u e1 + v e2)`` with the largest ``s`` in ``[0, 1]`` that fits, instead of
clipping channels one by one (which would change the gray). The gray stays exact and the hue
is kept; only saturation is lost.
"""

import numpy as np

from nn.backend import get_array_module

GRAY_WEIGHTS = (0.21, 0.72, 0.07)

# sRGB (ITU-R BT.709 primaries) linear RGB -> XYZ for a D65 white.
_XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
D65_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def _chroma_basis():
    """Rows e1, e2: orthonormal basis of the plane orthogonal to GRAY_WEIGHTS (see module doc)."""
    w = np.array(GRAY_WEIGHTS)
    e1 = np.array([w[1], -w[0], 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(w, e1)
    e2 /= np.linalg.norm(e2)
    return np.stack([e1, e2])


CHROMA_BASIS = _chroma_basis()
"""(2, 3) array: rows e1 (red-green) and e2 (yellow-blue), orthonormal, both orthogonal to w."""


def _float_dtype(x):
    """float64 stays float64, everything else computes in float32."""
    xp = get_array_module(x)
    return xp.float64 if x.dtype == xp.float64 else xp.float32


def _as_float(x):
    return x.astype(_float_dtype(x), copy=False)


def looks_like_0_1(x):
    """True for a float image whose values all lie in [0, 1], not all 0: on 0..255 that is a
    black image, so it is far more likely a 0..1 image (``matplotlib.pyplot.imread`` of a PNG,
    for one, gives those)."""
    xp = get_array_module(x)
    if x.size == 0 or not xp.issubdtype(x.dtype, xp.floating):
        return False
    return 0.0 <= float(x.min()) and 0.0 < float(x.max()) <= 1.0


SCALE_SLACK = 64
"""How far outside 0..255 :func:`check_0_255` lets values go: a resize of a float image
overshoots sharp edges by a small fraction of the step (:func:`colorize.io.resize_to`,
bicubic, turns a 0-to-255 edge into -2.25 .. 257.25), while a 16-bit image reaches
thousands."""


def check_0_255(x, name, dark_ok=False):
    """ValueError when ``x`` is not an image on 0..255: it holds NaN or infinite values, values
    far outside 0..255 (a 16-bit image), or it looks like a 0..1 image
    (:func:`looks_like_0_1`): the project takes images on 0..255, as uint8 files hold them,
    and any other scale would pass through every step and come out wrong. ``dark_ok`` skips
    the 0..1 test, for a gray image to colour: one derived from a very dark photo is
    legitimately all under 1. Values up to ``SCALE_SLACK`` outside 0..255 pass: a resize of a
    float image overshoots at sharp edges."""
    xp = get_array_module(x)
    if x.size and not bool(xp.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    if x.size and not (-SCALE_SLACK <= float(x.min()) and float(x.max()) <= 255 + SCALE_SLACK):
        raise ValueError(f"{name} holds values from {float(x.min()):g} to {float(x.max()):g}: "
                         "images here are on 0..255 (divide a 16-bit image by 257)")
    if not dark_ok and looks_like_0_1(x):
        raise ValueError(f"{name} holds values from {float(x.min()):g} to {float(x.max()):g}: "
                         "images here are on 0..255 (uint8, or floats on that scale); "
                         "multiply a 0..1 image by 255")


def _check_channels(x, name):
    if x.shape[-1:] != (3,):
        raise ValueError(f"{name} must have 3 channels on its last axis, got shape {tuple(x.shape)}")


def rgb_to_gray(rgb):
    """``(..., 3)`` RGB on 0..255 -> ``(...)`` gray ``0.21 R + 0.72 G + 0.07 B`` (float)."""
    _check_channels(rgb, "rgb")
    x = _as_float(rgb)
    wr, wg, wb = (x.dtype.type(v) for v in GRAY_WEIGHTS)
    return x[..., 0] * wr + x[..., 1] * wg + x[..., 2] * wb


def _apply_matrix(x, m):
    """``(..., 3) @ m.T`` with ``m`` a NumPy constant, in x's library and dtype."""
    xp = get_array_module(x)
    return x @ xp.asarray(m.T, dtype=x.dtype)


def rgb_to_lab(rgb):
    """``(..., 3)`` sRGB on 0..255 -> ``(..., 3)`` CIE L*a*b* (D65); formulas in the module doc."""
    _check_channels(rgb, "rgb")
    xp = get_array_module(rgb)
    c = _as_float(rgb) / 255
    lin = xp.where(c <= 0.04045, c / 12.92, ((xp.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)
    xyz = _apply_matrix(lin, _XYZ_FROM_RGB / np.array(D65_WHITE)[:, None])
    f = xp.where(
        xyz > _DELTA**3,
        xp.cbrt(xp.maximum(xyz, _DELTA**3)),
        xyz / (3 * _DELTA**2) + 4.0 / 29.0,
    ).astype(c.dtype, copy=False)
    lab = xp.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return lab.astype(c.dtype, copy=False)


def lab_to_rgb(lab):
    """``(..., 3)`` CIE L*a*b* (D65) -> ``(..., 3)`` sRGB float, clipped to 0..255.

    Linear RGB outside [0, 1] (Lab colours outside the sRGB gamut) is clipped before
    companding, so the result is always a displayable colour.
    """
    _check_channels(lab, "lab")
    xp = get_array_module(lab)
    x = _as_float(lab)
    fy = (x[..., 0] + 16) / 116
    f = xp.stack([fy + x[..., 1] / 500, fy, fy - x[..., 2] / 200], axis=-1)
    t = xp.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)).astype(x.dtype, copy=False)
    lin = _apply_matrix(t, _RGB_FROM_XYZ * np.array(D65_WHITE)[None, :])
    lin = xp.clip(lin, 0, 1)
    c = xp.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return xp.clip(c * 255, 0, 255).astype(x.dtype, copy=False)


def rgb_to_chroma(rgb):
    """``(..., 3)`` RGB on 0..255 -> ``(..., 2)`` chroma ``(u, v)``: the coordinates of
    ``rgb - gray (1, 1, 1)`` on ``e1, e2`` (module doc). Exactly inverted by
    :func:`chroma_to_rgb` for in-gamut colours."""
    _check_channels(rgb, "rgb")
    x = _as_float(rgb)
    residual = x - rgb_to_gray(x)[..., None]
    return _apply_matrix(residual, CHROMA_BASIS)


def chroma_to_rgb(gray, chroma):
    """Gray ``(...)`` plus chroma ``(..., 2)`` -> RGB ``(..., 3)`` float in 0..255.

    ``rgb = gray + s (u e1 + v e2)`` per pixel, with ``s = 1`` when that fits in
    ``[0, 255]^3`` and otherwise the largest ``s`` in ``[0, 1)`` that does, so
    ``rgb_to_gray(rgb) == gray`` (to rounding) for every gray in 0..255. Gray outside 0..255
    is clipped first (no colour has such a gray). Result dtype: float64 if either input is
    float64, else float32.
    """
    xp = get_array_module(gray, chroma)
    if chroma.shape[-1:] != (2,) or chroma.shape[:-1] != gray.shape:
        raise ValueError(
            f"chroma must have shape gray.shape + (2,), got gray {tuple(gray.shape)} and "
            f"chroma {tuple(chroma.shape)}"
        )
    dtype = xp.float64 if xp.float64 in (gray.dtype, chroma.dtype) else xp.float32
    g = xp.clip(gray.astype(dtype, copy=False), 0, 255)[..., None]
    offset = chroma.astype(dtype, copy=False) @ xp.asarray(CHROMA_BASIS, dtype=dtype)
    # Per channel, the largest scale keeping g + s * offset inside [0, 255].
    room_up = xp.where(offset > 0, (255 - g) / xp.where(offset > 0, offset, 1), xp.inf)
    room_down = xp.where(offset < 0, g / xp.where(offset < 0, -offset, 1), xp.inf)
    scale = xp.minimum(xp.minimum(room_up, room_down).min(axis=-1, keepdims=True), 1)
    return xp.clip(g + scale.astype(dtype, copy=False) * offset, 0, 255)
