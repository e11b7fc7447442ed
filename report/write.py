"""REPORT.md from the measurements: tables, figure links and the prose that reads them.

Every number in the text is inserted from the run or from the recorded measurements of
``report/data``, and every sentence that interprets a number is chosen by comparing the
numbers it talks about, so a different run cannot leave the prose claiming what its tables
contradict. Run times are the
only values that change from run to run; they sit in tables labelled as measured on this run.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from agents.basic import AUTO_STRIP_FRACTION, AUTO_TOLERANCE, COLORS, NEIGHBORS
from agents.improved import PROPAGATE_GRID
from agents.improved_data import GRAY_CENTER, GRAY_SCALE, VALIDATION_FRACTION
from colorize.kmeans import RESTARTS
from report.experiments import BOUND_COLORS, LABELS, METHODS, SATURATED_FRACTION

PAPER_TEMPERATURE = 0.38
GRAY_ROUNDING_RMSE = 0.5
"""Below this gray RMSE an output keeps the known gray but for rounding: rounding each RGB
value to 8 bits moves the gray by about 0.22 RMSE (a uniform error of sd 0.29 per channel,
weighted 0.21 / 0.72 / 0.07)."""
AGENTS = ("basic", "basic_auto", "improved")
BASELINES = ("gray", "mean_chroma", "gray_lookup")

ARCH_TEXT = {
    "unet": ("a small U-Net (Ronneberger et al. 2015): two 2x max-pool downsamplings, "
             "3x3 convolutions with batch-norm and ReLU at each level (dilated at the coarsest "
             "level for a wider view), nearest-neighbour upsampling and concatenated skip "
             "connections, so every output pixel sees tens of pixels of context and still "
             "gets full-resolution detail"),
    "dilated": ("a stack of 3x3 convolutions with growing dilations (Yu and Koltun 2016), "
                "batch-norm and ReLU, at full resolution: a wide receptive field without any "
                "downsampling"),
}
LOSS_TEXT = {
    "cls": ("classification over quantized chroma bins (Zhang, Isola and Efros 2016): the "
            "chroma plane is cut into square bins of side {bin_step:g} chroma units and only "
            "the bins the training columns use become classes; each pixel's target is a soft "
            "distribution over its {neighbors} nearest bin centres (Gaussian weights); the loss "
            "is the cross-entropy between the predicted softmax and that target, with rare "
            "(saturated) bins up-weighted by class rebalancing, w_q proportional to "
            "((1 - {rebalance:g}) p_q + {rebalance:g} / Q)^-1 with p the smoothed bin "
            "frequencies. The weights enter as class weights, sum_q w_q t_q (-log p_q) per "
            "pixel, which leans the prediction toward rare bins; the paper instead weights each "
            "pixel's whole cross-entropy by the weight of its target's most likely bin, which "
            "in a development run scored within the seeds' spread of this form (the docstring "
            "of `agents/improved_losses.py` gives the figures)"),
    "l2": "the mean squared error on the two chroma values (proportional to the squared RGB "
          "error, since the chroma basis is orthonormal and the gray is exact)",
    "l1": "the mean absolute error on the two chroma values",
    "smooth_l1": "the smooth L1 (Huber) loss on the two chroma values",
}


@dataclass
class Build:
    """What one build measured, handed to :func:`render`."""

    settings: object
    quick: bool
    device: str
    runs: list
    figures: dict
    gradcheck: list | None = None
    gpu_measurements: dict | None = None
    benchmarks: list = field(default_factory=list)
    variants: dict | None = None
    variants_path: str = ""
    seconds: float = 0.0
    command: str = ""
    images: str = "images"


TERMS = (
    "Terms used below. *Chroma* is colour without brightness: the two coordinates (u, v) of "
    "the RGB colour minus its gray, in a basis of the plane orthogonal to the gray weights, "
    "in RGB units (a chroma error of 1 is an RGB error of 1). The *baselines* are trivial "
    "colourizers: no colour at all; the left half's mean chroma everywhere; and the *gray "
    "lookup* (row `mean chroma per gray level`), which gives each pixel the mean chroma of the "
    "left half's pixels of the same gray level. A *bound* is a method that peeks at the right "
    "half's true colours, shown only to measure how much a step costs; the *hindsight* curve "
    "of the bonus is one. The scores (RMSE, PSNR, SSIM, CIEDE2000, colourfulness) are defined "
    "under Results.")


# -- numbers ---------------------------------------------------------------------------------
def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def _mean(values):
    """Mean of the values that exist (None and NaN are missing). An infinite PSNR (an exact
    output) is kept, so every mean covers the same photos; a difference of two infinite
    means is NaN, which prints as n/a."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def mean_score(runs, key, metric):
    """Mean of ``metric`` over the photos that have ``key`` (NaN when none)."""
    return _mean([r.scores[key][metric] for r in runs if key in r.scores])


def mean_diag(runs, key, metric):
    return _mean([r.diagnostics[key][metric] for r in runs if key in r.diagnostics])


def colour_ratio(scores):
    return scores["colorfulness"] / max(scores["colorfulness_true"], 1e-9)


def _methods(runs):
    present = set.intersection(*(set(r.scores) for r in runs))
    return [key for key, _ in METHODS if key in present]


def _best_baseline(runs):
    return max(BASELINES, key=lambda b: mean_score(runs, b, "psnr"))


