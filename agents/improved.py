"""The improved agent: a small fully convolutional network that predicts chroma from gray.

``python -m agents.improved [IMAGE] [--epochs N] [--save-model F] [--load-model F] ...``

What it learns and how (the choices were made by measurement; ``python -m agents.bench_improved``
reruns the comparison):

1. **Spaces.** Input: the gray image (normalised) and the per-gray-lookup chroma of the
   training image as a prior (:mod:`agents.improved_data`; coarse-context planes are an
   option, off by default: over seeds 0-2 on the six benchmark photos they raised coffee by
   0.35 dB and lowered the mean by 0.23 dB, 24.81 against 25.04, measured under the earlier
   whole-photo resize: see :data:`agents.improved_settings.DEFAULTS`).
   Output: the gray-preserving chroma ``(u, v)`` of :mod:`colorize.color`; the colour is
   rebuilt as ``gray + u e1 + v e2``, so the output's gray equals the input gray exactly (up
   to the gamut shrink of ``chroma_to_rgb``), whatever the network says.
2. **Model.** A U-Net with two downsamplings (default) or a dilated stack
   (:mod:`agents.improved_model`), batch-norm and ReLU, trained with Adam; the learning rate
   halves when the validation loss stalls.
3. **Loss.** ``cls`` (default): classification over the chroma bins the training image uses
   (:mod:`colorize.chroma_bins`) with soft targets and class rebalancing, decoded by the
   annealed mean (Zhang, Isola and Efros 2016), which keeps colours vivid where regression
   averages them to sepia. The temperature is 0.7 rather than the paper's 0.38: on the
   benchmark photos the same trained networks scored 0.45 dB higher mean PSNR at 0.7 and
   still kept 0.8x the truth's colourfulness (``python -m agents.bench_improved`` re-decodes
   every trained network at several temperatures). ``l2`` / ``l1`` / ``smooth_l1``: chroma
   regression, faster to train (2 output channels instead of one per bin), 0.36 dB lower
   mean PSNR there (seed 0, :mod:`agents.bench_improved` of 2026-11-29). ``saturation``
   scales the decoded chroma (1 = as predicted).
4. **Training.** Random crops of the training image's columns left of the validation strip,
   left-right flips; the strip (the 20 % of columns nearest the test half) is scored each
   epoch with all the context the network sees (the training image from
   :data:`agents.improved_model.CONTEXT_MARGIN` columns left of the strip on, rounded down to
   the pooling grid: what lies farther cannot change its prediction); early stopping restores
   the best epoch.
   A moving average of the weights (``ema_decay``, :class:`nn.WeightAverage`) is an option,
   off by default: it helped on held-out photos and hurt on the benchmark's (see
   ``DEFAULTS``).
5. **Colourizing.** The network's outputs for the image and its mirror image are averaged
   (+0.05 dB mean PSNR on the benchmark photos without propagation, -0.02 with it: a wash,
   kept because it makes the prediction symmetric under mirroring).
   Under the left/right protocol the training half lies just left of the test half, so its
   true colours are known there: they serve as the scribbles of Levin, Lischinski and
   Weiss's colorization by optimisation, propagated across the seam and along regions of
   similar gray, with the network's chroma as a light data term
   (:func:`colorize.edge_aware.propagate_from_left`). Propagation cannot see a colour edge
   that has no gray edge, and then it spreads a wrong colour, so its strength
   (``propagate``) is chosen on the validation strip, which plays the test half: the
   training columns' colours are propagated into the strip at each strength of
   ``PROPAGATE_GRID`` and the strength that best reproduces the strip's colours is kept (a
   strength judged over the strip's width, 26 columns at 256 px, and then used across the
   whole test half, 128 columns: the farther from the seam, the less the known colours
   reach, so the choice is a proxy, not a measurement on the test half). On
   the benchmark photos this adds 0.75 dB mean PSNR, and the seam disappears. Without known
   neighbours (a reference photo) the chroma is only refined by the same gray-guided
   smoothing, weakly (``refine``).
6. **Full resolution.** Chroma is predicted at a working size with the training image's
   pixel count (tile by tile for large working sizes), upsampled bilinearly and combined
   with the full-resolution gray a band of rows at a time, so a 12-megapixel photo needs a
   few hundred MB.

With ``--load-model`` the agent skips training and colourizes with the saved network (a
model trained on one photo colourizes others). ``--save-model`` writes the trained network,
its chroma bins and its configuration to one ``.npz`` file (:mod:`agents.improved_model_file`).
The settings, their defaults and the measurements behind each default are in
:mod:`agents.improved_settings`.
"""

