"""The tables of REPORT.md, and the number formatting and averaging that its prose shares
with them.

Each table is built from one build's runs (or the recorded variants' JSON) as a Markdown
string; missing values print as ``n/a``.
"""

import math

import numpy as np

from agents.basic import COLORS
from report.experiments import LABELS, METHODS


# -- numbers ---------------------------------------------------------------------------------
def fmt(value, digits=2):
    """A number with ``digits`` decimals; ``n/a`` for a missing one (None, NaN), ``inf``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def mean_of(values):
    """Mean of the values that exist (None and NaN are missing). An infinite PSNR (an exact
    output) is kept, so every mean covers the same photos; a difference of two infinite
    means is NaN, which prints as n/a."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def mean_score(runs, key, metric):
    """Mean of ``metric`` over the photos that have ``key`` (NaN when none)."""
    return mean_of([r.scores[key][metric] for r in runs if key in r.scores])


def mean_diag(runs, key, metric):
    """Mean of the diagnostic ``metric`` (e.g. ``gray_rmse``) over the photos that have ``key``."""
    return mean_of([r.diagnostics[key][metric] for r in runs if key in r.diagnostics])


def colour_ratio(scores):
    """The output's colourfulness over the truth's (an all-gray truth counts as 1e-9)."""
    return scores["colorfulness"] / max(scores["colorfulness_true"], 1e-9)


def _methods(runs):
    """The method keys every run scored, in the order of ``METHODS``."""
    present = set.intersection(*(set(r.scores) for r in runs))
    return [key for key, _ in METHODS if key in present]


def join_names(names):
    """``a``, ``a and b``, ``a, b and c``; ``none`` for no names."""
    if not names:
        return "none"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


# -- tables ----------------------------------------------------------------------------------
SCORE_HEADER = ("| method | RMSE | PSNR (dB) | SSIM | CIEDE2000 | colourfulness | colour / truth "
                "| gray RMSE |\n|---|---:|---:|---:|---:|---:|---:|---:|")


def _score_row(label, scores, ratio, gray_rmse):
    return (f"| {label} | {fmt(scores['rmse'])} | {fmt(scores['psnr'])} | "
            f"{fmt(scores['ssim'], 3)} | {fmt(scores['delta_e2000'])} | "
            f"{fmt(scores['colorfulness'], 1)} | {fmt(ratio)} | {fmt(gray_rmse)} |")


def mean_table(runs):
    """Means over photos (the colour ratio is the mean of the per-photo ratios)."""
    lines = [SCORE_HEADER]
    for key in _methods(runs):
        scores = {m: mean_score(runs, key, m) for m in runs[0].scores[key]}
        ratio = mean_of([colour_ratio(r.scores[key]) for r in runs])
        lines.append(_score_row(LABELS[key], scores, ratio, mean_diag(runs, key, "gray_rmse")))
    truth = mean_of([r.scores["basic"]["colorfulness_true"] for r in runs])
    lines.append(f"| true colours | | | | | {fmt(truth, 1)} | 1.00 | 0.00 |")
    return "\n".join(lines)


def photo_table(run):
    """One photo's scores, a row per method, and the truth's colourfulness."""
    lines = [SCORE_HEADER]
    for key in _methods([run]):
        scores = run.scores[key]
        lines.append(_score_row(LABELS[key], scores, colour_ratio(scores),
                                run.diagnostics[key]["gray_rmse"]))
    lines.append(f"| true colours | | | | | {fmt(run.scores['basic']['colorfulness_true'], 1)} "
                 "| 1.00 | 0.00 |")
    return "\n".join(lines)


def timing_table(build):
    """Seconds per photo and step, as measured in this build."""
    has_improved = any("improved" in r.seconds for r in build.runs)
    head = ("| photo | size | basic: fit | basic: colourize | --colors auto: fit + colourize "
            "| hindsight sweep |")
    rule = "|---|---|---:|---:|---:|---:|"
    if has_improved:
        head += " improved: fit | improved: colourize |"
        rule += "---:|---:|"
    lines = [head, rule]
    for r in build.runs:
        s = r.seconds
        h, w = r.size
        row = (f"| {r.name} | {w} x {h} | {fmt(s['basic']['fit'], 1)} | "
               f"{fmt(s['basic']['colorize'], 1)} | {fmt(sum(s['basic_auto'].values()), 1)} | "
               f"{fmt(s['hindsight_sweep']['fit'], 1)} |")
        if has_improved:
            imp = s.get("improved")
            row += (f" {fmt(imp['fit'], 1)} | {fmt(imp['colorize'], 1)} |" if imp else " n/a | n/a |")
        lines.append(row)
    return "\n".join(lines)


