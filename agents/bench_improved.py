"""Benchmark of the improved agent's variants on natural photos (the report shows the result).

``python -m agents.bench_improved [--photos all|bundled] [--variants NAME ...] [--width 256]
[--out report/data/improved_variants.json] [--no-basic] [--no-mlp] [--only STEM ...]
[--seeds S ...]``
``python -m agents.bench_improved --merge A.json B.json --out report/data/improved_variants.json``

For every photo, resized to ``--width`` pixels wide with Pillow's Lanczos filter, under the
left/right protocol (train on the left half, score the right half), it runs:

- every improved-agent variant of ``VARIANTS`` (architecture x loss x options), seed 0;
- the agent's defaults again with each other seed of ``--seeds`` (named
  ``improved:default, seed N``): one photo's half is little data, and the spread between
  seeds says how much of a difference between variants is chance;
- the basic agent (k-means palette + 3x3-patch kNN vote), when ``agents.basic`` is there;
- the three baselines of :mod:`colorize.metrics` (gray, mean chroma, per-gray lookup);
- the issue's calibration point: scikit-learn's ``MLPRegressor`` (two hidden layers of 64)
  fed 7x7 gray patches plus coarse context (the mean gray of 32x32 and 96x96 boxes around
  the pixel), regressing the gray-preserving chroma; trained on 20 000 left-half pixels.

Each trained variant is also re-decoded (same weights): with the annealed-mean temperatures
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
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from agents.improved import DEFAULTS, ImprovedAgent
from colorize.color import chroma_to_rgb, rgb_to_chroma, rgb_to_gray
from colorize.halves import split_halves
from colorize.io import read_rgb, write_json
from colorize.metrics import baseline_predictions, score

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = {
    "unet-l2-prior": {"arch": "unet", "loss": "l2", "prior": True, "context": False},
    "unet-l2": {"arch": "unet", "loss": "l2", "prior": False, "context": False},
    "unet-l2-prior-context": {"arch": "unet", "loss": "l2", "prior": True, "context": True},
    "unet-cls-prior-T0.38": {"arch": "unet", "loss": "cls", "prior": True, "context": False,
                             "temperature": 0.38},
    "dilated-l2-prior": {"arch": "dilated", "loss": "l2", "prior": True, "context": False},
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
    """RGB uint8 resized to ``width`` pixels wide (aspect kept, Lanczos)."""
    rgb = read_rgb(path)
    h, w = rgb.shape[:2]
    height = max(8, int(round(h * width / w)))
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))


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
        summary[name]["photos"] = len(rows)
    results["mean"] = summary
    return results


def print_summary(results):
    print(f"mean over photos ({', '.join(results['photos'])})")
    for name, s in results["mean"].items():
        secs = "" if s["seconds"] is None else f"{s['seconds']:6.1f} s"
        print(f"  {name:<30} PSNR {s['psnr']:6.2f} SSIM {s['ssim']:.3f} dE {s['delta_e2000']:5.2f} "
              f"colour x{s['colour_ratio']:.2f} {secs}")


def merge(paths, out):
    """Join several runs of this script: photo subsets run in parallel, or a rerun of some
    variants (later files win for the same photo and agent name)."""
    merged = None
    for path in paths:
        part = json.loads(Path(path).read_text())
        if merged is None:
            merged = {k: v for k, v in part.items() if k not in ("photos", "mean", "command", "variants")}
            merged["photos"], merged["command"], merged["variants"] = {}, [], {}
        for stem, entry in part["photos"].items():
            # A photo in several files: agents of later files are added (or replace earlier
            # runs of the same name), so a rerun of one variant can be joined to a full run.
            if stem in merged["photos"]:
                merged["photos"][stem]["agents"].update(entry["agents"])
            else:
                merged["photos"][stem] = entry
        merged["variants"].update(part.get("variants", {}))
        merged["command"].append(part.get("command", ""))
    parts = [c for c in merged["command"] if c]
    merged["command"] = ("; ".join(parts) if parts else "python -m agents.bench_improved --only ...") \
        + "; joined by python -m agents.bench_improved --merge"
    summarize(merged)
    write_json(out, merged)
    print_summary(merged)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m agents.bench_improved",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", choices=("all", "bundled"), default="all")
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS),
                        help=f"'default' (the agent's defaults) and any of {', '.join(VARIANTS)}")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--only", nargs="+", default=None, help="photo stems to run")
    parser.add_argument("--out", default=str(ROOT / "report" / "data" / "improved_variants.json"),
                        help="JSON to write (default: report/data/improved_variants.json, "
                             "which python -m report reads)")
    parser.add_argument("--no-basic", action="store_true")
    parser.add_argument("--no-mlp", action="store_true")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override agent options for every variant (e.g. epochs=10)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], metavar="S",
                        help="seeds of the 'default' variant (default: 0); the other variants "
                             "run with seed 0")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="join the JSON files of earlier runs into --out and stop")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"seeds must be at least 0, got {args.seeds}")
    seeds = list(dict.fromkeys(args.seeds))
    unknown = [v for v in args.variants if v != "default" and v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}")

    paths = sorted((ROOT / "images").glob("*.png"))
    if args.photos == "all":
        paths += extra_photo_paths()
    if args.only:
        paths = [p for p in paths if p.stem in args.only]

    given = argv if argv is not None else sys.argv[1:]
    results = {"width": args.width,
               "variants": {v: {**VARIANTS.get(v, {}), **overrides} for v in args.variants},
               "command": "python -m agents.bench_improved " + " ".join(given),
               "agent_defaults": DEFAULTS,
               "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "photos": {}}
    for path in paths:
        rgb = load_photo(path, args.width)
        entry = {"size": list(rgb.shape[:2]), "baselines": run_baselines(rgb), "agents": {}}
        print(f"{path.stem} {rgb.shape[1]}x{rgb.shape[0]}", flush=True)
        for name, scores in entry["baselines"].items():
            print(f"  base {name:<22} PSNR {scores['psnr']:6.2f} colour {scores['colorfulness']:6.2f} "
                  f"(true {scores['colorfulness_true']:.2f})", flush=True)
        runs = []
        if not args.no_basic:
            try:
                runs.append(("basic", run_basic))
            except ImportError:
                pass
        if not args.no_mlp:
            runs.append(("mlp-sklearn", run_mlp))
        for variant in args.variants:
            options = {**VARIANTS.get(variant, {}), **overrides}
            for seed in seeds if variant == "default" else [0]:
                name = f"improved:{variant}" + (f", seed {seed}" if seed != 0 else "")
                runs.append((name, lambda img, o=options, s=seed: run_improved(
                    img, o, seed=s, redecode=s == 0)))
        for name, fn in runs:
            try:
                res = fn(rgb)
            except ImportError as exc:
                print(f"  {name}: skipped ({exc})", flush=True)
                continue
            entry["agents"][name] = res
            print(f"  {name:<27} PSNR {res['psnr']:6.2f} colour {res['colorfulness']:6.2f} "
                  f"dE {res['delta_e2000']:5.2f} {res['seconds']:6.1f} s", flush=True)
        results["photos"][path.stem] = entry
        write_json(args.out, results)

    summarize(results)
    write_json(args.out, results)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