import argparse
import os
import sys
import time

import numpy as np

from agents.cli import (auto_or, build_parser, input_files, main, notice, output_paths,
                        show_progress)
from agents.improved_data import (
    crop_bank,
    input_channels,
    input_planes,
    make_augment,
    masked_strip_target,
    resize_planes,
    validation_columns,
    working_shape,
)
from agents.improved_losses import REGRESSION_SCALE, ChromaClassLoss, ChromaRegressionLoss
from agents.improved_model import (ARCHITECTURES, build_model, crop_start, pad_to_multiple,
                                   predict_tiled, size_multiple)
from agents.improved_model_file import check_save_path, read_model_file, section, write_model_file
from agents.improved_settings import (
    ARCHITECTURE_KEYS,
    DECODING_KEYS,
    DEFAULTS,
    LOSSES,
    MAX_SATURATION,
    MAX_STRENGTH,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    PROPAGATE_GRID,
    check_config,
)
from colorize.chroma_bins import ChromaBins
from colorize.color import check_0_255, chroma_to_rgb, rgb_to_chroma, rgb_to_gray
from colorize.edge_aware import propagate_from_left, smooth_chroma
from colorize.metrics import gray_level_chroma_table
from nn import Adam, NNError, ReduceLROnPlateau, StateDictError, fit
from nn.backend import array_module_for, is_whole_number, to_numpy
from nn.cli import UsageError, positive_int
from nn.errors import first_line
from nn.progress import with_progress

DEFAULT_MAX_SIDE = 256
ROW_BAND = 256