def k_table(runs):
    """The bonus: the number of colours chosen from the left half against the hindsight best."""
    lines = ["| photo | k chosen (left half only) | validation RMSE at that k "
             f"| right-half RMSE at that k | at k = {COLORS} | hindsight best k | its RMSE |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        a = r.auto
        ks = list(a["k"])
        hind = a["hindsight_rmse"]
        best = int(np.argmin(hind))
        chosen = ks.index(a["chosen"])
        at5 = fmt(hind[ks.index(COLORS)]) if COLORS in ks else "n/a"
        lines.append(f"| {r.name} | {a['chosen']} | {fmt(a['validation_rmse'][chosen])} | "
                     f"{fmt(hind[chosen])} | {at5} | {ks[best]} | {fmt(hind[best])} |")
    return "\n".join(lines)


def training_table(runs):
    """The improved agent's training per photo: size, epochs, the restored epoch's losses."""
    trained = [r for r in runs if r.improved and r.improved.get("training")]
    with_bins = any(r.improved.get("bins") for r in trained)
    head = "| photo |" + (" chroma bins Q |" if with_bins else "")
    head += (" parameters | epochs run | restored epoch | stopped early | training loss at that "
             "epoch | validation loss at that epoch |")
    lines = [head, "|---|" + ("---:|" if with_bins else "") + "---:|---:|---:|---|---:|---:|"]
    for r in trained:
        info = r.improved
        hist = info["training"]
        best = hist["best_epoch"]
        val = hist["val_loss"][best] if hist["val_loss"] else None
        params = info.get("parameters")
        lines.append(f"| {r.name} |" + (f" {info.get('bins') or 'n/a'} |" if with_bins else "")
                     + f" {f'{params:,}' if params else 'n/a'} | {hist['epochs_run']} | "
                     f"{best + 1} | {'yes' if hist['stopped_early'] else 'no'} | "
                     f"{fmt(hist['train_loss'][best], 3)} | {fmt(val, 3)} |")
    return "\n".join(lines)


def gradcheck_table(rows):
    """``(label, where, error)`` rows of the gradient checks."""
    lines = ["| layer / container / loss | worst at | max relative error |", "|---|---|---:|"]
    lines += [f"| {label} | `{where}` | {err:.2e} |" for label, where, err in rows]
    return "\n".join(lines)


def variants_section(build):
    """The recorded variant comparison (``build.variants``): its provenance, the table of
    variants with their per-photo PSNR, the seeds' spread and the re-decodings."""
    data = build.variants
    if data is None:
        return [f"The variant comparison is not available yet: `{build.variants_path}` does not "
                "exist. `python -m agents.bench_improved --out report/data/improved_variants.json` "
                "writes it; rebuild the report afterwards."]
    command = data.get("command") or ("python -m agents.bench_improved --out "
                                      "report/data/improved_variants.json")
    means = data.get("mean", {})
    photos = data.get("photos", {})
    names = list(means)
    lines = [f"Produced by `{command}` (read from `{build.variants_path}`; the report does not "
             f"rerun it). Photos at {data.get('width', '?')} px wide: {join_names(list(photos))}; "
             "train on the left half, score the right half, seed 0 unless the row says "
             "otherwise; means over the photos. Rows: `base:` the baselines (`gray_lookup` is "
             "the mean chroma per gray level); `basic` the basic agent; `mlp-sklearn` "
             "scikit-learn's MLP regressor (two hidden layers of 64) on 7x7 gray patches plus "
             "coarse context, an outside reference; `improved:` the improved agent with the "
             "options shown (`prior`: the gray-lookup chroma as input planes; `context`: the "
             "mean gray of two large boxes as input planes; `cls` / `l2`: classification over "
             "chroma bins, or the mean squared error on the two chroma values). "
             "`colour / truth` is the output's colourfulness over the truth's, photo by photo "
             "(the mean of those ratios, not the ratio of the two means). Seconds were "
             "measured in that run.", ""]
    photo_names = list(photos)
    head = "| variant | options | mean PSNR | mean SSIM | mean CIEDE2000 | colour / truth | seconds |"
    head += "".join(f" PSNR {p} |" for p in photo_names)
    lines += [head, "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(photo_names)]
    variant_options = data.get("variants", {})

    def per_photo(name):
        cells = []
        for p in photo_names:
            entry = photos[p]
            r = (entry.get("baselines", {}).get(name[5:]) if name.startswith("base:")
                 else entry.get("agents", {}).get(name))
            cells.append(fmt(r.get("psnr")) if r else "n/a")
        return "".join(f" {c} |" for c in cells)

    for name in names:
        m = means[name]
        key = name.split(":", 1)[1] if name.startswith("improved:") else None
        variant, _, seed = (key or "").partition(", ")
        options = variant_options.get(variant, {}) if key else {}
        opts = (", ".join(f"{k}={v}" for k, v in options.items())
                or ("agent defaults" if variant == "default" else ""))
        opts = ", ".join(filter(None, (opts, seed)))
        lines.append(f"| {name} | {opts} | {fmt(m.get('psnr'))} | {fmt(m.get('ssim'), 3)} | "
                     f"{fmt(m.get('delta_e2000'))} | {fmt(m.get('colour_ratio'))} | "
                     f"{fmt(m.get('seconds'), 1)} |" + per_photo(name))
    return lines + seed_spread(photos) + decodings_table(photos, data.get("agent_defaults", {}))


def seed_scores(photos, names=None):
    """``{seed: {photo: PSNR}}`` of the agent's defaults, from the rows ``improved:default``
    (seed 0) and ``improved:default, seed N`` of the variants JSON's ``photos``, over the
    photos ``names`` (default: all of them); seeds missing a photo are left out."""
    names = list(photos) if names is None else list(names)
    runs = {}
    for photo in names:
        for name, scores in photos.get(photo, {}).get("agents", {}).items():
            if name == "improved:default" or name.startswith("improved:default, seed "):
                seed = int(name.rpartition(" ")[2]) if "seed" in name else 0
                runs.setdefault(seed, {})[photo] = scores.get("psnr")
    return {s: v for s, v in runs.items() if len(v) == len(names) and None not in v.values()}


def seed_spread(photos):
    """A paragraph on how far the agent's defaults move with the seed (:func:`seed_scores`).
    Empty with one seed."""
    complete = seed_scores(photos)
    if len(complete) < 2:
        return []
    seeds = sorted(complete)
    means = [float(np.mean(list(complete[s].values()))) for s in seeds]
    ranges = {p: max(complete[s][p] for s in seeds) - min(complete[s][p] for s in seeds)
              for p in photos}
    widest = max(ranges, key=ranges.get)
    return ["", f"Seeds: the agent's defaults trained with seeds {join_names([str(s) for s in seeds])} "
            f"reach mean PSNR {', '.join(fmt(m) for m in means)} dB (mean "
            f"{fmt(float(np.mean(means)))}, spread {fmt(max(means) - min(means))} dB). On one "
            f"photo the seeds differ by up to {fmt(ranges[widest])} dB ({widest}). Differences "
            "between variants smaller than this spread may be chance."]


def decodings_table(photos, defaults):
    """The default variant's networks decoded other ways (same weights): what each step of
    the decoding is worth. Empty when the JSON has no re-decodings."""
    runs = redecoded_runs(photos)
    if not runs:
        return []
    names = list(next(iter(runs.values()))["decodings"])
    chosen = {p: r.get("propagate_strength") for p, r in runs.items()}
    lines = ["", "The same trained networks of `improved:default`, decoded other ways (the "
             "agent's own decoding: temperature "
             f"{defaults.get('temperature', '?')}, flip averaging, propagation at the strength "
             "chosen on the validation strip: "
             + ", ".join(f"{p} {_fmt_strength(s)}" for p, s in chosen.items()) + "):", "",
             "| decoding | mean PSNR |" + "".join(f" PSNR {p} |" for p in runs),
             "|---|---:|" + "---:|" * len(runs)]
    for name in names:
        values = decoding_scores(runs, name)
        mean = float(np.mean(values)) if None not in values else None
        lines.append(f"| {name} | {fmt(mean)} |" + "".join(f" {fmt(v)} |" for v in values))
    return lines


def redecoded_runs(photos):
    """``{photo: its improved:default entry}`` of the variants JSON's ``photos``, when every
    photo's entry holds re-decodings; else empty."""
    runs = {p: e.get("agents", {}).get("improved:default", {}) for p, e in photos.items()}
    return runs if runs and all(r.get("decodings") for r in runs.values()) else {}


def decoding_scores(runs, name):
    """The PSNR of the decoding ``name`` on each run of :func:`redecoded_runs` (None where
    missing)."""
    return [r["decodings"].get(name, {}).get("psnr") for r in runs.values()]


def _fmt_strength(value):
    return "n/a" if value is None else f"{value:g}"
