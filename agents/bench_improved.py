"""Benchmark of the improved agent's variants on natural photos (the report shows the result).

``python -m agents.bench_improved [--photos all|bundled] [--variants NAME ...] [--width 256]
[--out FILE.json] [--no-basic] [--no-mlp] [--only STEM ...]
[--set KEY=VALUE ...] [--seeds S ...]``
``python -m agents.bench_improved --merge A.json B.json --out report/data/improved_variants.json``

For every photo, resized to ``--width`` pixels wide with Pillow's Lanczos filter, under the
left/right protocol (train on the left half, score the right half), it runs:

- every improved-agent variant of ``--variants`` (architecture x loss x options of
  ``VARIANTS``; all of them by default), seed 0, except ``default`` (the agent's defaults),
  which runs once with each seed of ``--seeds`` (default: 0; a seed N other than 0 is named
  ``improved:default, seed N``): one photo's half is little data, and the spread between
  seeds says how much of a difference between variants is chance;
- the basic agent (k-means palette + 3x3-patch kNN vote);
- the three baselines of :mod:`colorize.metrics` (gray, mean chroma, per-gray lookup);
- the calibration point of the improved agent's quality target: scikit-learn's
  ``MLPRegressor`` (two hidden layers of 64) fed 7x7 gray patches plus coarse context (the mean gray of 32x32 and 96x96 boxes around
  the pixel), regressing the gray-preserving chroma; trained on 20 000 left-half pixels.

Each variant trained with seed 0 is also re-decoded (same weights): with the annealed-mean temperatures
``TEMPERATURES`` (classification), without flip averaging, and without the propagation of
the left half's colours (then with and without the weak edge-aware refinement).

It writes per photo and variant the right-half scores (RMSE, PSNR, SSIM, CIEDE2000,
colourfulness and the truth's), the seconds, and, for the agent variants, the training
curves, as JSON. Outputs are quantised to uint8 before scoring, as the command line does.

Photos: the bundled ``images/*.png``, plus (``--photos all``) the other natural colour
photos that ship with scikit-image and matplotlib (motorcycle, Grace Hopper), read from their
installed sample-data folders (no download). The Hubble deep field is left out: it is nearly
colourless (colourfulness about 5), so its colourfulness ratio says nothing. scikit-learn and these
sample folders are used here only, never at run time.

Timings are noisy on a shared machine: compare seconds within one run of this script.

Every setting is checked before the first photo is trained on (``--set`` keys and values are
the agent's own checks, ``--only`` must name photos of the list, ``--out`` must be writable).
While it runs, the results of the photos done so far are saved after each photo in
``<out>.partial`` (JSON of the same form, which ``--merge`` accepts), and ``--out`` is
replaced only once every photo is done, then the ``.partial`` file is removed. So an
interrupted or failed run leaves an earlier ``--out`` as it was, and its finished photos in
``<out>.partial``. A run refuses to start while such a file is there (it would write over it):
join it with ``--merge`` or remove it first. The list options (``--variants``, ``--only``,
``--set``, ``--seeds``, ``--merge``) add up when repeated; ``--merge`` refuses the options that
shape a run, which it could only ignore.

``--merge`` joins files of the same photo width and BLAS thread count whose variants of the same
name have the same settings (the agent's defaults included) and whose photos of the same name
are the same pixels (the same size and baseline scores); anything else is refused, with what
differs.

``--out`` defaults to ``data/improved_variants.json`` in ``python -m report``'s default folder,
where the report reads it: ``report/data/`` of the project in a checkout,
``colorize-report/data/`` after a regular install.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from agents.improved import ImprovedAgent
from agents.improved_settings import DEFAULTS
from colorize.bench_neighbors import bench_width
from colorize.bench_neighbors import load_photo as load_resized
from colorize.bundled import bundled_images_dir
from colorize.color import chroma_to_rgb, rgb_to_chroma, rgb_to_gray
from colorize.halves import split_halves
from colorize.io import (ImageError, OutputError, ensure_output_file, folders_removed_on_failure,
                         write_json)
from colorize.metrics import baseline_predictions, score
from nn.bench import blas_threads
from nn.cli import OneLineParser, UsageError, non_negative_int, run_command
from report import DEFAULT_OUT as REPORT_OUT
from report import RECORDED_DATA

DEFAULT_OUT = REPORT_OUT / RECORDED_DATA / "improved_variants.json"
"""Where ``python -m report`` reads it (its default folder's ``data/``)."""

VARIANTS = {
    "unet-l2-prior": {"arch": "unet", "loss": "l2", "prior": True, "context": False},
    "unet-l2": {"arch": "unet", "loss": "l2", "prior": False, "context": False},
    "unet-l2-prior-context": {"arch": "unet", "loss": "l2", "prior": True, "context": True},
    "unet-cls-prior-T0.38": {"arch": "unet", "loss": "cls", "prior": True, "context": False,
                             "temperature": 0.38},
    "dilated-l2-prior": {"arch": "dilated", "loss": "l2", "prior": True, "context": False},
    "unet-cls-prior-ema0.95": {"arch": "unet", "loss": "cls", "prior": True, "context": False,
                               "ema_decay": 0.95},
}
"""Variants: architecture x loss x inputs, each on top of the agent's defaults (flip averaging
and propagation as the defaults say; the re-decodings show them off)."""
TEMPERATURES = (0.38, 0.5, 0.7, 1.0)
DEFAULT_VARIANTS = ("default",) + tuple(
    name for name, options in VARIANTS.items()
    if any(DEFAULTS.get(k) != v for k, v in options.items()))
"""What runs without ``--variants``: the defaults, and every variant that differs from them."""


def extra_photo_paths():
    """Natural colour photos shipped inside scikit-image and matplotlib, where installed."""
    paths = []
    try:
        import skimage

        folder = Path(skimage.__file__).parent / "data"
        paths.append(folder / "motorcycle_left.png")
    except ImportError:
        pass
    try:
        import matplotlib

        paths.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    except ImportError:
        pass
    return [p for p in paths if p.exists()]


def load_photo(path, width):
    """RGB uint8 resized to ``width`` pixels wide (aspect kept, at least 8 rows, Lanczos)."""
    return load_resized(path, width, Image.Resampling.LANCZOS)


def quantize(rgb):
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _clean(scores):
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in scores.items()}


