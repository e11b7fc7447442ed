"""The report's experiments: both agents, the baselines and two bounds on every photo.

Each photo is first brought to the report's working size (longer side ``max_side``), then
run under the coursework protocol: the left half trains, the right half's gray is coloured,
and only the right half is scored against its true colours. Every method gets the same
photo, the same working size and the same seed.

What is run on each photo (``METHODS`` names them):

- the three baselines of :mod:`colorize.metrics` (gray, mean chroma, gray lookup);
- the basic agent with 5 colours (the coursework's setting) and with ``colors="auto"``;
- the improved agent with its default settings (``ImprovedAgent``);
- ``palette5``: the best any 5-colour output could do. k-means with 5 colours is fitted on
  the right half's *own* true pixels and every right pixel is replaced by its nearest palette
  colour. k-means minimises the summed squared RGB error, so this is the lowest RMSE (highest
  PSNR) reachable by an output that uses 5 colours, up to k-means finding a local optimum; it
  is a bound for RMSE and PSNR, not for SSIM or CIEDE2000, which k-means does not optimise;
- ``basic_true_gray``: the basic agent's prediction with its gray replaced by the true gray
  (its chroma kept, :func:`colorize.color.chroma_to_rgb`): a post-processing step the
  coursework's agent does not have, measured to show what the palette's wrong brightness
  costs;
- ``basic_palette``: the basic agent's own palette (learnt on the left) with a perfect vote,
  i.e. every right pixel given the palette colour nearest its true colour. The gap between
  this and the basic agent is what the patch vote loses; the gap between this and
  ``palette5`` is what learning the palette on the other half loses.

For the bonus question the validation curve that ``colors="auto"`` computes (left half only)
is kept together with the hindsight curve: the same sweep over k trained on the whole left
half and scored on the right half, which no agent may look at when choosing.

Outputs are rounded to uint8 before scoring, as they would be in a PNG file. Besides the
scores of :func:`colorize.metrics.score`, each method gets two diagnostics (``diagnostics``):
``gray_rmse``, the RMSE between the output's gray and the true gray (what the output gets
wrong in brightness alone), and ``de_saturated`` / ``de_rest``, the mean CIEDE2000 over the
``SATURATED_FRACTION`` most saturated true pixels (largest chroma) and over the others.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.basic import AUTO_COLORS, COLORS, BasicAgent, color_sweep, palette_labels
from agents.improved import ImprovedAgent
from colorize.color import chroma_to_rgb, rgb_to_chroma, rgb_to_gray
from colorize.halves import (ProtocolError, check_protocol_size, compose_halves, left_half_is_gray,
                             protocol_inputs, resize_halves)
from colorize.io import is_grayscale, max_side_size, read_rgb
from colorize.kmeans import kmeans
from colorize.metrics import baseline_predictions, error_map_de2000, score
from nn.backend import describe_device, resolve_device
from nn.bench import blas_threads

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")

METHODS = (
    ("gray", "baseline: gray (no colour)"),
    ("mean_chroma", "baseline: mean chroma of the left half"),
    ("gray_lookup", "baseline: mean chroma per gray level"),
    ("basic", f"basic agent, {COLORS} colours"),
    ("basic_auto", "basic agent, --colors auto"),
    ("basic_true_gray", "basic agent's colours on the true gray"),
    ("improved", "improved agent"),
    ("basic_palette", "bound: basic agent's palette, perfect vote"),
    ("palette5", f"bound: best {COLORS}-colour palette of the right half"),
)
"""(key, label) of every scored method, in table order."""
LABELS = dict(METHODS)
"""Method key -> its label."""

BOUND_COLORS = COLORS
"""The palette bound has as many colours as the basic agent it bounds."""
SATURATED_FRACTION = 0.1


@dataclass
class Settings:
    """What the report runs with.

    ``improved_options`` are passed to ``ImprovedAgent`` on top of its defaults (empty for
    the full report: the report shows what a user gets).
    """

    max_side: int = 256
    seed: int = 0
    device: str = "auto"
    improved_options: dict = field(default_factory=dict)


@dataclass
class PhotoRun:
    """Everything measured on one photo; images are uint8 NumPy arrays."""

    name: str
    original_size: tuple
    rgb: np.ndarray
    outputs: dict = field(default_factory=dict)
    right_predictions: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    basic: dict = field(default_factory=dict)
    auto: dict = field(default_factory=dict)
    improved: dict | None = None

    @property
    def size(self):
        """(height, width) at the working size."""
        return self.rgb.shape[:2]

    @property
    def right(self):
        return self.rgb[:, self.rgb.shape[1] // 2:]


def find_photos(folder):
    """The photos in ``folder``, sorted by name: its files (not sub-folders) named .png or
    .jpg."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in PHOTO_SUFFIXES and not p.is_dir())


def load_photo(path, max_side):
    """(rgb at the working size, original (height, width)) of a photo the report can use.

    Raises ProtocolError for a photo whose working size is below the protocol's minimum or
    whose left half is gray (it has no colour to learn from, and colour scores would divide
    by zero), and ImageError for a file that cannot be read.
    """
    rgb = read_rgb(path)
    size = max_side_size(rgb.shape, max_side)
    check_protocol_size(rgb.shape if size is None else size)
    small = rgb if size is None else resize_halves(rgb, size)
    if left_half_is_gray(rgb):
        raise ProtocolError(f"{'a gray photo' if is_grayscale(rgb) else 'its left half is gray'}; "
                            "the report needs colour photos, since both agents learn from the "
                            "left half's colours")
    return np.ascontiguousarray(small), rgb.shape[:2]