class ImprovedAgent:
    """Neural chroma predictor; see the module docstring.

    Parameters
    ----------
    seed : int, seeds the weights, the crop bank, each batch's window, each crop's flip,
        and the minibatch order.
    device : "auto" | "cpu" | "gpu".
    progress : bool, show progress bars (tqdm, when stderr is a terminal: :mod:`nn.progress`)
        for training and for the choice of the propagation strength.
    save_path : str or None, write the trained model there at the end of :meth:`fit`.
    **options : any key of :data:`agents.improved_settings.DEFAULTS`.
    """

    name = "improved"
    full_resolution = True
    uses_left_colours = True

    def __init__(self, seed=0, device="auto", progress=False, save_path=None, **options):
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        self.config = check_config({**DEFAULTS, **options})
        if not (is_whole_number(seed) and seed >= 0):
            raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
        self.seed = int(seed)
        self.device = device
        self.xp = array_module_for(device)
        self.progress = progress
        self.save_path = save_path
        self.model = None
        self.bins = None
        self.prior_table = None
        self.pretrained = False
        self.history = None
        self.train_pixels = None
        self.fit_seconds = None
        self.propagate_errors = None
        self.propagate_strength = (None if self.config["propagate"] == "auto"
                                   else float(self.config["propagate"]))

    @property
    def propagate_strength(self):
        """The strength with which known colours are propagated (``propagate``), or None.

        With ``propagate="auto"`` it is chosen on the validation strip after :meth:`fit`, the
        first time it is needed (colourizing with known colours on the left, saving, or
        reading this): a run that learns from a reference photo has no known colours to
        propagate, and skips the six solves of the choice."""
        if self._strip_for_choice is not None:
            # the strip is dropped only once the choice is made: an interrupted choice is
            # made again next time instead of leaving no strength at all
            strength, errors = self._choose_propagation(*self._strip_for_choice)
            self._strip_for_choice = None
            self._propagate_strength, self.propagate_errors = strength, errors
        return self._propagate_strength

    @propagate_strength.setter
    def propagate_strength(self, value):
        self._strip_for_choice = None
        self._propagate_strength = value

    # -- training --------------------------------------------------------------------------
    def fit(self, rgb):
        """Learn from a colour image (H, W, 3) on 0..255; returns ``self``.

        A model loaded with :meth:`load` is kept as it is (no training): it was trained on
        another photo and is meant to colourize this one.
        """
        rgb = np.asarray(to_numpy(rgb))
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"fit needs an (H, W, 3) colour image, got shape {rgb.shape}")
        check_0_255(rgb, "the training image")
        if self.pretrained:
            if self.save_path is not None:
                self.save(self.save_path)
            return self
        if rgb.shape[1] < 2 or rgb.shape[0] < 1:
            raise ValueError(f"fit needs a training image at least 2 columns wide (columns to "
                             f"train on and a validation strip) and 1 row tall, got shape "
                             f"{rgb.shape}")
        started = time.perf_counter()
        cfg = self.config
        # a network that fails to train must not be left for colorize to use, nor a strength
        # chosen for an earlier one
        self.model = None
        if cfg["propagate"] == "auto":
            self.propagate_strength, self.propagate_errors = None, None
        h, w = rgb.shape[:2]
        self.train_pixels = h * w
        gray = rgb_to_gray(rgb)
        chroma = rgb_to_chroma(rgb).transpose(2, 0, 1).astype(np.float32)
        val_cols = validation_columns(w)
        train_w = w - val_cols
        # The prior comes from the training columns only: the strip's colours stay unseen.
        self.prior_table = (gray_level_chroma_table(rgb[:, :train_w]).astype(np.float32)
                            if cfg["prior"] else None)
        planes = input_planes(gray, cfg["rows"], self.prior_table, cfg["context"])

        if cfg["loss"] == "cls":
            self.bins = ChromaBins.fit(chroma[:, :, :train_w].transpose(1, 2, 0), cfg["bin_step"])
            loss = ChromaClassLoss(self.bins, cfg["rebalance"], cfg["neighbors"])
            out_channels = self.bins.n_bins
        else:
            self.bins = None
            loss = ChromaRegressionLoss(cfg["loss"])
            out_channels = 2
        multiple = size_multiple(cfg["arch"])
        model = build_model(cfg["arch"], planes.shape[0], out_channels, cfg["width"], self.seed)
        model.to(self.device)

        rng = np.random.default_rng([self.seed, 2])
        train_planes = _pad_at_least(planes[:, :, :train_w], multiple)
        train_chroma = _pad_at_least(chroma[:, :, :train_w], multiple)
        x_bank, y_bank = crop_bank(train_planes, train_chroma, cfg["crop"], cfg["bank_size"], rng)
        crop_h = _floor_to_multiple(min(cfg["crop"], x_bank.shape[2]), multiple)
        crop_w = _floor_to_multiple(min(cfg["crop"], x_bank.shape[3]), multiple)
        # The strip is scored with all the context the network can see, and no more: the
        # columns left of its reach would change nothing but the time of each validation.
        first = crop_start(train_w, multiple)
        x_val = pad_to_multiple(planes[None, :, :, first:], multiple)
        y_val = _pad_target(masked_strip_target(chroma[:, :, first:], val_cols)[None], multiple)
        if cfg["loss"] == "cls":
            # soft targets once, here, rather than on every batch (ChromaClassLoss.encode)
            y_bank, y_val = loss.encode(y_bank), loss.encode(y_val)

        optimizer = Adam(model, lr=cfg["lr"])
        schedule = (ReduceLROnPlateau(optimizer, factor=0.5, patience=cfg["plateau"])
                    if cfg["plateau"] > 0 else None)
        try:
            self.history = fit(
                model, loss, optimizer, x_bank, y_bank,
                epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                x_val=x_val, y_val=y_val, patience=cfg["patience"], seed=self.seed,
                augment=make_augment(crop_h, crop_w), progress=self.progress, schedule=schedule,
                ema_decay=cfg["ema_decay"] or None,
            )
        except NNError as exc:
            raise UsageError(str(exc)) from exc
        self.model = model
        self.model.eval()
        if cfg["propagate"] == "auto":
            self._strip_for_choice = (rgb, gray, chroma, train_w)
        self.fit_seconds = time.perf_counter() - started
        if self.save_path is not None:
            self.save(self.save_path)
        return self

    # -- colourizing -----------------------------------------------------------------------
    def predict_chroma(self, gray, left=None):
        """(h, w) gray at the working size -> (h, w, 2) float32 chroma on the host.

        ``left``: (h, wl, 3) colours of the image just left of ``gray`` at the same scale
        (the protocol's training half), propagated into the prediction; or None.
        """
        xp = self.xp
        chroma = self._network_chroma(gray)
        gray = xp.asarray(gray, dtype=np.float32)
        if left is not None and self.propagate_strength > 0:
            chroma = propagate_from_left(xp.asarray(left), gray, chroma, self.propagate_strength)
        elif self.config["refine"] > 0:
            chroma = smooth_chroma(gray, chroma, self.config["refine"])
        return to_numpy(chroma).astype(np.float32)

    def _network_chroma(self, gray):
        """(h, w) gray -> (h, w, 2) chroma as the network says (flip-averaged, decoded and
        scaled by ``saturation``), on the agent's device."""
        cfg = self.config
        xp = self.xp
        x = xp.asarray(input_planes(np.asarray(to_numpy(gray), dtype=np.float32), cfg["rows"],
                                    self.prior_table, cfg["context"])[None])
        multiple = size_multiple(cfg["arch"])
        out = predict_tiled(self.model, x, multiple)
        if cfg["flip_average"]:
            # Test-time augmentation: the network was trained on left-right flips, so the
            # flipped view is an equally valid guess; averaging the two reduces variance.
            flipped = predict_tiled(self.model, xp.ascontiguousarray(x[..., ::-1]), multiple)
            out = (out + flipped[..., ::-1]) * np.float32(0.5)
        if cfg["loss"] == "cls":
            out = self.bins.annealed_mean(out, cfg["temperature"])
        else:
            out = out * np.float32(REGRESSION_SCALE)
        return out[0].transpose(1, 2, 0) * np.float32(cfg["saturation"])

    def _choose_propagation(self, rgb, gray, chroma, train_w):
        """The strength of ``PROPAGATE_GRID`` that best continues the training columns of
        (H, W, 3) ``rgb`` (gray (H, W), chroma (2, H, W)) into its validation strip (columns
        ``train_w:``).

        The strip plays the test half: the network's chroma there is propagated from the
        training columns' true colours at each strength and compared with the strip's true
        chroma (mean squared error). Returns ``(strength, {strength: error})``.
        """
        xp = self.xp
        guess = xp.ascontiguousarray(self._network_chroma(gray)[:, train_w:])
        truth = xp.asarray(chroma[:, :, train_w:].transpose(1, 2, 0))
        known = xp.asarray(rgb[:, :train_w], dtype=np.float32)
        strip_gray = xp.asarray(gray[:, train_w:], dtype=np.float32)
        # the strongest solves take seconds each: without a bar the terminal sits blank
        strengths = with_progress(PROPAGATE_GRID, self.progress,
                                  desc="choosing the propagation strength", unit="solve")
        errors = {}
        for strength in strengths:
            if strength == 0 and self.config["refine"] > 0:
                # strength 0 colours with the ``refine`` smoothing instead (predict_chroma)
                solved = smooth_chroma(strip_gray, guess, self.config["refine"])
            else:
                solved = propagate_from_left(known, strip_gray, guess, strength)
            errors[strength] = float(((solved - truth) ** 2).mean())
        return min(errors, key=errors.get), errors

    def colorize(self, gray, left=None):
        """(H, W) gray on 0..255 -> (H, W, 3) float32 RGB whose gray is ``gray``.

        The chroma is predicted at :func:`working_shape` (the training image's pixel count at
        most), upsampled bilinearly to (H, W) and combined with the full-resolution gray.
        ``left``: optional (H, Wl, 3) colour image lying just left of ``gray`` (under the
        protocol, the training half), whose colours are propagated into the prediction
        (``propagate``); it is resized to the working scale with the gray.
        """
        if self.model is None:
            raise RuntimeError("colorize called before fit or load")
        gray = np.asarray(to_numpy(gray), dtype=np.float32)
        if gray.ndim != 2:
            raise ValueError(f"colorize needs an (H, W) gray image, got shape {gray.shape}")
        if gray.size == 0:
            raise ValueError(f"colorize needs a non-empty gray image, got shape {gray.shape}")
        check_0_255(gray, "the gray image to colour", dark_ok=True)
        h, w = gray.shape
        small_h, small_w = working_shape(gray.shape, self.train_pixels)
        small = resize_planes(gray, small_h, small_w)
        if left is not None:
            left = np.asarray(to_numpy(left))
            if left.ndim != 3 or left.shape[2] != 3 or left.shape[0] != h or left.shape[1] < 1:
                raise ValueError(f"left must be an (H, W, 3) colour image as tall as the gray "
                                 f"({h} rows), got shape {left.shape}")
            check_0_255(left, "left")  # before the cast: uint8 0s and 1s are not a 0..1 image
            left = left.astype(np.float32)
            left = resize_planes(left, small_h, max(1, int(round(left.shape[1] * small_h / h))))
        chroma = self.predict_chroma(small, left)
        out = np.empty((h, w, 3), dtype=np.float32)
        if (small_h, small_w) == (h, w):
            out[...] = chroma_to_rgb(gray, chroma)
            return out
        full = resize_planes(chroma, h, w)
        for top in range(0, h, ROW_BAND):
            band = slice(top, min(h, top + ROW_BAND))
            out[band] = chroma_to_rgb(gray[band], full[band])
        return out

    def training_output(self, left_rgb):
        """The protocol shows the training half as it is."""
        return np.array(to_numpy(left_rgb), dtype=np.float32)  # a copy: not the caller's array

    def summary(self):
        """JSON-safe configuration, model size and the training curves."""
        info = {
            "config": dict(self.config),
            "seed": self.seed,
            "pretrained": self.pretrained,
            "parameters": None if self.model is None else self.model.num_parameters(),
            "bins": None if self.bins is None else self.bins.n_bins,
            "train_pixels": self.train_pixels,
            # not chosen (None) when nothing asked for it: see propagate_strength
            "propagate_strength": self._propagate_strength,
        }
        if self.propagate_errors is not None:
            info["propagate_strip_mse"] = {f"{k:g}": v for k, v in self.propagate_errors.items()}
        if self.history is not None:
            hist = self.history
            info["training"] = {
                "train_loss": [float(v) for v in hist["train_loss"]],
                "val_loss": [float(v) for v in hist["val_loss"]],
                "best_epoch": hist["best_epoch"],
                "epochs_run": hist["epochs_run"],
                "stopped_early": hist["stopped_early"],
                "seconds": self.fit_seconds,
            }
        return info

    # -- model files -----------------------------------------------------------------------
    def save(self, path):
        """Write network weights, chroma bins and configuration to ``path`` (.npz), atomically."""
        if self.model is None:
            raise RuntimeError("nothing to save: the agent has not been trained")
        arrays = {f"model/{k}": to_numpy(v) for k, v in self.model.state_dict().items()}
        if self.bins is not None:
            arrays.update({f"bins/{k}": v for k, v in self.bins.state().items()})
        if self.prior_table is not None:
            arrays["prior/table"] = self.prior_table
        return write_model_file(path, arrays, {"config": self.config,
                                               "train_pixels": self.train_pixels,
                                               "propagate_strength": self.propagate_strength})

    @classmethod
    def load(cls, path, seed=0, device="auto", progress=False, **decoding):
        """An agent with the network saved by :meth:`save` at ``path``; ``fit`` then keeps it.

        ``decoding`` may change ``temperature``, ``saturation``, ``refine``, ``propagate`` and
        ``flip_average``, and may repeat the architecture keys only with the saved values;
        training settings (``epochs``, ``lr``, ...) raise ValueError, since the model is not
        trained again. With ``propagate`` ``"auto"`` the strength chosen when the model was
        trained is used. Every problem with the file raises :class:`nn.cli.UsageError` with one
        sentence naming the file.
        """
        path = os.fspath(path)
        training = sorted(set(decoding) & set(DEFAULTS) - set(DECODING_KEYS)
                          - set(ARCHITECTURE_KEYS))
        if training:
            raise ValueError(f"{', '.join(training)} cannot be given to load: a loaded model is "
                             f"not trained again; it takes {', '.join(DECODING_KEYS)}")
        replaced = {k: v for k, v in decoding.items() if k in DECODING_KEYS}
        check_config({**DEFAULTS, **replaced})  # the caller's own values: a ValueError
        arrays, meta = read_model_file(path, replaced)
        config = meta["config"]
        for key, value in decoding.items():
            if key in ARCHITECTURE_KEYS and value != config.get(key):
                raise UsageError(f"model file {path} was trained with {key} {config.get(key)!r}, "
                                 f"not {value!r}; leave --{key.replace('_', '-')} out or retrain")
        agent = cls(seed=seed, device=device, progress=progress,
                    **{**{k: v for k, v in config.items() if k in DEFAULTS}, **decoding})
        try:
            if agent.config["loss"] == "cls":
                agent.bins = ChromaBins.from_state(section(arrays, "bins"))
                out_channels = agent.bins.n_bins
            else:
                out_channels = 2
            if agent.config["prior"]:
                agent.prior_table = arrays["prior/table"].astype(np.float32)
                if agent.prior_table.shape != (256, 2):
                    raise ValueError(f"prior table has shape {agent.prior_table.shape}")
            in_channels = input_channels(agent.config["rows"], agent.config["prior"],
                                         agent.config["context"])
            agent.model = build_model(agent.config["arch"], in_channels, out_channels,
                                      agent.config["width"], agent.seed)
            agent.model.load_state_dict(section(arrays, "model"))
        except (KeyError, ValueError, TypeError, StateDictError) as exc:
            raise UsageError(f"model file {path} does not fit the architecture it names "
                             f"({agent.config['arch']}, loss {agent.config['loss']}): "
                             f"{first_line(exc)}") from None
        agent.model.to(device)
        agent.model.eval()
        agent.train_pixels = int(meta["train_pixels"])
        if agent.propagate_strength is None:
            # "auto": the strength chosen on the strip of the photo the model was trained on
            # (a file without one predates the choice and gets the strongest)
            chosen = meta.get("propagate_strength")
            agent.propagate_strength = PROPAGATE_GRID[-1] if chosen is None else float(chosen)
        agent.pretrained = True
        return agent