def _decodings(agent):
    """``(name, changes)`` of the decodings tried on an already trained agent (no retraining
    needed): each changes some of the agent's own settings (``propagate``: the strength in
    use, which ``auto`` chose)."""
    temps = TEMPERATURES if agent.config["loss"] == "cls" else ()
    no_propagation = {"propagate": 0.0}
    return ([(f"temperature {t:g}", {"temperature": t}) for t in temps]
            + [("no flip averaging", {"flip_average": False}),
               ("no propagation", no_propagation),
               ("no propagation, no refinement", {**no_propagation, "refine": 0.0}),
               ("no propagation, no refinement, no flip averaging",
                {**no_propagation, "refine": 0.0, "flip_average": False})])


def run_improved(rgb, options, seed=0, redecode=True):
    """Train one variant, colourize the right half with its own settings, then (``redecode``)
    re-decode the same network with the settings of :func:`_decodings`."""
    left, right = split_halves(rgb)
    agent = ImprovedAgent(seed=seed, device="cpu", **options)
    start = time.perf_counter()
    agent.fit(left)
    right_gray = rgb_to_gray(right)
    pred = agent.colorize(right_gray, left=left)
    seconds = time.perf_counter() - start
    out = quantize(pred)
    gray_err = float(np.abs(rgb_to_gray(pred) - right_gray).max())
    info = agent.summary()
    chosen, strength = dict(agent.config), agent.propagate_strength
    decodings = {}
    for name, changes in _decodings(agent) if redecode else ():
        changes = dict(changes)
        agent.propagate_strength = changes.pop("propagate", strength)
        agent.config.update(changes)
        scores = score(right, quantize(agent.colorize(right_gray, left=left)))
        decodings[name] = {
            k: scores[k] for k in ("psnr", "ssim", "delta_e2000", "colorfulness")}
        agent.config.update(chosen)
        agent.propagate_strength = strength
    return {**_clean(score(right, out)), "seconds": seconds, "max_gray_error": gray_err,
            "training": info.get("training"), "bins": info["bins"],
            "parameters": info["parameters"], "propagate_strength": info["propagate_strength"],
            "decodings": decodings}