def _as_uint8(image):
    return np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)


def _saturated_mask(right):
    """True for the ``SATURATED_FRACTION`` of pixels with the largest true chroma (by rank,
    ties in pixel order, so a flat image still marks that fraction, not every pixel)."""
    magnitude = np.hypot(*np.moveaxis(rgb_to_chroma(right), -1, 0)).ravel()
    count = max(1, int(math.ceil(SATURATED_FRACTION * magnitude.size)))
    mask = np.zeros(magnitude.size, dtype=bool)
    mask[np.argsort(magnitude, kind="stable")[magnitude.size - count:]] = True
    return mask.reshape(right.shape[:2])


def _record(run, key, right_prediction):
    prediction = _as_uint8(right_prediction)
    run.right_predictions[key] = prediction
    run.scores[key] = score(run.right, prediction)
    errors = error_map_de2000(run.right, prediction)
    saturated = _saturated_mask(run.right)
    gray_error = rgb_to_gray(prediction).astype(np.float64) - rgb_to_gray(run.right)
    run.diagnostics[key] = {
        "gray_rmse": float(np.sqrt(np.mean(gray_error**2))),
        "de_saturated": float(errors[saturated].mean()),
        "de_rest": float(errors[~saturated].mean()) if (~saturated).any() else float("nan"),
    }


def _run_basic(run, left, right_gray, settings):
    agent = BasicAgent(colors=COLORS, seed=settings.seed, device=settings.device)
    start = time.perf_counter()
    agent.fit(left)
    fitted = time.perf_counter()
    prediction = agent.colorize(right_gray)
    run.seconds["basic"] = {"fit": fitted - start, "colorize": time.perf_counter() - fitted}
    _record(run, "basic", prediction)
    _record(run, "basic_true_gray", chroma_to_rgb(right_gray, rgb_to_chroma(prediction)))
    run.outputs["basic"] = _as_uint8(compose_halves(agent.training_output(left), prediction))
    run.basic = agent.summary()

    right_pixels = run.right.reshape(-1, 3).astype(np.float32)
    centers = np.asarray(agent.centers)
    perfect = centers[np.asarray(palette_labels(right_pixels, centers))]
    _record(run, "basic_palette", perfect.reshape(run.right.shape))


def _run_basic_auto(run, left, right_gray, settings):
    agent = BasicAgent(colors="auto", seed=settings.seed, device=settings.device)
    start = time.perf_counter()
    agent.fit(left)
    fitted = time.perf_counter()
    prediction = agent.colorize(right_gray)
    run.seconds["basic_auto"] = {"fit": fitted - start, "colorize": time.perf_counter() - fitted}
    _record(run, "basic_auto", prediction)
    curve = agent.summary()["auto"]
    start = time.perf_counter()
    hindsight = color_sweep(left, run.right, AUTO_COLORS, seed=settings.seed)
    run.seconds["hindsight_sweep"] = {"fit": time.perf_counter() - start, "colorize": 0.0}
    run.auto = {**curve, "hindsight_rmse": hindsight}


def _run_palette_bound(run, settings):
    pixels = run.right.reshape(-1, 3).astype(np.float32)
    centers, labels = kmeans(pixels, BOUND_COLORS, seed=settings.seed)
    _record(run, "palette5", np.asarray(centers)[np.asarray(labels)].reshape(run.right.shape))


def _run_improved(run, left, right_gray, settings):
    agent = ImprovedAgent(seed=settings.seed, device=settings.device, **settings.improved_options)
    start = time.perf_counter()
    agent.fit(left)
    fitted = time.perf_counter()
    known = {"left": left} if agent.uses_left_colours else {}
    prediction = agent.colorize(right_gray, **known)
    run.seconds["improved"] = {"fit": fitted - start, "colorize": time.perf_counter() - fitted}
    _record(run, "improved", prediction)
    run.outputs["improved"] = _as_uint8(compose_halves(agent.training_output(left), prediction))
    run.improved = agent.summary()


def run_photo(path, photo, settings, log=print):
    """Run every method on one photo, ``photo`` as :func:`load_photo` gives it; ``log``
    receives one line per step."""
    rgb, original_size = photo
    run = PhotoRun(name=Path(path).stem, original_size=original_size, rgb=rgb)
    left, right_gray, _ = protocol_inputs(rgb)
    h, w = run.size
    tag = f"{run.name} ({w}x{h})"

    start = time.perf_counter()
    for key, prediction in baseline_predictions(left, right_gray).items():
        _record(run, key, prediction)
    run.seconds["baselines"] = {"fit": time.perf_counter() - start, "colorize": 0.0}
    log(f"{tag}: baselines scored")

    _run_basic(run, left, right_gray, settings)
    log(f"{tag}: basic agent, {COLORS} colours, {sum(run.seconds['basic'].values()):.1f} s")
    _run_basic_auto(run, left, right_gray, settings)
    log(f"{tag}: basic agent, --colors auto chose k = {run.auto['chosen']}; hindsight sweep done")
    _run_palette_bound(run, settings)
    log(f"{tag}: {BOUND_COLORS}-colour palette bound scored")

    _run_improved(run, left, right_gray, settings)
    log(f"{tag}: improved agent, {sum(run.seconds['improved'].values()):.1f} s")
    return run


def device_description(settings):
    """The device in words; on the CPU with the BLAS thread count, since matrix products
    summed by another number of threads round differently (see the report's header)."""
    device = resolve_device(settings.device)
    text = describe_device(device)
    if device == "cpu":
        threads = blas_threads()
        text += f", {threads} BLAS thread{'' if threads == 1 else 's'}"
    return text