def _count(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _photos_where(runs, predicate):
    return [r.name for r in runs if predicate(r)]


def _names(names):
    if not names:
        return "none"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


# -- tables ----------------------------------------------------------------------------------
SCORE_HEADER = ("| method | RMSE | PSNR (dB) | SSIM | CIEDE2000 | colourfulness | colour / truth "
                "| gray RMSE |\n|---|---:|---:|---:|---:|---:|---:|---:|")


def _score_row(label, scores, ratio, gray_rmse):
    return (f"| {label} | {_fmt(scores['rmse'])} | {_fmt(scores['psnr'])} | "
            f"{_fmt(scores['ssim'], 3)} | {_fmt(scores['delta_e2000'])} | "
            f"{_fmt(scores['colorfulness'], 1)} | {_fmt(ratio)} | {_fmt(gray_rmse)} |")


def mean_table(runs):
    """Means over photos (the colour ratio is the mean of the per-photo ratios)."""
    lines = [SCORE_HEADER]
    for key in _methods(runs):
        scores = {m: mean_score(runs, key, m) for m in runs[0].scores[key]}
        ratio = _mean([colour_ratio(r.scores[key]) for r in runs])
        lines.append(_score_row(LABELS[key], scores, ratio, mean_diag(runs, key, "gray_rmse")))
    truth = _mean([r.scores["basic"]["colorfulness_true"] for r in runs])
    lines.append(f"| true colours | | | | | {_fmt(truth, 1)} | 1.00 | 0.00 |")
    return "\n".join(lines)


def photo_table(run):
    lines = [SCORE_HEADER]
    for key in _methods([run]):
        scores = run.scores[key]
        lines.append(_score_row(LABELS[key], scores, colour_ratio(scores),
                                run.diagnostics[key]["gray_rmse"]))
    lines.append(f"| true colours | | | | | {_fmt(run.scores['basic']['colorfulness_true'], 1)} "
                 "| 1.00 | 0.00 |")
    return "\n".join(lines)


def timing_table(build):
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
        row = (f"| {r.name} | {w} x {h} | {_fmt(s['basic']['fit'], 1)} | "
               f"{_fmt(s['basic']['colorize'], 1)} | {_fmt(sum(s['basic_auto'].values()), 1)} | "
               f"{_fmt(s['hindsight_sweep']['fit'], 1)} |")
        if has_improved:
            imp = s.get("improved")
            row += (f" {_fmt(imp['fit'], 1)} | {_fmt(imp['colorize'], 1)} |" if imp else " n/a | n/a |")
        lines.append(row)
    return "\n".join(lines)


def k_table(runs):
    lines = ["| photo | k chosen (left half only) | validation RMSE at that k "
             f"| right-half RMSE at that k | at k = {COLORS} | hindsight best k | its RMSE |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        a = r.auto
        ks = list(a["k"])
        hind = a["hindsight_rmse"]
        best = int(np.argmin(hind))
        chosen = ks.index(a["chosen"])
        at5 = _fmt(hind[ks.index(COLORS)]) if COLORS in ks else "n/a"
        lines.append(f"| {r.name} | {a['chosen']} | {_fmt(a['validation_rmse'][chosen])} | "
                     f"{_fmt(hind[chosen])} | {at5} | {ks[best]} | {_fmt(hind[best])} |")
    return "\n".join(lines)


def training_table(runs):
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
                     f"{_fmt(hist['train_loss'][best], 3)} | {_fmt(val, 3)} |")
    return "\n".join(lines)


def gradcheck_table(rows):
    lines = ["| layer / container / loss | worst at | max relative error |", "|---|---|---:|"]
    lines += [f"| {label} | `{where}` | {err:.2e} |" for label, where, err in rows]
    return "\n".join(lines)


def variants_section(build):
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
             f"rerun it). Photos at {data.get('width', '?')} px wide: {_names(list(photos))}; "
             "train on the left half, score the right half, seed 0 unless the row says "
             "otherwise; means over the photos. Rows: `base:` the baselines (`gray_lookup` is "
             "the mean chroma per gray level); `basic` the basic agent; `mlp-sklearn` "
             "scikit-learn's MLP regressor (two hidden layers of 64) on 7x7 gray patches plus "
             "coarse context, an outside reference; `improved:` the improved agent with the "
             "options shown (`prior`: the gray-lookup chroma as input planes; `context`: the "
             "mean gray of two large boxes as input planes; `cls` / `l2`: classification over "
             "chroma bins, or the mean squared error on the two chroma values). "
             "`colour / truth` is the output's colourfulness over the truth's. Seconds were "
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
            cells.append(_fmt(r.get("psnr")) if r else "n/a")
        return "".join(f" {c} |" for c in cells)

    for name in names:
        m = means[name]
        key = name.split(":", 1)[1] if name.startswith("improved:") else None
        variant, _, seed = (key or "").partition(", ")
        options = variant_options.get(variant, {}) if key else {}
        opts = (", ".join(f"{k}={v}" for k, v in options.items())
                or ("agent defaults" if variant == "default" else ""))
        opts = ", ".join(filter(None, (opts, seed)))
        lines.append(f"| {name} | {opts} | {_fmt(m.get('psnr'))} | {_fmt(m.get('ssim'), 3)} | "
                     f"{_fmt(m.get('delta_e2000'))} | {_fmt(m.get('colour_ratio'))} | "
                     f"{_fmt(m.get('seconds'), 1)} |" + per_photo(name))
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
    return ["", f"Seeds: the agent's defaults trained with seeds {_names([str(s) for s in seeds])} "
            f"reach mean PSNR {', '.join(_fmt(m) for m in means)} dB (mean "
            f"{_fmt(float(np.mean(means)))}, spread {_fmt(max(means) - min(means))} dB). On one "
            f"photo the seeds differ by up to {_fmt(ranges[widest])} dB ({widest}). Differences "
            "between variants smaller than this spread may be chance."]


def decodings_table(photos, defaults):
    """The default variant's networks decoded other ways (same weights): what each step of
    the decoding is worth. Empty when the JSON has no re-decodings."""
    runs = _redecoded_runs(photos)
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
        values = _decoding_scores(runs, name)
        mean = float(np.mean(values)) if None not in values else None
        lines.append(f"| {name} | {_fmt(mean)} |" + "".join(f" {_fmt(v)} |" for v in values))
    return lines


def _redecoded_runs(photos):
    """``{photo: its improved:default entry}`` of the variants JSON's ``photos``, when every
    photo's entry holds re-decodings; else empty."""
    runs = {p: e.get("agents", {}).get("improved:default", {}) for p, e in photos.items()}
    return runs if runs and all(r.get("decodings") for r in runs.values()) else {}


def _decoding_scores(runs, name):
    """The PSNR of the decoding ``name`` on each run of :func:`_redecoded_runs` (None where
    missing)."""
    return [r["decodings"].get(name, {}).get("psnr") for r in runs.values()]


def _fmt_strength(value):
    return "n/a" if value is None else f"{value:g}"


# -- prose -----------------------------------------------------------------------------------
def variants_verdict(data):
    """A clause on which variant of the comparison scored best, from its JSON."""
    if not data or not data.get("mean"):
        return " (the comparison has not been written yet)"
    # Variants are compared at seed 0; the other seeds' rows measure chance, not a variant.
    agents = {k: v for k, v in data["mean"].items()
              if k.startswith("improved:") and ", seed " not in k and v.get("psnr") is not None}
    # means over different photos do not compare: keep the variants run on every photo
    every = max((v.get("photos", 0) for v in agents.values()), default=0)
    agents = {k: v for k, v in agents.items() if v.get("photos", 0) == every}
    if not agents:
        return ""
    ranked = sorted(agents, key=lambda k: agents[k]["psnr"], reverse=True)
    best = ranked[0]
    clause = f"; the highest mean PSNR there is {best}'s ({_fmt(agents[best]['psnr'])} dB)"
    if len(ranked) > 1:
        clause += (f", {_fmt(agents[best]['psnr'] - agents[ranked[1]]['psnr'])} dB above the "
                   f"next, {ranked[1]}")
    if "improved:default" in agents and best != "improved:default":
        clause += (f"; the agent's defaults reach {_fmt(agents['improved:default']['psnr'])} dB "
                   "(the table also shows colourfulness and time)")
    # the defaults run with several seeds: their spread is what chance alone moves a mean
    seeds = [v["psnr"] for k, v in data["mean"].items()
             if (k == "improved:default" or k.startswith("improved:default, seed "))
             and v.get("psnr") is not None and v.get("photos", 0) == every]
    if len(seeds) > 1:
        clause += (f". The defaults' {len(seeds)} seeds alone spread over "
                   f"{_fmt(max(seeds) - min(seeds))} dB, so a gap smaller than that is not "
                   "evidence for one variant")
    return clause


def _improved_config(runs):
    for r in runs:
        if r.improved:
            return r.improved.get("config", {})
    return {}


def summary_lines(build):
    runs = build.runs
    n = len(runs)
    best_base = _best_baseline(runs)
    basic = mean_score(runs, "basic", "psnr")
    base = mean_score(runs, best_base, "psnr")
    lines = [f"- **{_count(n, 'photo')}**, right half only, mean over photos. The basic agent "
             f"({COLORS} colours) "
             f"reaches {_fmt(basic)} dB PSNR and CIEDE2000 {_fmt(mean_score(runs, 'basic', 'delta_e2000'))}; "
             f"the best baseline ({LABELS[best_base]}) {_fmt(base)} dB and "
             f"{_fmt(mean_score(runs, best_base, 'delta_e2000'))}."]
    if all("improved" in r.scores for r in runs):
        imp = mean_score(runs, "improved", "psnr")
        wins = _photos_where(runs, lambda r: r.scores["improved"]["psnr"] > r.scores["basic"]["psnr"])
        lines.append(
            f"- The improved agent reaches {_fmt(imp)} dB and CIEDE2000 "
            f"{_fmt(mean_score(runs, 'improved', 'delta_e2000'))}: {_fmt(abs(imp - basic))} dB "
            f"{'above' if imp >= basic else 'below'} the basic agent and {_fmt(abs(imp - base))} dB "
            f"{'above' if imp >= base else 'below'} the best baseline. It beats the basic agent in "
            f"PSNR on {len(wins)} of {n} photos"
            + ("." if len(wins) == n else f" ({_names(wins)}).")
            + _seed_sentence(build))
    bound = mean_score(runs, "palette5", "psnr")
    lines.append(f"- No output made of {BOUND_COLORS} colours could do better than about "
                 f"{_fmt(bound)} dB on these right halves (k-means on the right half's own "
                 f"pixels, a bound that peeks at the answer); the basic agent is "
                 f"{_fmt(bound - basic)} dB below it.")
    chosen = [r.auto["chosen"] for r in runs]
    regret = [r.auto["hindsight_rmse"][list(r.auto["k"]).index(r.auto["chosen"])]
              - min(r.auto["hindsight_rmse"]) for r in runs]
    choices = _names([f"{c} ({r.name})" for c, r in zip(chosen, runs)])
    lines.append(f"- Bonus: `--colors auto` chose k = {choices} "
                 f"from the left half alone; on the right half that k is on average "
                 f"{_fmt(_mean(regret))} RGB RMSE above the best k in hindsight.")
    return lines


def _seed_sentence(build):
    """Which seed the summary's scores are for, and what the recorded runs with other seeds
    scored on the same photos (empty without such records)."""
    text = f" These are the scores of seed {build.settings.seed}"
    variants = build.variants or {}
    photos = variants.get("photos", {})
    names = [r.name for r in build.runs]
    # Only records of the same photos at the same size say what other seeds do here.
    same = all(list(photos.get(r.name, {}).get("size", ())) == list(r.size) for r in build.runs)
    scores = seed_scores(photos, names) if same else {}
    if len(scores) < 2:
        return text + "."
    seeds = sorted(scores)
    means = [_mean(list(scores[s].values())) for s in seeds]
    threads = variants.get("blas_threads")
    return (text + "; in the recorded runs of the variants section"
            + (f" ({threads} BLAS thread{'' if str(threads) == '1' else 's'})" if threads else "")
            + f", at the same sizes, the agent's defaults average "
            f"{', '.join(_fmt(m) for m in means)} dB on these photos with seeds "
            f"{_names([str(s) for s in seeds])}.")


def results_prose(build):
    runs = build.runs
    n = len(runs)
    lines = []
    basic_vs_lookup = _photos_where(
        runs, lambda r: r.scores["basic"]["psnr"] < r.scores["gray_lookup"]["psnr"])
    gray_rmse_basic = mean_diag(runs, "basic", "gray_rmse")
    true_gray = mean_score(runs, "basic_true_gray", "psnr")
    basic = mean_score(runs, "basic", "psnr")
    lookup_gap = mean_score(runs, "gray_lookup", "psnr") - basic
    main_reason = true_gray - basic > 0.5 * lookup_gap
    keepers = BASELINES + (("improved",) if all("improved" in r.scores for r in runs) else ())
    gray_kept = max(mean_diag(runs, m, "gray_rmse") for m in keepers) < GRAY_ROUNDING_RMSE
    lines.append(
        (f"The basic agent scores below the gray-lookup baseline in PSNR on "
         f"{len(basic_vs_lookup)} of {n} photos. "
         + ("The main reason is in the last column: its " if main_reason else
            "Part of the reason is in the last column: its ")
         if basic_vs_lookup else
         "The basic agent scores above the gray-lookup baseline in PSNR on every photo, yet a "
         "large part of its error is in the last column: its ")
        + f"output replaces every pixel by one of {COLORS} palette colours, brightness included, so it "
        f"gets the gray itself wrong by {_fmt(gray_rmse_basic)} RMSE on average"
        + (", while every baseline" + (" and the improved agent" if "improved" in keepers else "")
           + " keep the known gray exactly (their gray RMSE is only the rounding to 8 bits). "
           if gray_kept else ". ")
        + "Putting the basic agent's colours on the true gray "
        f"(`{LABELS['basic_true_gray']}`) gives {_fmt(true_gray)} dB instead of {_fmt(basic)} dB: "
        + (f"{_fmt(true_gray - basic)} dB of its error is brightness, not colour."
           if true_gray >= basic else
           "on these photos its palette's brightness happens to score higher."))
    perfect = mean_score(runs, "basic_palette", "psnr")
    bound = mean_score(runs, "palette5", "psnr")
    lines.append("")
    lines.append(
        f"Two bounds keep the agent's output a palette colour per pixel, brightness included, "
        f"so they measure the vote and the palette at the palette's brightness, not shares of "
        f"an error that add up. With its own palette and a perfect vote the basic agent "
        f"would reach {_fmt(perfect)} dB, so the 3x3-patch vote costs {_fmt(perfect - basic)} dB; "
        f"a palette fitted on the right half itself would reach {_fmt(bound)} dB, "
        + (f"so learning the palette on the other half costs a further {_fmt(bound - perfect)} dB."
           if bound >= perfect else
           f"{_fmt(perfect - bound)} dB below the left half's palette: k-means minimises the RGB "
           "error from a random start, which need not give the palette best for the vote."))
    if all("improved" in r.scores for r in runs):
        imp = [colour_ratio(r.scores["improved"]) for r in runs]
        basic = [colour_ratio(r.scores["basic"]) for r in runs]
        lines.append("")
        lines.append(
            f"Colourfulness: the improved agent's outputs have {_fmt(_mean(imp))} times the "
            f"truth's colourfulness on average{_ratio_range(imp)}, the basic agent's "
            f"{_fmt(_mean(basic))} times{_ratio_range(basic)}"
            + _basic_colourfulness_reason(basic))
    return lines


def _ratio_range(ratios):
    """`` (per photo a to b)`` for more than one photo, else nothing."""
    finite = [r for r in ratios if math.isfinite(r)]
    return f" (per photo {_fmt(min(finite))} to {_fmt(max(finite))})" if len(finite) > 1 else ""


def _basic_colourfulness_reason(ratios):
    """Why the basic agent's colourfulness ratios (output / truth, one per photo) are what
    they are, in words."""
    finite = [r for r in ratios if math.isfinite(r)]
    if not finite:
        return " (the truth has no colour to compare with)."
    ratio = _mean(finite)
    if min(finite) < 0.9 and max(finite) > 1.1:
        return (": too vivid on some photos and too dull on others, so the mean hides opposite "
                "errors (colourfulness measures how vivid an output is, not whether it is "
                "right).")
    if ratio > 1.1:
        return (" (its blocky palette colours change strongly from pixel to pixel, so it looks "
                "more colourful than the truth even where its colours are wrong: colourfulness "
                "measures how vivid an output is, not whether it is right).")
    if ratio >= 0.9:
        return (" (about as colourful as the truth, even where its colours are wrong: "
                "colourfulness measures how vivid an output is, not whether it is right).")
    return " (its palette averages whole clusters of colours, which dulls them)."


def _reduction_reached(run, k_at):
    """Share of the hindsight RMSE drop from the smallest to the largest k reached at k_at."""
    ks, hind = list(run.auto["k"]), run.auto["hindsight_rmse"]
    total = hind[0] - hind[-1]
    return (hind[0] - hind[ks.index(k_at)]) / total if total > 0 and k_at in ks else float("nan")


def auto_prose(runs):
    ks = list(runs[0].auto["k"])
    regret = {r.name: r.auto["hindsight_rmse"][list(r.auto["k"]).index(r.auto["chosen"])]
              - min(r.auto["hindsight_rmse"]) for r in runs}
    auto_better = _photos_where(runs, lambda r: r.scores["basic_auto"]["psnr"] > r.scores["basic"]["psnr"])
    gain = mean_score(runs, "basic_auto", "psnr") - mean_score(runs, "basic", "psnr")
    above5 = _photos_where(runs, lambda r: r.auto["chosen"] > COLORS)
    worst = max(regret, key=regret.get)
    k_mid = COLORS + 1 if COLORS + 1 in ks else ks[len(ks) // 2]
    reached = _mean([_reduction_reached(r, k_mid) for r in runs])
    # the share a straight line from the first k to the last would reach at k_mid
    even = (k_mid - ks[0]) / (ks[-1] - ks[0]) if ks[-1] > ks[0] else 1.0
    # at how many k each photo's validation curve lies above its right-half curve
    strip_higher = {r.name: sum(v > h for v, h in zip(r.auto["validation_rmse"],
                                                      r.auto["hindsight_rmse"]))
                    for r in runs}
    strip_higher = {name: n for name, n in strip_higher.items() if n}
    lines = [
        "`--colors auto` holds out the columns of the left half nearest the right half "
        f"({AUTO_STRIP_FRACTION:.0%} of them) as a validation strip, trains the agent on the rest for "
        f"every k from {ks[0]} to {ks[-1]}, and picks the {runs[0].auto['rule']} (the "
        f"{AUTO_TOLERANCE:.0%} tolerance prefers the smaller palette when more colours buy "
        "little). The hindsight curve is the same sweep trained on the whole left half and "
        "scored on the right half: what no agent may look at when choosing, shown only to judge "
        "the choice.",
        "",
        (f"More colours help{' with diminishing returns' if reached > even else ''}: on "
         f"average {reached:.0%} of the right-half error reduction from k = {ks[0]} to "
         f"k = {ks[-1]} is already reached at k = {k_mid} ({even:.0%} of the way). "
         if math.isfinite(reached) else
         f"More colours do not reduce the right-half error between k = {ks[0]} and k = {ks[-1]} "
         "on these photos. ")
        + f"The chosen k is above the coursework's {COLORS} on {len(above5)} of {len(runs)} photos"
        + (f" ({_names(above5)})" if above5 else "") +
        f", and lands on average {_fmt(_mean(list(regret.values())))} RGB RMSE above the "
        f"hindsight optimum (worst: {worst}, {_fmt(regret[worst])}). With the chosen k the basic "
        f"agent's right-half PSNR is {_fmt(abs(gain))} dB {'higher' if gain >= 0 else 'lower'} "
        f"than with {COLORS} colours on average, better on {len(auto_better)} of {len(runs)} photos.",
    ]
    if COLORS in ks and all("basic" in r.scores for r in runs):
        rounding = max(abs(r.auto["hindsight_rmse"][ks.index(COLORS)] - r.scores["basic"]["rmse"])
                       for r in runs)
        lines[-1] += (" The sweep scores the palette colours before rounding to 8 bits, so its "
                      f"k = {COLORS} column differs from the basic agent's RMSE in the score "
                      f"tables (rounded, as a PNG stores it) by up to {_fmt(rounding)}.")
    if strip_higher:
        counts = _names([f"{n} ({name})" for name, n in strip_higher.items()])
        lines[-1] += (f" The validation error lies above the right half's at {counts} of the "
                      f"{len(ks)} values of k: the strip "
                      "is a narrow band of the photo with its own content, so its level differs "
                      "from the right half's even where the shape of the curve agrees.")
    return lines


def training_prose(runs, config):
    trained = [r for r in runs if r.improved and r.improved.get("training")]
    if not trained:
        return []
    best = [r.improved["training"]["best_epoch"] + 1 for r in trained]
    run_epochs = [r.improved["training"]["epochs_run"] for r in trained]
    stopped = [r.name for r in trained if r.improved["training"]["stopped_early"]]
    capped = [r.name for r in trained
              if r.improved["training"]["best_epoch"] + 1 == config.get("epochs")]
    gaps, first_gaps, later = [], [], {}
    for r in trained:
        hist = r.improved["training"]
        if hist["val_loss"]:
            b = hist["best_epoch"]
            gaps.append(hist["val_loss"][b] - hist["train_loss"][b])
            first_gaps.append(hist["val_loss"][0] - hist["train_loss"][0])
            if b + 1 < len(hist["val_loss"]) and hist["train_loss"][-1] < hist["train_loss"][b]:
                later[r.name] = hist["val_loss"][-1] - hist["val_loss"][b]
    text = (f"The best validation loss came at epoch {_names([str(b) for b in best])} "
            f"(of {_names([str(e) for e in run_epochs])} run; at most {config.get('epochs', '?')}, "
            f"patience {config.get('patience', '?')}). Training stopped early on "
            f"{len(stopped)} of {len(trained)} photos; `fit` restores the weights of the best "
            "epoch.")
    if capped:
        text += (f" On {_names(capped)} the best epoch is the last one allowed: the validation "
                 "loss was still falling, so more epochs might have helped there.")
    if gaps:
        averaged = (", with the moving average of the weights rather than the weights being "
                    "trained" if config.get("ema_decay") else "")
        text += (f" At the restored epoch the validation loss is on average {_fmt(_mean(gaps), 3)} "
                 f"above the training loss, and already {_fmt(_mean(first_gaps), 3)} above it "
                 "after the first epoch: the two are not measured alike (the training loss "
                 "averages the epoch's minibatches of crops in training mode, with batch "
                 "statistics; the validation loss is one pass over the whole left half in "
                 f"evaluation mode{averaged}, scored on the strip), so the gap mixes those "
                 "differences "
                 "with the strip being unseen; the validation curve's own course is the "
                 "better sign of overfitting.")
    if later:
        text += (f" After the restored epoch the training loss kept falling on "
                 f"{_names(list(later))}, while the validation loss never got back below its "
                 f"best (it ended {_names([_fmt(v, 3) for v in later.values()])} above it): "
                 "those later weights fit the training columns better without carrying over "
                 "better to the strip, and restoring the best epoch discards them.")
    return [text]


def _saturation_clause(sat, rest):
    """How the error on the most saturated pixels compares with the rest, in words (the
    numbers alone where there is no error elsewhere to compare with)."""
    numbers = (f"on the {SATURATED_FRACTION:.0%} most saturated true pixels its mean CIEDE2000 is "
               f"{_fmt(sat)}, against {_fmt(rest)} elsewhere")
    if not (rest > 0 and math.isfinite(sat)):
        return numbers
    change = sat / rest - 1
    if change > 0.1:
        verdict = f"{change:.0%} more error where the true colour is strong"
    elif change < -0.1:
        verdict = f"{-change:.0%} less error on the strongly coloured pixels than on the rest"
    else:
        verdict = "within 10 % of its error elsewhere"
    return f"{numbers}: {verdict}"


def failures_prose(build):
    runs = build.runs
    lines = []
    worst_basic = min(runs, key=lambda r: r.scores["basic"]["psnr"])
    perfect_gap = mean_score(runs, "basic_palette", "psnr") - mean_score(runs, "basic", "psnr")
    lines.append(
        f"**Basic agent.** Its worst photo is {worst_basic.name} "
        f"({_fmt(worst_basic.scores['basic']['psnr'])} dB). Its errors have three sources, "
        "each measured above: (1) brightness: a palette colour replaces the pixel's true "
        f"brightness (gray RMSE {_fmt(mean_diag(runs, 'basic', 'gray_rmse'))} on average), "
        "which gives the posterised look of the figures; (2) the vote: a 3x3 gray patch "
        "carries almost no context, so surfaces with similar local texture and brightness "
        "get the same colour even when their true colours differ "
        f"({_fmt(perfect_gap)} dB between the agent and a perfect vote with its own palette); "
        "(3) the palette: colours the left half does not show cannot appear at all, and "
        f"{COLORS} colours average whole families of shades. Also, "
        + _saturation_clause(mean_diag(runs, "basic", "de_saturated"), mean_diag(runs, "basic", "de_rest"))
        + f". The mistakes make sense: every wrong colour is the majority colour of {NEIGHBORS} "
        "training patches that really do look like the test patch in gray.")
    if all("improved" in r.scores for r in runs):
        worst_imp = min(runs, key=lambda r: r.scores["improved"]["psnr"])
        losers = _photos_where(runs, lambda r: r.scores["improved"]["psnr"] < r.scores["gray_lookup"]["psnr"])
        de_losers = _photos_where(
            runs, lambda r: r.scores["improved"]["delta_e2000"] > r.scores["gray_lookup"]["delta_e2000"])
        ratio = _mean([colour_ratio(r.scores["improved"]) for r in runs])
        gray_rmse = mean_diag(runs, "improved", "gray_rmse")
        lines.append("")
        lines.append(
            f"**Improved agent.** Its worst photo is {worst_imp.name} "
            f"({_fmt(worst_imp.scores['improved']['psnr'])} dB). "
            + (f"Its brightness is right (gray RMSE {_fmt(gray_rmse)}, the rounding to 8 bits), "
               "so all its error is colour; " if gray_rmse < GRAY_ROUNDING_RMSE else
               f"Its gray RMSE is {_fmt(gray_rmse)}, more than the rounding to 8 bits: the gamut "
               "shrink of strong colours changes some brightness too; ")
            + _saturation_clause(mean_diag(runs, "improved", "de_saturated"),
                                 mean_diag(runs, "improved", "de_rest"))
            + f". Its outputs carry {_fmt(ratio)} times the truth's colourfulness"
            + (": where it is unsure it hedges toward the average colour of what it has seen "
               "with that gray and texture, which dulls colours rather than inventing wrong "
               "vivid ones." if ratio < 0.9 else
               ", so it is not washed out" + (
                   ": the classification loss with rebalancing and the annealed mean keep colours "
                   "vivid." if _improved_config(runs).get("loss") == "cls" else "."))
            + f" It scores below the gray-lookup baseline in PSNR on {len(losers)} of "
            f"{len(runs)} photos" + (f" ({_names(losers)})" if losers else "")
            + f", and in CIEDE2000 on {len(de_losers)} of {len(runs)}"
            + (f" ({_names(de_losers)})" if de_losers else "") + ". Its mistakes "
            "make sense as well: it can only give the right half colours that the left half "
            "shows beside similar gray structures, so an object or background that appears "
            "only on the right gets the colour of whatever the left half has that looks alike."
            + below_gray_sentence(build.variants))
    return lines


def below_gray_sentence(variants):
    """The recorded photos (variants JSON) on which the agent's defaults score below the gray
    image, with the best any coloured method reached there; empty when there are none."""
    photos = (variants or {}).get("photos", {})
    worse = {}
    for name, entry in photos.items():
        agent = entry.get("agents", {}).get("improved:default", {}).get("psnr")
        gray = entry.get("baselines", {}).get("gray", {}).get("psnr")
        if agent is not None and gray is not None and agent < gray:
            coloured = [v.get("psnr") for k, v in entry.get("baselines", {}).items() if k != "gray"]
            coloured += [v.get("psnr") for v in entry.get("agents", {}).values()]
            worse[name] = (agent, gray, max(x for x in coloured if x is not None))
    if not worse:
        return ""
    cases = _names([f"{name} ({_fmt(a)} dB against {_fmt(g)} dB for no colour at all; the best "
                    f"coloured method there reaches {_fmt(b)} dB)" for name, (a, g, b) in worse.items()])
    text = (f" The worst case is among the recorded variant photos: on {cases} it is worse "
            "than leaving the photo gray.")
    if all(best < gray for _, gray, best in worse.values()):
        text += (" Every coloured method is below gray there too: the colours the left half "
                 "teaches for those gray levels are wrong for the right half, which no learner "
                 "of this protocol can tell from the left half alone.")
    return text


def _input_planes_text(config):
    planes = [f"the gray image normalised as (gray - {GRAY_CENTER:g}) / {GRAY_SCALE:g}"]
    if config.get("rows"):
        planes.append("the row position in [-1, 1]")
    if config.get("prior"):
        planes.append("a prior: the mean chroma of the training pixels with the same gray "
                      "level (the gray-lookup baseline's guess), so the network learns a "
                      "correction of a robust first guess")
    if config.get("context"):
        planes.append("coarse context: the mean gray over two large boxes around each pixel")
    return _names(planes)


def improved_p1(runs, config):
    """P1 for the improved agent, from its configuration."""
    loss_key = config.get("loss")
    loss = LOSS_TEXT.get(loss_key, f"the `{loss_key}` loss").format(**config)
    arch = ARCH_TEXT.get(config.get("arch"), f"the `{config.get('arch')}` network")
    params = [r.improved.get("parameters") for r in runs if r.improved and r.improved.get("parameters")]
    bins = [r.improved.get("bins") for r in runs if r.improved and r.improved.get("bins")]
    params_text = (f"{params[0]:,} parameters" if len(set(params)) == 1 else
                   f"{min(params):,} to {max(params):,} parameters (the head has one output per "
                   "chroma bin)") if params else "its parameters"
    output = ("*Output space*: the gray-preserving chroma (u, v) of every pixel: with e1, e2 an "
              "orthonormal basis of the plane orthogonal to (0.21, 0.72, 0.07), the colour is "
              "rebuilt as gray (1, 1, 1) + u e1 + v e2, so the output's gray equals the input "
              "gray exactly whatever the network predicts (out-of-gamut colours are pulled "
              "toward gray, never clipped channel by channel)")
    if loss_key == "cls":
        output += (f"; the network itself outputs a distribution over Q chroma bins (Q = "
                   f"{_names([str(b) for b in bins])} here), decoded by the annealed mean at "
                   f"temperature {config.get('temperature')}")
    schedule = (f", the rate halved once {config.get('plateau') + 1} epochs in a row have not "
                f"improved the validation loss" if config.get("plateau") else "")
    if config.get("ema_decay"):
        schedule += (f"; the weights are also averaged over the steps (an exponential moving "
                     f"average, decay {config.get('ema_decay'):g}), and the averaged weights are "
                     "the ones validated, kept and used")
    return (f"**Improved agent.** *Input space*: whole images, as planes: "
            f"{_input_planes_text(config)}. {output}. *Model space*: {arch}; width "
            f"{config.get('width')} channels, {params_text}. *Loss*: {loss}. *Learning*: Adam "
            f"(learning rate {config.get('lr')}{schedule}) on minibatches of "
            f"{config.get('batch_size')} random {config.get('crop')}-px crops from a seeded bank "
            f"of {config.get('bank_size')} crops of the training columns, randomly flipped "
            "left-right; forward and backward passes are the engine's hand-written ones (`nn/`).")


def _classification_choice(config, variants):
    """Where the classification settings come from (empty for a regression loss)."""
    if config.get("loss") != "cls":
        return ""
    text = (f" The bins (side {config.get('bin_step'):g} chroma units), the "
            f"{config.get('neighbors')} soft neighbours and the rebalancing "
            f"{config.get('rebalance'):g} follow Zhang, Isola and Efros (2016)")
    if config.get("temperature") == PAPER_TEMPERATURE:
        return text + f", and so does the annealed-mean temperature {PAPER_TEMPERATURE}."
    temperature = config.get("temperature")
    text += (f"; the annealed-mean temperature {temperature:g} (the paper uses "
             f"{PAPER_TEMPERATURE}) is this project's, from re-decoding trained networks on the "
             "benchmark photos and scoring their right halves (a higher temperature is closer "
             "to the mean, with less colour but less risk)")
    means = temperature_means(variants)
    if temperature not in means:
        return text + "."
    best = max(means, key=means.get)
    listed = ", ".join(f"{t:g}: {_fmt(m)} dB" for t, m in sorted(means.items()))
    if best == temperature:
        return text + f". In the decodings table it scores best ({listed})."
    gap = means[best] - means[temperature]
    if _fmt(gap) == _fmt(0.0):
        return text + (f". In the decodings table it ties with temperature {best:g} to the "
                       f"0.01 dB ({listed}).")
    text += (f". In the decodings table temperature {best:g} scores {_fmt(gap)} dB higher "
             f"({listed}), on one seed's networks")
    seeds = seed_scores((variants or {}).get("photos", {}))
    if len(seeds) < 2:
        return text + "."
    seed_means = [float(np.mean(list(v.values()))) for v in seeds.values()]
    spread = max(seed_means) - min(seed_means)
    return text + (f": {'less' if gap < spread else 'more'} than the {_fmt(spread)} dB over "
                   "which the seeds spread the mean.")


def temperature_means(variants):
    """``{temperature: mean PSNR}`` of the default networks re-decoded at each temperature
    (the decodings of the variants JSON); empty without them."""
    runs = _redecoded_runs((variants or {}).get("photos", {}))
    means = {}
    for name in next(iter(runs.values()))["decodings"] if runs else ():
        values = _decoding_scores(runs, name)
        if name.startswith("temperature ") and None not in values:
            means[float(name.split()[1])] = float(np.mean(values))
    return means


def improved_p3(config):
    """P3 for the improved agent, from its configuration."""
    steps = ["normalises the gray with fixed constants (so a model trained on one photo reads "
             "another on the same scale)"]
    if config.get("prior") or config.get("context"):
        steps.append("computes its extra input planes from the gray (and, for the prior, from "
                     "the training columns' colours)")
    steps.append("pads each input to a multiple of the network's downsampling by edge "
                 "replication and crops the output back")
    if config.get("flip_average"):
        steps.append("averages the network's outputs for the image and its mirror image")
    if config.get("loss") == "cls":
        steps.append(f"decodes the bin scores by the annealed mean (temperature "
                     f"{config.get('temperature')})")
    if config.get("saturation", 1.0) != 1.0:
        steps.append(f"scales the chroma by {config.get('saturation')}")
    propagate = config.get("propagate")
    if propagate:
        how = ("at the strength, among "
               + ", ".join(f"{v:g}" for v in PROPAGATE_GRID)
               + ", that best continues the training columns' colours into the validation "
                 "strip" if propagate == "auto" else f"at strength {propagate:g}")
        steps.append("propagates the left half's true colours across the seam into the right "
                     "half along regions of similar gray, with its own chroma as a light data "
                     "term (the scribble colorization of Levin, Lischinski and Weiss 2004, "
                     f"{how})")
    if config.get("refine"):
        which = " of photos without known neighbours" if propagate else ""
        steps.append(f"refines the chroma{which} so that colour edges follow gray edges "
                     f"(gray-guided edge-aware smoothing with the same energy, strength "
                     f"{config.get('refine'):g})")
    steps.append("rebuilds RGB from the exact gray")
    return ("The improved agent " + _names(steps) + ". For photos larger than the working size "
            "it predicts chroma at the working size and upsamples only the chroma, so the "
            "full-resolution gray keeps every detail.")


def p_answers(build, config):
    runs = build.runs
    train_patches = [r.size[0] * (r.size[1] // 2) for r in runs]
    lines = ["### P1. Spaces, loss and learning algorithm of each agent", ""]
    lines.append(
        "**Basic agent.** *Input space*: the 3x3 gray patch around a pixel, a vector in "
        "[0, 255]^9 (gray = 0.21 R + 0.72 G + 0.07 B as floats; borders edge-replicated; each "
        f"half patched on its own). *Output space*: one of the {COLORS} representative colours, "
        f"i.e. a label in {{1, ..., {COLORS}}} mapped to an RGB colour that replaces the whole "
        f"pixel, brightness included. *Model space*: a palette of {COLORS} RGB colours plus the "
        "labelled training "
        f"patches themselves (non-parametric: {_names([f'{n:,}' for n in train_patches])} "
        "patches for these photos). *Loss*: k-means minimises the within-cluster sum of "
        f"squared RGB distances (inertia); the vote is the majority label among the {NEIGHBORS} nearest "
        "patches (Euclidean on the 9 gray values), which estimates the most likely label given "
        "the patch, i.e. it aims at the 0-1 loss over labels; among colours tied on the top "
        "count, the one held by the nearest neighbour wins. *Learning*: greedy k-means++ "
        f"seeding and Lloyd iterations to convergence, {RESTARTS} seeded restarts, lowest inertia kept "
        "(`colorize/kmeans.py`); exact nearest neighbours, ordered by (distance, training index), by a sweep along the "
        "patches' first principal axis with exact lower bounds and an exact float64 re-rank "
        "(`colorize/knn.py`).")
    lines.append("")
    if config:
        lines.append(improved_p1(runs, config))
    lines += ["", "### P2. How structure and parameters were chosen", ""]
    lines.append(
        f"The basic agent's structure is the coursework's (3x3 patches, {NEIGHBORS} neighbours, "
        f"{COLORS} colours, majority vote); its one free structural choice, the number of colours, is the "
        "bonus question, answered by the validation curve above with the left half alone. "
        "Its parameters (palette) are fitted by k-means; the seed fixes the only random step.")
    if config:
        lines.append("")
        lines.append(
            "The improved agent's architecture, loss and prior plane were compared by "
            "measurement: the variants were trained and scored under the same protocol (the "
            "table in [the improved agent](#the-improved-agent-training-and-variants))"
            + variants_verdict(build.variants) + ". Its width "
            f"({config.get('width')} channels) and the row-position planes it leaves out were "
            "settled in development runs that this report does not repeat (the coarse-context "
            "planes it also leaves out are a variant of that table); the number of epochs is "
            "not tuned by hand but by early stopping on the validation strip."
            + _classification_choice(config, build.variants)
            + " Those development runs scored the right halves of the benchmark photos, which "
            "include this report's: the improved agent's settings were tuned on the photos it "
            "is scored on here, so its scores are somewhat optimistic for a photo it has never "
            "seen (each run still learns from the left half only).")
    lines += ["", "### P3. Pre- and post-processing", ""]
    lines.append(
        f"Both agents: the photo is cut at column W // 2, each half is resized (Lanczos) on "
        f"its own so that the photo's longer side is at most {build.settings.max_side} px "
        "(resizing the whole photo would blend the right half's first columns into the left "
        "half's last ones, test data into training data), and it is converted to gray with the "
        "coursework's formula (kept as floats). Outputs are rounded to 8-bit RGB before scoring, "
        "as a PNG stores them. The basic agent has no other processing: its output is "
        "palette colours, which is why it cannot keep the true brightness (measured above: "
        "restoring the true gray as a post-processing step would add "
        f"{_fmt(mean_score(runs, 'basic_true_gray', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB).")
    if config:
        lines.append("")
        lines.append(
            improved_p3(config))
    lines += ["", "### P4. Training, and how overfitting is avoided", ""]
    lines.append(
        f"The basic agent has little to overfit: k-means has {COLORS} x 3 numbers, and the vote "
        f"is a majority of {NEIGHBORS} neighbours instead of a copy of the single nearest one. "
        "Its one capacity "
        "knob, k, is chosen on held-out columns (the bonus curve): more colours help less "
        "and less, and the tolerance of the rule keeps the palette no larger than the "
        "validation strip justifies.")
    if config:
        lines.append("")
        lines.append(
            f"The improved agent trains on the left half only. The {VALIDATION_FRACTION:.0%} of "
            "its columns nearest the right half are a validation strip: training crops never contain its colours, "
            "its loss is computed every epoch with the whole left half as context, training "
            "stops when it has not improved for "
            f"{config.get('patience')} epochs, and the weights of the best epoch are restored "
            "(the loss curves above). Random crops and left-right flips multiply the training "
            "views of one half photo; the small width limits capacity; everything "
            "is seeded, so a run repeats exactly on the CPU.")
    lines += ["", "### P5. How the agents are compared, and why the comparison is fair", ""]
    lines.append(
        "Every method sees the same photo at the same working size, the same left half and the "
        "same seed, and is scored on the same right half only, against its true colours, "
        "after the same rounding to 8 bits (the k sweep of the bonus scores its palette "
        "colours before rounding). The validation strips both agents use lie inside "
        "the left half; within a run, nothing but the scoring, the two bounds and the "
        "hindsight curve of the bonus ever reads the right half's colours, and those are "
        "labelled as what they are, not agents. One "
        "caveat: the improved agent's defaults (its decoding temperature, the propagation "
        "strengths it chooses from, and the variant itself) were picked during development "
        "by their right-half scores on benchmark photos that include these, so its scores "
        "here are those of tuned settings on photos it was tuned on, not of unseen photos. "
        "The basic agent's settings are the coursework's and were not tuned. Three baselines "
        "(no colour, the left half's mean chroma, the mean chroma per gray level) show what "
        f"trivial colourizers already achieve, and the {BOUND_COLORS}-colour palette bound "
        f"shows the lowest RMSE (highest PSNR) a {BOUND_COLORS}-colour output can reach, up to "
        "k-means finding a local optimum; it bounds no other score (SSIM, for one, can be "
        "higher). The scores cover complementary aspects: RMSE and PSNR "
        "(pixel error), SSIM (structure), CIEDE2000 (perceived colour difference) and "
        "colourfulness next to the truth's (a washed-out output can have a fine RMSE). The "
        "means are over photos, so each photo counts once whatever its size.")
    lines += ["", "### P6. What would improve it with more time and compute", ""]
    lines.append(
        f"- Measured here: the basic agent would gain "
        f"{_fmt(mean_score(runs, 'basic_true_gray', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB "
        "by keeping the true gray and predicting colour only, and, while it outputs palette "
        "colours, up to "
        f"{_fmt(mean_score(runs, 'basic_palette', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB "
        "from a better vote (the perfect-vote bound). The two do not add up: on the true gray a "
        "better vote is scored without the palette's brightness errors, which no longer hide "
        "its colour errors. Larger patches or multi-scale patches "
        "would give the vote the context a 3x3 patch lacks.")
    lines.append(
        "- Both agents learn from half of one photo. The largest gain would most likely come from "
        "pre-training the network on many photos (as Zhang et al. did on a million ImageNet "
        "images) and fine-tuning it on the left half: semantic knowledge (sky is blue, grass "
        "is green, skin has a narrow range of hues) cannot be learnt from one half photo.")
    lines.append(
        "- With a GPU: wider and deeper networks, more crops and epochs, ensembles over "
        "seeds, and a sweep of the decoding settings (temperature, bin size, smoothing "
        "strength) per photo on the validation strip.")
    lines.append(
        "- Beyond per-pixel losses: a perceptual or adversarial loss for vivid, plausible "
        "colours, and user hints (a few colour scribbles propagated by the edge-aware solver "
        "that already carries the left half's colours across the seam).")
    return lines


def gpu_lines(build):
    """The GPU section: this build's device, and the GPU figures recorded on a lent GPU
    machine (``report/data/gpu_measurements.json``), which a CPU build cannot measure."""
    on_gpu = build.device.startswith("gpu")
    status = (f"This report was built on {build.device}." if on_gpu else
              f"This report was built on {build.device}, without a GPU.")
    gpu = build.gpu_measurements
    if gpu is None:
        return [status + " No GPU measurements are recorded yet (`python -m pytest -m gpu` and "
                "`python -m agents.bench_gpu` on an NVIDIA GPU with CuPy give them)."]
    tests = gpu["tests"]
    out = [status + f" Recorded on {gpu['date']} on {gpu['machine']}. {gpu['note']}", "",
           f"`{tests['command']}`: {tests['passed']} passed, {tests['failed']} failed in "
           f"{tests['seconds']:.0f} s (every layer and loss, a training run, k-means, kNN, chroma "
           "bins, edge-aware smoothing and both agents against NumPy, and both command lines "
           "with `--device gpu`).", "",
           "| workload | CPU s | GPU s | speed-up |", "|---|---:|---:|---:|"]
    for row in gpu["rows"]:
        if row["cpu_s"] is None or row["gpu_s"] is None:
            out.append(f"| {row['workload']} | - | - | {row['missing']} |")
        else:
            speedup = f"{row['cpu_s'] / row['gpu_s']:.1f}x" if row["gpu_s"] > 0 else "n/a"
            out.append(f"| {row['workload']} | {row['cpu_s']:.4g} | {row['gpu_s']:.4g} | {speedup} |")
    if gpu.get("findings"):
        out += ["", gpu["findings"]]
    return out


def render(build):
    """The whole REPORT.md as a string."""
    runs = build.runs
    s = build.settings
    config = _improved_config(runs)
    photos = _names([f"`{r.name}`" for r in runs])
    out = ["# Colourizing the right half of a photo: the basic and the improved agent", ""]
    command = build.command or ("python -m report --quick" if build.quick else "python -m report")
    out.append(
        f"Generated by `{command}` from the photos in `{build.images}` ({photos}), working size "
        f"{s.max_side} px on the longer side, seed {s.seed}, device {build.device}. Every number "
        "and picture below comes from that run, except where the text says it cites recorded "
        "measurements (`report/data`: the improved agent's variants, which also feed a few "
        "sentences of the summary, the failures and P2, and the GPU); run the command "
        "again with the same number of BLAS "
        "threads and everything but the run times (marked *measured on this run*) comes out the "
        "same. (Another thread count sums the matrix products in another order, and training "
        "takes another course from there: early stopping may end a run at another epoch, so an "
        "improved-agent score can move as far as the seeds of the variants section move it.)")
    if build.quick:
        out += ["", "> **Quick build** (`--quick`): tiny photos and one epoch, for a smoke "
                "test. The numbers are not meaningful; run `python -m report` for the real report."]
    out += ["", "## The task", ""]
    out.append(
        "A colour photo is converted to gray with Gray = 0.21 R + 0.72 G + 0.07 B. Its **left "
        "half** (columns [0, W // 2)) is training data, in colour; its **right half** is test "
        "data: the agents see only its gray and must re-colour it. The **basic agent** (the "
        f"coursework's) learns {COLORS} representative colours by k-means and gives each "
        f"right-half pixel the majority colour of the {NEIGHBORS} training pixels whose 3x3 gray "
        "patches are "
        "nearest. The **improved agent** is a small convolutional network trained with the "
        "project's hand-written engine to predict the chroma of every pixel from the gray "
        "image. Both are scored on the right half only, against its true colours.")
    out += ["", TERMS]
    out += ["", "## Summary", ""]
    out += summary_lines(build)
    out += ["", "## Results", "", "### Mean over the photos", ""]
    out.append(
        "Right half only. RMSE is on 0..255 RGB; PSNR = 20 log10(255 / RMSE); SSIM on RGB "
        "(per channel, averaged); CIEDE2000 is the mean perceived colour difference (about 1 = "
        "just noticeable, above 10 = clearly different colours); colourfulness is Hasler and "
        "Suesstrunk's; `colour / truth` is the output's colourfulness over the truth's; `gray "
        "RMSE` is the error of the output's gray against the true gray (brightness alone). "
        "Rows starting with *bound* peek at the right half's colours and are not agents. Each "
        "cell of this table is the mean of that score over the photos, so its PSNR is the mean "
        "of the photos' PSNRs, not 20 log10(255 / mean RMSE).")
    out += ["", mean_table(runs), ""]
    out += results_prose(build)
    for r in runs:
        h, w = r.size
        oh, ow = r.original_size
        out += ["", f"### {r.name}", ""]
        size = f"{w} x {h} px" + (f" (resized from {ow} x {oh})" if (oh, ow) != (h, w) else "")
        outputs, errors = build.figures[r.name]
        out += [f"{size}. The dashed line marks the split; each agent's panel shows its "
                "whole output, so the basic agent's left half is in its palette colours and the "
                "improved agent's is the original. Below, the right half's gray (what "
                "the agents see) and the per-pixel CIEDE2000 error of the gray-lookup baseline and of "
                "both agents, on one colour scale that ends at the 99th percentile of their "
                "errors (darker is better; the few larger errors show in the top colour).",
                "", f"![{r.name}]({outputs})", "", f"![{r.name}: errors]({errors})", "",
                photo_table(r)]
    out += ["", "### Run times (measured on this run)", ""]
    out.append(f"Seconds on {build.device}, wall clock; they vary from run to run and machine to "
               "machine (the scores do not).")
    out += ["", timing_table(build)]

    out += ["", "## The bonus: how many colours?", ""]
    out += auto_prose(runs)
    out += ["", f"![k curves]({build.figures['k_curves']})", "", k_table(runs)]

    if config:
        out += ["", "## The improved agent: training and variants", ""]
        out.append("Training (left half only) and validation (the strip of the left half "
                   "nearest the test half) loss per epoch; the dotted line marks the epoch "
                   "whose weights were restored.")
        out += ["", f"![loss curves]({build.figures['loss_curves']})", "", training_table(runs), ""]
        out += training_prose(runs, config)
        out += ["", "### Variants that were tried", ""]
        out += variants_section(build)

    out += ["", "## Where each agent fails, and whether its mistakes make sense", ""]
    out += failures_prose(build)
    out += ["", "## Answers to the coursework's questions", ""]
    out += p_answers(build, config)

    out += ["", "## The engine: gradient checks and speed", ""]
    if build.gradcheck is not None:
        worst = max(e for _, _, e in build.gradcheck)
        out.append(
            f"Every layer, container and loss of `nn/` against centred finite differences in "
            f"float64 (the cases of `python -m nn.gradcheck`, run in this process): "
            f"{len(build.gradcheck)} checks, worst relative error {worst:.1e}. Relative error = "
            "max |a - n| / max(1e-8, |a| + |n|) over all entries; the worst parameter or input "
            "is named.")
        out += ["", gradcheck_table(build.gradcheck)]
    for bench in build.benchmarks:
        out += ["", f"`{bench.command}` (measured on this run, {bench.seconds:.0f} s; ratios "
                "compare with the reference measured in the same process):", "", "```text",
                bench.output, "```"]
    out += ["", "## GPU", ""]
    out += gpu_lines(build)
    out += ["", "## Reproduce", ""]
    if build.seconds:
        out += [f"This build took {build.seconds:.0f} s on {build.device} (measured on this run).", ""]
    out += ["```sh", "pip install -e '.[test]'",
            "python -m report            # this file and report/figures/",
            "python -m report --quick --out /tmp/report   # a seconds-long smoke build",
            "```", ""]
    return "\n".join(out)