def run_basic(rgb):
    from agents.basic import BasicAgent

    left, right = split_halves(rgb)
    start = time.perf_counter()
    agent = BasicAgent(seed=0, device="cpu").fit(left)
    pred = agent.colorize(rgb_to_gray(right))
    return {**_clean(score(right, quantize(pred))), "seconds": time.perf_counter() - start}


def _box_mean(gray, size):
    """Mean of ``gray`` over a size x size box around each pixel (edge-replicated), via
    an integral image."""
    r = size // 2
    padded = np.pad(gray.astype(np.float64), r + 1, mode="edge")
    integral = padded.cumsum(0).cumsum(1)
    h, w = gray.shape
    a = integral[size:size + h, size:size + w]
    b = integral[:h, size:size + w]
    c = integral[size:size + h, :w]
    d = integral[:h, :w]
    return (a - b - c + d) / (size * size)


def mlp_features(gray):
    """(H, W) gray -> (H*W, 49 + 2): 7x7 patch and two coarse box means, scaled to ~unit."""
    padded = np.pad(gray, 3, mode="edge")
    h, w = gray.shape
    patches = np.stack([padded[i:i + h, j:j + w] for i in range(7) for j in range(7)], axis=-1)
    context = np.stack([_box_mean(gray, 32), _box_mean(gray, 96)], axis=-1)
    return (np.concatenate([patches, context], axis=-1).reshape(h * w, -1) - 127.5) / 64.0


def run_mlp(rgb, samples=20000):
    from sklearn.neural_network import MLPRegressor

    left, right = split_halves(rgb)
    start = time.perf_counter()
    x = mlp_features(rgb_to_gray(left).astype(np.float64))
    y = rgb_to_chroma(left).reshape(-1, 2).astype(np.float64)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(x), size=min(samples, len(x)), replace=False)
    mlp = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=200, early_stopping=True,
                       random_state=0)
    mlp.fit(x[idx], y[idx] / 32.0)
    gray = rgb_to_gray(right).astype(np.float64)
    chroma = mlp.predict(mlp_features(gray)).reshape(gray.shape + (2,)) * 32.0
    pred = chroma_to_rgb(gray, chroma)
    return {**_clean(score(right, quantize(pred))), "seconds": time.perf_counter() - start}


def run_baselines(rgb):
    left, right = split_halves(rgb)
    preds = baseline_predictions(left, rgb_to_gray(right))
    return {name: _clean(score(right, quantize(p))) for name, p in preds.items()}


