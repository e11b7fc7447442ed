"""The improved agent's settings: their defaults and the measurements behind them, their
bounds, and the check that every configuration passes (one given in code, on the command line
or read from a model file).

:class:`agents.improved.ImprovedAgent` takes any key of :data:`DEFAULTS` as a keyword; a
saved model fixes the :data:`ARCHITECTURE_KEYS` and lets the :data:`DECODING_KEYS` change
(:mod:`agents.improved_model_file`).
"""

import math

import numpy as np

from agents.improved_losses import REGRESSION_LOSSES
from agents.improved_model import ARCHITECTURES
from nn.backend import is_real_number, is_whole_number

LOSSES = ("cls",) + tuple(REGRESSION_LOSSES)

DEFAULTS = {
    "arch": "unet",
    "loss": "cls",
    "width": 16,
    "epochs": 30,
    "batch_size": 8,
    "crop": 48,
    "bank_size": 64,
    "lr": 2e-3,
    "ema_decay": 0.0,
    "patience": 8,
    "plateau": 3,
    "bin_step": 10.0,
    "rebalance": 0.5,
    "neighbors": 5,
    "temperature": 0.7,
    "saturation": 1.0,
    "refine": 1.0,
    "propagate": "auto",
    "rows": False,
    "prior": True,
    "context": False,
    "flip_average": True,
}
"""Default settings. ``epochs`` counts passes over the crop bank (``bank_size / batch_size``
steps each); ``lr``: Adam's learning rate. Smaller and larger values than the defaults did
worse, one setting changed at a time, as mean PSNR on the six benchmark photos at 256 px over
seeds 0-2 (:mod:`agents.bench_improved`'s photos and scoring, one BLAS thread; the defaults
give 25.04 dB there). These sweeps, and the other one-setting figures in this package's
docstrings that compare with 25.04, ran before 2026-11-29, when the benchmark still resized
each photo whole before cutting it, so that the right half's first columns blended into the
validation strip and into the known colours at the seam; with each half resized on its own
the defaults gave 24.93 dB (24.75 to 25.13 per seed), and 24.97 dB (24.78 to 25.21) since the
fixes of commit 9f763ef (soft targets' distances in float64, the prior scaled to sum to 1, a
pixel counted only when both chroma values are known), and 24.93 dB (24.76 to 25.09)
since the cross-entropy takes the soft targets in sparse form (commit de870da: the same loss
and gradient up to rounding, which sends each run along a slightly different path; the
regression variants kept their scores to the last digit); the sweeps were not rerun:
``lr`` 1e-3 / 4e-3 gave 24.29 / 24.75, ``width`` 8 / 12 gave 24.62 / 24.71,
``crop`` 32 gave 24.42, ``batch_size`` 4 gave 24.61, ``plateau`` 0 / 5 gave 24.80 / 24.86 and
``neighbors`` 1 / 9 gave 24.66 / 24.94, ``prior`` off 24.83 and ``arch`` ``"dilated"`` 24.16
(wider networks, larger crops and larger batches did worse in earlier measurements);
``neighbors``: how many of the nearest chroma bins share each pixel's soft target (1 =
one-hot; :meth:`colorize.chroma_bins.ChromaBins.encode_soft`);
``ema_decay``: the decay of the exponential moving average of the weights that is then
validated, kept and used (0 = off: the plain weights of each epoch's last step). On four
sample photos that are not among the benchmark's (scikit-image's motorcycle_right,
hubble_deep_field, retina and ihc, 256 px, seeds 0 and 1, mean PSNR of the right halves) it
helped: 29.95 dB without, 30.02 / 30.09 / 30.12 / 30.06 dB at decay 0.8 / 0.9 / 0.95 / 0.98,
and 30.09 dB at 0.95 with the warm-up of :class:`nn.WeightAverage`. On the six benchmark photos
decay 0.95 then gave 24.80 dB mean at seed 0 against 25.21 dB without it (24.75 against
24.97 over seeds 0-2; the same code, 2026-11-29): astronaut fell from 27.77 to 25.39 dB,
because the averaged weights' smoother validation curve had its best at epoch 16, and early
stopping ended the run 8 epochs later and restored epoch 16, while without the average the
noisy curve kept reaching new lows until the last epoch, 30 (the other five photos moved by
-0.16 to +0.22 dB). With the evidence split, it stays off;
``patience``: stop after that many epochs without a better validation loss; ``plateau``: halve
the learning rate when that many epochs in a row have passed without a better validation loss,
on the next such epoch (``ReduceLROnPlateau``'s patience; 0 = constant
rate). Cosine annealing to 0 over the 30 epochs instead (:class:`nn.CosineLR`; seeds 0-2,
2026-11-29) gave the defaults' 24.93 dB: +0.21 dB on the mean of five photos, but astronaut
lost 1.04 dB (0.77 dB over seeds 0-5, lower with 5 of the 6; with seed 0 its validation loss
flattened once the rate had decayed, best at epoch 19 of 27, where the halvings let it fall
until the last epoch); with ``lr`` 3e-3 it gave 24.84, and quartering the rate at each
plateau instead of halving it 24.76 (astronaut -1.17, the others -0.04 to +0.13).
``bin_step`` is the side of a chroma bin in chroma units (RGB units, since the chroma basis is
orthonormal);
``refine`` is the edge-aware smoothing strength (0 = off) when no colours are known;
``propagate`` the strength of the propagation of known colours (the protocol's training
half) into the prediction, which then replaces ``refine``: a number (0 = off) or ``"auto"``,
the value of ``PROPAGATE_GRID`` that does best on the validation strip; ``flip_average``
averages the network's outputs for the image and its mirror image (class scores before
decoding)."""