def _floor_to_multiple(n, multiple):
    """The largest multiple of ``multiple`` not above ``n`` (at least ``multiple``)."""
    return max(multiple, n - n % multiple)


def _pad_at_least(planes, size):
    """Edge-replicate (C, H, W) ``planes`` at the bottom and right to at least size x size
    (a photo just above the protocol's minimum is narrower than the U-Net's smallest input)."""
    h, w = planes.shape[1:]
    if h >= size and w >= size:
        return planes
    return np.pad(planes, ((0, 0), (0, max(0, size - h)), (0, max(0, size - w))), mode="edge")


def _pad_target(target, multiple):
    """Pad (N, 2, H, W) targets like :func:`pad_to_multiple` pads inputs, with NaN (not scored)."""
    h, w = target.shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return target
    return np.pad(target, ((0, 0), (0, 0), (0, ph), (0, pw)), constant_values=np.nan)


# -- command line ----------------------------------------------------------------------------
def _number_in(low, high):
    """argparse type: a number in [low, high]."""
    wanted = f"a number from {low:g} to {high:g}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not (low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


_strength_or_auto = auto_or(_number_in(0.0, MAX_STRENGTH),
                            f"a number from 0 to {MAX_STRENGTH:g}")
"""argparse type: ``auto`` (any case) or a strength from 0 to ``MAX_STRENGTH``."""