def _mean(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def summarize(results):
    """Add ``results["mean"]``: per agent or baseline, the mean over photos of PSNR, SSIM,
    CIEDE2000, colourfulness ratio (output / truth) and seconds."""
    photos = results["photos"].values()
    names = sorted({n for e in photos for n in e["agents"]}
                   | {f"base:{b}" for e in photos for b in e["baselines"]})
    summary = {}
    for name in names:
        rows = []
        for e in photos:
            r = e["baselines"].get(name[5:]) if name.startswith("base:") else e["agents"].get(name)
            if r is not None:
                ratio = r["colorfulness"] / max(r["colorfulness_true"], 1e-9)
                rows.append({**r, "colour_ratio": ratio})
        summary[name] = {k: _mean(rows, k)
                         for k in ("psnr", "ssim", "delta_e2000", "colour_ratio", "seconds")}
        # the photos the row covers (a mean leaves out a null score: an exact result's PSNR)
        summary[name]["photos"] = len(rows)
    results["mean"] = summary
    return results


def _shown(value, spec):
    """``value`` formatted with ``spec``, or ``n/a`` for a null score (an exact result's
    PSNR is infinite, stored as null)."""
    return "n/a" if value is None else format(value, spec)


def print_summary(results):
    print(f"mean over photos ({', '.join(results['photos'])})")
    for name, s in results["mean"].items():
        secs = "" if s["seconds"] is None else f"{s['seconds']:6.1f} s"
        print(f"  {name:<30} PSNR {_shown(s['psnr'], '6.2f')} SSIM {_shown(s['ssim'], '.3f')} "
              f"dE {_shown(s['delta_e2000'], '5.2f')} "
              f"colour x{_shown(s['colour_ratio'], '.2f')} {secs}")


def partial_path(out):
    """Where a run keeps its finished photos until it is complete: ``<out>.partial``."""
    return Path(f"{out}.partial")


def read_run(path):
    """The JSON of an earlier run of this script; UsageError when it cannot be read as one."""
    try:
        part = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--merge: {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"--merge: {path} cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--merge: {path} is not JSON ({exc})") from None
    photos = part.get("photos") if isinstance(part, dict) else None
    if not (isinstance(photos, dict) and photos
            and all(_is_photo_entry(e) for e in photos.values())
            and isinstance(part.get("variants", {}), dict)
            and isinstance(part.get("agent_defaults", {}), dict)):
        raise UsageError(f"--merge: {path} is not a result file of python -m agents.bench_improved "
                         "(or it holds no photos)")
    return part


def _is_photo_entry(entry):
    """True for one photo's results as :func:`run` writes them: agents and baselines, each a
    row with numbers (or null) for the scores :func:`summarize` averages."""
    def number(value, nullable=True):
        return (value is None and nullable) or (
            isinstance(value, (int, float)) and not isinstance(value, bool))

    def row(r):
        return (isinstance(r, dict) and number(r.get("colorfulness"), nullable=False)
                and number(r.get("colorfulness_true"), nullable=False)
                and all(number(r.get(k)) for k in ("psnr", "ssim", "delta_e2000", "seconds")))

    return (isinstance(entry, dict)
            and all(isinstance(entry.get(k), dict) and all(map(row, entry[k].values()))
                    for k in ("agents", "baselines")))


def _variant_settings(part):
    """Each improved variant's full settings in one run: the agent's defaults, then the
    variant's own options and ``--set`` overrides (so a change of defaults counts too)."""
    defaults = part.get("agent_defaults", {})
    return {name: {**defaults, **options} for name, options in part.get("variants", {}).items()}


def check_mergeable(paths, parts):
    """UsageError when two runs cannot be joined: photos of different widths, runs with
    different BLAS thread counts (they train to slightly different weights), a photo whose
    pixels differ between runs (another resize, another file: its size or its baselines,
    which depend on nothing else, differ), or a variant name that stands for different
    settings (its scores would be mixed in one row)."""
    width_path, width = None, None
    seen, photo_seen = {}, {}
    for path, part in zip(paths, parts):
        if width_path is None:
            width_path, width, threads = path, part.get("width"), part.get("blas_threads")
        elif part.get("width") != width:
            raise UsageError(f"--merge: {width_path} has photos {width} px wide but {path} "
                             f"{part.get('width')} px; join runs of one --width")
        elif part.get("blas_threads") != threads:
            raise UsageError(f"--merge: {width_path} ran with {threads} BLAS threads but {path} "
                             f"with {part.get('blas_threads')}; join runs of one thread count")
        for stem, entry in part["photos"].items():
            fingerprint = (entry.get("size"), entry["baselines"])
            if stem in photo_seen and photo_seen[stem][1] != fingerprint:
                raise UsageError(f"--merge: photo {stem!r} differs between {photo_seen[stem][0]} "
                                 f"and {path} (size or baseline scores); join runs of the same "
                                 "photos, resized the same way")
            photo_seen.setdefault(stem, (path, fingerprint))
        for name, settings in _variant_settings(part).items():
            if name not in seen:
                seen[name] = (path, settings)
                continue
            first_path, first = seen[name]
            differ = sorted(k for k in first.keys() | settings.keys()
                            if first.get(k) != settings.get(k))
            if differ:
                changes = ", ".join(f"{k} {first.get(k)!r} vs {settings.get(k)!r}" for k in differ)
                raise UsageError(f"--merge: variant {name!r} has other settings in {first_path} "
                                 f"than in {path} ({changes})")


def merge(paths, out):
    """Join several runs of this script: photo subsets run in parallel, or a rerun of some
    variants (later files win for the same photo and agent name). Runs of different photo
    widths or settings are refused (:func:`check_mergeable`)."""
    parts = [read_run(path) for path in paths]
    check_mergeable(paths, parts)
    ensure_output_file(out, [(path, "--merge file") for path in paths])
    merged = {k: v for k, v in parts[0].items() if k not in ("photos", "mean", "command", "variants")}
    merged["photos"], merged["command"], merged["variants"] = {}, [], {}
    for part in parts:
        for stem, entry in part["photos"].items():
            # A photo in several files: agents of later files are added (or replace earlier
            # runs of the same name), so a rerun of one variant can be joined to a full run.
            if stem in merged["photos"]:
                merged["photos"][stem]["agents"].update(entry["agents"])
            else:
                merged["photos"][stem] = entry
        merged["variants"].update(part.get("variants", {}))
        merged["command"].append(part.get("command", ""))
    commands = [c for c in merged["command"] if c]
    merged["command"] = (("; ".join(commands) if commands
                          else "python -m agents.bench_improved --only ...")
                         + "; joined by python -m agents.bench_improved --merge "
                         + " ".join(Path(p).name for p in paths) + f" --out {Path(out).name}")
    summarize(merged)
    write_json(out, merged)
    print_summary(merged)
    return 0


def setting(text):
    """argparse type for ``--set``: ``KEY=VALUE`` -> ``(key, value)``. VALUE is read as JSON
    (numbers, true / false) or else kept as text; the agent's own checks judge it."""
    key, sep, text_value = text.partition("=")
    if not sep or not key or not text_value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if key not in DEFAULTS:
        raise argparse.ArgumentTypeError(f"unknown agent option {key!r} in {text!r}; "
                                         f"known: {', '.join(DEFAULTS)}")
    try:
        value = json.loads(text_value)
    except json.JSONDecodeError:
        value = text_value
    try:
        # a value of the wrong kind (epochs=null, epochs=[1], rows=no) is the agent's
        # ValueError too
        ImprovedAgent(device="cpu", **{key: value})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc}") from None
    return key, value


