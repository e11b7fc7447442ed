"""The improved agent's data: input planes, the validation strip, crops, flips, resizing.

Inputs (``input_planes``): the gray image normalised as ``(gray - 127.5) / 64`` (about unit
scale; fixed constants rather than per-photo statistics, so a model trained on one photo
sees another photo's gray on the same scale), optionally with

- the row position in ``[-1, 1]`` (sky is up, ground is down; rows are shared by both halves
  of a protocol photo, unlike columns);
- a *prior*: the mean chroma of the training image's pixels of the same gray level (the
  per-gray-lookup baseline of :mod:`colorize.metrics`), so the network learns a correction
  of a robust first guess rather than colour from scratch;
- *context*: the mean gray over 31 x 31 and 95 x 95 boxes around the pixel.

Targets: the gray-preserving chroma ``(u, v)`` of ``colorize.color`` as (2, H, W) planes.
Pixels that must not count (outside the validation strip) hold NaN; the losses of
:mod:`agents.improved_losses` skip them.

Validation strip: the ``VALIDATION_FRACTION`` of the training image's columns nearest the
right edge (for a protocol photo: the part of the left half nearest the test half). Training
crops never include its colours; for validation the training image goes through the network
with the strip and every column within the network's reach of it (the strip's gray keeps all
its context: :func:`agents.improved_model.crop_start`), and only the strip is scored.

Crops: a seeded bank of ``bank_size`` crops of ``crop + CROP_SLACK`` pixels is cut once from
the training columns; every minibatch then takes one random ``crop``-sized window, at the
same position in each of its crops, and flips each crop left-right with probability 1/2
(``augment``). Vertical flips are not used: photos have an up and a down (measured: flipping
each crop upside down with probability 1/2 as well lowered the six benchmark photos' mean
PSNR from 25.04 to 24.31 dB over seeds 0-2, astronaut from 26.60 to 23.38, under the
earlier whole-photo resize: see :data:`agents.improved_settings.DEFAULTS`).
"""

import numpy as np
from PIL import Image

from nn.backend import get_array_module

GRAY_CENTER = 127.5
GRAY_SCALE = 64.0
VALIDATION_FRACTION = 0.2
MIN_VALIDATION_COLUMNS = 4
CROP_SLACK = 16
PRIOR_SCALE = 32.0
CONTEXT_BOXES = (31, 95)


def box_mean(image, size):
    """Mean of (H, W) ``image`` over the ``size`` x ``size`` box centred on each pixel, with
    edge-replicated borders; float32, O(1) per pixel through an integral image."""
    xp = get_array_module(image)
    r = size // 2
    padded = xp.pad(image.astype(np.float64), ((r + 1, r), (r + 1, r)), mode="edge")
    padded[0, :] = 0
    padded[:, 0] = 0
    integral = padded.cumsum(axis=0).cumsum(axis=1)
    h, w = image.shape
    total = (integral[size:size + h, size:size + w] - integral[:h, size:size + w]
             - integral[size:size + h, :w] + integral[:h, :w])
    return (total / (size * size)).astype(np.float32)


def input_planes(gray, rows=False, prior_table=None, context=False):
    """(H, W) gray on 0..255 -> (C, H, W) float32 network input.

    Planes, in this order: the normalised gray; with ``context`` the normalised mean gray of
    the ``CONTEXT_BOXES`` boxes around each pixel (coarse context beyond the network's
    receptive field: sky or ground, light or shadow); with ``rows`` the row position; with
    ``prior_table`` ((256, 2) mean chroma per gray level of the training image) the two
    chroma values that table gives each pixel, divided by ``PRIOR_SCALE``.
    C = 1 + 2 context + rows + 2 prior.
    """
    xp = get_array_module(gray)
    g = (gray.astype(np.float32) - np.float32(GRAY_CENTER)) / np.float32(GRAY_SCALE)
    planes = [g]
    if context:
        planes += [box_mean(g, size) for size in CONTEXT_BOXES]
    if rows:
        h = gray.shape[0]
        r = xp.linspace(-1.0, 1.0, h, dtype=np.float32) if h > 1 else xp.zeros(1, np.float32)
        planes.append(xp.broadcast_to(r[:, None], g.shape))
    if prior_table is not None:
        levels = xp.clip(xp.rint(gray), 0, 255).astype(np.int64)
        prior = xp.asarray(prior_table, dtype=np.float32)[levels] / np.float32(PRIOR_SCALE)
        planes += [prior[..., 0], prior[..., 1]]
    return xp.stack(planes)