PROPAGATE_GRID = (0.0, 1e2, 1e3, 1e4, 1e5, 1e6)
"""Strengths ``propagate="auto"`` chooses from. Up to 1e5 each solve is capped at 1000 CG
steps, and the weaker strengths stop earlier on the residual test (chelsea at a quarter of
its size, zero chroma guess: 117, 272, 870 and 1000 steps for 1e2 to 1e5); above 1e5 the cap
grows by sqrt(10) per decade (:func:`colorize.edge_aware.propagation_iterations`: 3163 at
1e6). Adding 1e6 raised the benchmark photos' mean PSNR by 0.20 / 0.25 / 0.23 dB (seeds 0 / 1 / 2;
measured under the earlier whole-photo resize, see ``DEFAULTS``). With every system
solved exactly, adding 1e7 as well gained less than 1e6 alone (the strip then picks 1e7 for
coffee, which does better at 1e6), and half-decade steps (3e5, 3e6) +0.07 / -0.01 dB for
1.7 times the steps."""

MIN_TEMPERATURE = 1e-3
"""The lowest annealed-mean temperature: below it the decoding is the mode for any scores,
and dividing float32 scores by it overflows."""
MAX_TEMPERATURE = 1e3
"""The highest annealed-mean temperature: far above it the class scores divided by it are all
about zero, so the decoding is the plain mean of the bin centres for any scores, and the
float32 temperature overflows to infinity near 3e38."""
MAX_SATURATION = 100.0
"""The largest saturation: beyond it nearly every predicted colour lies far outside the gamut
and is pulled back to its edge, and float32 overflows long before a user notices more."""
MAX_STRENGTH = 1e7
"""The largest ``propagate`` / ``refine`` strength. Far above it the float32 sums of conjugate
gradients overflow and the solve returns nothing usable. For ``propagate`` the CG steps also
reach their cap there (:data:`colorize.edge_aware.MAX_PROPAGATE_ITERATIONS`); ``refine``'s
solve always stops within 100 steps (``smooth_chroma``'s default)."""
MAX_BANK_SIZE = 4096
"""The most training crops (``bank_size``): the bank is held in memory, and 4096 crops cut at
the default 48 px plus their slack for shifts (64 px in all) with their 5 planes (gray, prior,
chroma) take 335 MB; far more would not fit."""
MAX_WIDTH = 512
"""The widest network (``width``, the channels of the first level): 32 times the default.
A model file asking for more is refused with one line, rather than failing to allocate
terabytes of weights."""