def build_improved_parser():
    """The common options plus the improved agent's own."""
    parser = build_parser("improved", __doc__.split("\n\n")[0], DEFAULT_MAX_SIDE)
    # None until make_agent: a loaded model ignores --max-side, and only a size the user gave
    # deserves the note that says so
    parser.set_defaults(max_side=None)
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"at most this many passes over the crop bank; early stopping "
                             f"may end training sooner (default: {DEFAULTS['epochs']})")
    parser.add_argument("--save-model", metavar="F", help="write the trained model to F (.npz)")
    parser.add_argument("--load-model", metavar="F",
                        help="colourize with the model saved in F instead of training")
    parser.add_argument("--whole", action="store_true",
                        help="with --load-model: colour the whole IMAGE from its gray, even when "
                             "it has colours (a sepia or tinted print); they are only used for "
                             "the scores. A gray IMAGE is coloured whole without it")
    parser.add_argument("--arch", choices=ARCHITECTURES, default=None,
                        help=f"network (default: {DEFAULTS['arch']})")
    parser.add_argument("--loss", choices=LOSSES, default=None,
                        help=f"cls = chroma-bin classification, else regression "
                             f"(default: {DEFAULTS['loss']})")
    parser.add_argument("--temperature", type=_number_in(MIN_TEMPERATURE, MAX_TEMPERATURE),
                        default=None,
                        help=f"annealed-mean temperature for --loss cls, {MIN_TEMPERATURE:g} "
                             f"to {MAX_TEMPERATURE:g}: lower is more vivid "
                             f"(default: {DEFAULTS['temperature']})")
    parser.add_argument("--saturation", type=_number_in(0.0, MAX_SATURATION), default=None,
                        help=f"scale of the predicted chroma, 0 to {MAX_SATURATION:g} "
                             f"(default: {DEFAULTS['saturation']})")
    parser.add_argument("--refine", type=_number_in(0.0, MAX_STRENGTH), default=None,
                        help=f"strength of gray-guided edge-aware smoothing when no colours "
                             f"are known, 0 (off) to {MAX_STRENGTH:g} "
                             f"(default: {DEFAULTS['refine']})")
    parser.add_argument("--propagate", type=_strength_or_auto, default=None, metavar="S|auto",
                        help="strength with which the left half's known colours spread into "
                             "the right half (protocol only), 0 = off; auto = the best of "
                             f"{', '.join(f'{v:g}' for v in PROPAGATE_GRID)} on the validation "
                             f"strip (default: {DEFAULTS['propagate']}; with --load-model, "
                             "auto is the strength chosen when the model was trained)")
    return parser