def input_channels(rows, prior, context):
    """Number of planes :func:`input_planes` makes."""
    return 1 + int(bool(rows)) + 2 * int(bool(prior)) + len(CONTEXT_BOXES) * int(bool(context))


def validation_columns(width):
    """Number of columns held out on the right: 20 % of ``width``, at least 4, and at most
    ``width // 2`` (so at least half is left to train on)."""
    return min(width // 2, max(MIN_VALIDATION_COLUMNS, int(round(VALIDATION_FRACTION * width))))


def masked_strip_target(chroma, val_cols):
    """(2, H, W) chroma -> the same with NaN everywhere but the last ``val_cols`` columns."""
    xp = get_array_module(chroma)
    w = chroma.shape[2]
    if not 1 <= val_cols <= w:
        raise ValueError(f"val_cols must lie in [1, {w}], got {val_cols}")
    target = xp.full_like(chroma, np.nan)
    # from w - val_cols, not -val_cols: -0 would keep every column
    target[:, :, w - val_cols:] = chroma[:, :, w - val_cols:]
    return target


def crop_bank(planes, target, crop, bank_size, rng):
    """Cut ``bank_size`` random windows of ``crop + CROP_SLACK`` (clipped to the image) from
    (C, H, W) ``planes`` and (2, H, W) ``target``; returns ``(x, y)`` of shapes
    (n, C, sh, sw) and (n, 2, sh, sw) with ``sh = min(crop + CROP_SLACK, H)`` and
    ``sw = min(crop + CROP_SLACK, W)``."""
    h, w = planes.shape[1:]
    side_h, side_w = min(crop + CROP_SLACK, h), min(crop + CROP_SLACK, w)
    ys = rng.integers(0, h - side_h + 1, size=bank_size)
    xs = rng.integers(0, w - side_w + 1, size=bank_size)
    x = np.stack([planes[:, y:y + side_h, x0:x0 + side_w] for y, x0 in zip(ys, xs)])
    t = np.stack([target[:, y:y + side_h, x0:x0 + side_w] for y, x0 in zip(ys, xs)])
    return x, t


def make_augment(crop_h, crop_w):
    """``augment(x, y, rng)`` for ``nn.fit``: one random (crop_h, crop_w) window per batch
    (the same for x and y) and a left-right flip of each sample with probability 1/2."""

    def augment(x, y, rng):
        xp = get_array_module(x)
        h, w = x.shape[2:]
        top = int(rng.integers(0, h - crop_h + 1))
        left = int(rng.integers(0, w - crop_w + 1))
        flip = rng.random(x.shape[0]) < 0.5
        xs = x[:, :, top:top + crop_h, left:left + crop_w]
        ys = y[:, :, top:top + crop_h, left:left + crop_w]
        sel = xp.asarray(flip) if xp is not np else flip
        xs = xp.where(sel[:, None, None, None], xs[..., ::-1], xs)
        ys = xp.where(sel[:, None, None, None], ys[..., ::-1], ys)
        return xp.ascontiguousarray(xs), xp.ascontiguousarray(ys)

    return augment


def resize_planes(planes, height, width):
    """Resize (H, W) or (H, W, C) float host arrays with Pillow's bilinear filter (per channel,
    in float32 'F' mode, no rounding)."""
    planes = np.asarray(planes, dtype=np.float32)
    if planes.shape[:2] == (height, width):
        return planes
    if planes.ndim == 2:
        plane = Image.fromarray(planes, mode="F")
        return np.asarray(plane.resize((width, height), Image.Resampling.BILINEAR))
    return np.stack([resize_planes(planes[..., c], height, width) for c in range(planes.shape[2])],
                    axis=-1)


def working_shape(shape, train_pixels):
    """(h, w) at which to predict a gray image of ``shape`` (H, W): the same size when it has no
    more pixels than the training image, else shrunk (aspect kept) to the training image's
    pixel count, so the network sees textures at the scale it learnt them at. (Under the
    protocol an odd-width photo's right half has one column more than its left, so it is
    shrunk by a percent or so; on three photos 101 px wide this moved PSNR by -0.24 to +0.15
    dB against predicting it at its own size, no consistent gain, so the rule has no
    exception.)"""
    h, w = int(shape[0]), int(shape[1])
    if h * w <= train_pixels:
        return h, w
    s = (train_pixels / (h * w)) ** 0.5
    return max(1, int(round(h * s))), max(1, int(round(w * s)))