# What a saved model fixes: the network's shape and its output space. The decoding options
# may be changed when a model is loaded; the other (training) settings describe how it was
# trained, and a loaded model is not trained again.
ARCHITECTURE_KEYS = ("arch", "loss", "width", "rows", "prior", "context", "bin_step")
DECODING_KEYS = ("temperature", "saturation", "refine", "propagate", "flip_average")


COUNT_KEYS = ("width", "epochs", "batch_size", "crop", "bank_size", "neighbors", "patience",
              "plateau")
NUMBER_KEYS = ("lr", "ema_decay", "bin_step", "rebalance", "temperature", "saturation", "refine")
SWITCH_KEYS = ("rows", "prior", "context", "flip_average")


def check_config(cfg):
    """``cfg`` with plain Python values (NumPy numbers would not go into a model file's JSON),
    or ValueError for settings that cannot work: a count that is not a whole number, a number
    that is not finite, a switch that is not true or false, or a value out of its range."""
    cfg = dict(cfg)
    if cfg["arch"] not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {cfg['arch']!r}")
    if cfg["loss"] not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {cfg['loss']!r}")
    for key in COUNT_KEYS:
        value = cfg[key]
        if not is_whole_number(value):
            raise ValueError(f"{key} must be a whole number, got {value!r}")
        cfg[key] = int(value)
    for key in NUMBER_KEYS:
        if not (is_real_number(cfg[key]) and math.isfinite(cfg[key])):
            raise ValueError(f"{key} must be a finite number, got {cfg[key]!r}")
        cfg[key] = float(cfg[key])
    for key in SWITCH_KEYS:
        # 0 and 1 as well: model files of older versions may hold them
        value = cfg[key]
        if not (isinstance(value, (bool, np.bool_))
                or (is_real_number(value) and value in (0, 1))):
            raise ValueError(f"{key} must be true or false, got {cfg[key]!r}")
        cfg[key] = bool(cfg[key])
    for key in ("width", "epochs", "batch_size", "crop", "bank_size", "neighbors", "patience"):
        if cfg[key] < 1:
            raise ValueError(f"{key} must be at least 1, got {cfg[key]}")
    if cfg["width"] > MAX_WIDTH:
        raise ValueError(f"width must be at most {MAX_WIDTH}, got {cfg['width']}")
    if cfg["bank_size"] > MAX_BANK_SIZE:
        raise ValueError(f"bank_size must be at most {MAX_BANK_SIZE}, got {cfg['bank_size']}")
    if cfg["plateau"] < 0:
        raise ValueError(f"plateau must be at least 0, got {cfg['plateau']}")
    for key in ("lr", "bin_step"):
        if not cfg[key] > 0:
            raise ValueError(f"{key} must be positive, got {cfg[key]}")
    if not MIN_TEMPERATURE <= cfg["temperature"] <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must lie in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}], "
                         f"got {cfg['temperature']}")
    if not 0 <= cfg["ema_decay"] < 1:
        raise ValueError(f"ema_decay must lie in [0, 1), got {cfg['ema_decay']}")
    if not 0 <= cfg["rebalance"] <= 1:
        raise ValueError(f"rebalance must lie in [0, 1], got {cfg['rebalance']}")
    if not 0 <= cfg["saturation"] <= MAX_SATURATION:
        raise ValueError(f"saturation must lie in [0, {MAX_SATURATION:g}], got {cfg['saturation']}")
    if not 0 <= cfg["refine"] <= MAX_STRENGTH:
        raise ValueError(f"refine must lie in [0, {MAX_STRENGTH:g}], got {cfg['refine']}")
    if cfg["propagate"] != "auto":
        if not is_strength(cfg["propagate"]):
            raise ValueError(f"propagate must be 'auto' or a number in [0, {MAX_STRENGTH:g}], "
                             f"got {cfg['propagate']!r}")
        cfg["propagate"] = float(cfg["propagate"])
    return cfg


def is_strength(value):
    """True for a real number in [0, MAX_STRENGTH] (not a bool, not a string)."""
    return is_real_number(value) and 0 <= value <= MAX_STRENGTH