def make_agent(args, device):
    """The agent the parsed arguments describe (trained later by the CLI, or loaded now)."""
    given_max_side = args.max_side
    if args.max_side is None:
        args.max_side = DEFAULT_MAX_SIDE
    chosen = {k: getattr(args, k) for k in ("epochs", "arch", "loss", "temperature",
                                             "saturation", "refine", "propagate")
              if getattr(args, k) is not None}
    if args.reference and args.propagate is not None:
        use = ("only sets the strength saved with --save-model" if args.save_model
               else "is ignored")
        notice(args, "note: --propagate spreads known colours of the left half under the "
                     "left/right protocol; with --reference no colours of IMAGE are known, "
                     f"so it {use}")
    if args.save_model:
        check_save_path(args.save_model, input_files(args), output_paths(args, "improved").values())
    if args.whole and not (args.load_model or args.reference):
        raise UsageError("--whole colours IMAGE whole with a model given by --load-model; to "
                         "learn from another photo and colour IMAGE whole, give --reference")
    if args.whole and args.reference:
        notice(args, "note: --reference always colours the whole IMAGE; --whole changes nothing")
    if args.load_model:
        if chosen.pop("epochs", None) is not None:
            raise UsageError("--epochs does not apply with --load-model: the loaded model is "
                             "used as it is, not trained again")
        if args.reference:
            raise UsageError("--reference does not apply with --load-model: the loaded model is "
                             "used as it is, not trained on the reference")
        if given_max_side is not None:
            notice(args, "note: --max-side sets the size a network trains at; the loaded model "
                         "works at the size it was trained at, so it is ignored")
        agent = ImprovedAgent.load(args.load_model, seed=args.seed, device=device,
                                   progress=show_progress(args), **chosen)
        agent.save_path = args.save_model
    else:
        agent = ImprovedAgent(seed=args.seed, device=device, progress=show_progress(args),
                              save_path=args.save_model, **chosen)
    if args.temperature is not None and agent.config["loss"] != "cls":
        notice(args, "note: --temperature sets how class scores are decoded (--loss cls); "
                     f"this network regresses chroma (--loss {agent.config['loss']}), so it is "
                     "ignored")
    return agent


if __name__ == "__main__":
    sys.exit(main(build_improved_parser(), "improved", make_agent))