def photo_paths(which, only):
    """The photos to run (``--photos``), restricted to the stems of ``only`` when given;
    UsageError naming the stems that match no photo, or when there is no photo at all."""
    paths = sorted(bundled_images_dir().glob("*.png"))
    if which == "all":
        paths += extra_photo_paths()
    if not paths:
        raise UsageError(f"no photos to run: {bundled_images_dir()} holds no .png files")
    if only:
        stems = [p.stem for p in paths]
        unknown = [s for s in only if s not in stems]
        if unknown:
            raise UsageError(f"--only: no photo named {', '.join(unknown)} "
                             f"(--photos {which} has {', '.join(stems)})")
        paths = [p for p in paths if p.stem in only]
    return paths


def build_parser():
    parser = OneLineParser(prog="python -m agents.bench_improved",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", choices=("all", "bundled"), default="all",
                        help="the bundled photos, or (all, the default) also the sample photos "
                             "of scikit-image and matplotlib")
    # The list options add up when repeated (action "extend"); their defaults are filled in
    # after parsing (:func:`with_run_defaults`), since "extend" would add to a default list.
    parser.add_argument("--variants", nargs="+", action="extend", metavar="NAME",
                        help=f"'default' (the agent's defaults) and any of {', '.join(VARIANTS)}")
    parser.add_argument("--width", type=bench_width, metavar="PX",
                        help="width in pixels every photo is resized to, from 8 to 4096 "
                             "(default: 256); the network's width is --set width=N")
    parser.add_argument("--only", nargs="+", action="extend", metavar="STEM",
                        help="photo stems to run (e.g. coffee motorcycle_left)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="FILE.json",
                        help="JSON to write (default: data/improved_variants.json in python -m "
                             "report's default folder, where the report reads it)")
    parser.add_argument("--no-basic", action="store_true", help="leave out the basic agent")
    parser.add_argument("--no-mlp", action="store_true", help="leave out scikit-learn's MLP")
    parser.add_argument("--set", nargs="+", action="extend", type=setting, metavar="KEY=VALUE",
                        help="override agent options for every variant (e.g. epochs=10)")
    parser.add_argument("--seeds", nargs="+", action="extend", type=non_negative_int, metavar="S",
                        help="seeds of the 'default' variant (default: 0); the other variants "
                             "run with seed 0")
    parser.add_argument("--merge", nargs="+", action="extend", metavar="JSON",
                        help="join the JSON files of earlier runs into --out and stop (runs "
                             "of one width and BLAS thread count, the same settings per variant "
                             "name and the same pixels per photo)")
    return parser


def run(args, given):
    """The benchmark itself (see the module docstring); every check comes before the work."""
    overrides = dict(args.set)
    seeds = list(dict.fromkeys(args.seeds))
    unknown = [v for v in args.variants if v != "default" and v not in VARIANTS]
    if unknown:
        raise UsageError(f"unknown variants {', '.join(unknown)}; "
                         f"known: default, {', '.join(VARIANTS)}")
    variants = {v: {**VARIANTS.get(v, {}), **overrides} for v in args.variants}
    for name, options in variants.items():
        try:
            ImprovedAgent(device="cpu", **options)
        except (ValueError, TypeError) as exc:
            # Each --set value alone was checked while parsing; this catches combinations.
            raise UsageError(f"variant {name}: {exc}") from None
    paths = photo_paths(args.photos, args.only)
    photos = {p.stem: load_photo(p, args.width) for p in paths}
    inputs = [(p, "photo") for p in paths]
    ensure_output_file(args.out, inputs)
    partial = ensure_output_file(partial_path(args.out), inputs)  # its name is 8 bytes longer
    if partial.exists():
        # this run would write over it and remove it at the end
        raise UsageError(f"{partial} holds the finished photos of an earlier, interrupted run; "
                         f"join it with --merge {partial} ... or remove it, then run again")

    results = {"width": args.width, "variants": variants,
               "command": "python -m agents.bench_improved " + " ".join(given),
               "agent_defaults": DEFAULTS, "blas_threads": blas_threads(), "photos": {}}
    for stem, rgb in photos.items():
        entry = {"size": list(rgb.shape[:2]), "baselines": run_baselines(rgb), "agents": {}}
        print(f"{stem} {rgb.shape[1]}x{rgb.shape[0]}", flush=True)
        for name, scores in entry["baselines"].items():
            print(f"  base {name:<22} PSNR {_shown(scores['psnr'], '6.2f')} "
                  f"colour {scores['colorfulness']:6.2f} "
                  f"(true {scores['colorfulness_true']:.2f})", flush=True)
        runs = []
        if not args.no_basic:
            runs.append(("basic", run_basic))
        if not args.no_mlp:
            runs.append(("mlp-sklearn", run_mlp))
        for variant, options in variants.items():
            for seed in seeds if variant == "default" else [0]:
                name = f"improved:{variant}" + (f", seed {seed}" if seed != 0 else "")
                runs.append((name, lambda img, o=options, s=seed: run_improved(
                    img, o, seed=s, redecode=s == 0)))
        for name, fn in runs:
            try:
                res = fn(rgb)
            except ImportError as exc:
                # scikit-learn is a test dependency: without it the MLP row is left out.
                print(f"  {name}: skipped ({exc})", flush=True)
                continue
            entry["agents"][name] = res
            print(f"  {name:<27} PSNR {_shown(res['psnr'], '6.2f')} colour {res['colorfulness']:6.2f} "
                  f"dE {res['delta_e2000']:5.2f} {res['seconds']:6.1f} s", flush=True)
        results["photos"][stem] = entry
        write_json(partial, results)

    summarize(results)
    write_json(args.out, results)
    partial.unlink(missing_ok=True)
    print_summary(results)
    return 0


RUN_ONLY_OPTIONS = ("variants", "width", "only", "set", "seeds")
"""The options that shape a run; ``--merge`` refuses them rather than ignore them."""


def with_run_defaults(args):
    """``args`` with the defaults of the options left out (see :func:`build_parser`)."""
    args.variants = args.variants or list(DEFAULT_VARIANTS)
    args.width = 256 if args.width is None else args.width
    args.set = args.set or []
    args.seeds = args.seeds or [0]
    return args


def main(argv=None):
    parser = build_parser()

    def body():
        args = parser.parse_args(argv)
        if args.merge:
            ignored = [f"--{name}" for name in RUN_ONLY_OPTIONS if getattr(args, name) is not None]
            if ignored:
                raise UsageError(f"--merge joins earlier runs as they are: {', '.join(ignored)} "
                                 "would change nothing; leave it out")
        with folders_removed_on_failure(Path(args.out).parent):
            if args.merge:
                return merge(args.merge, args.out)
            return run(with_run_defaults(args), argv if argv is not None else sys.argv[1:])

    return run_command(body, (ImageError, OutputError))


if __name__ == "__main__":
    sys.exit(main())
