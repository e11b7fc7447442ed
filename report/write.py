"""REPORT.md from the measurements: the prose that reads them, and :func:`render`, which puts
it together with the tables (:mod:`report.tables`), the figure links and the answers to the
coursework's questions (:mod:`report.answers`).

Every number in the text is inserted from the run or from the recorded measurements of
``report/data``, and every sentence that interprets a number is chosen by comparing the
numbers it talks about, so a different run cannot leave the prose claiming what its tables
contradict. Run times are the
only values that change from run to run; they sit in tables labelled as measured on this run.
"""

import math
from dataclasses import dataclass, field

from agents.basic import AUTO_STRIP_FRACTION, AUTO_TOLERANCE, COLORS, NEIGHBORS
from colorize.metrics import BASELINES
from report.answers import p_answers
from report.experiments import BOUND_COLORS, LABELS, SATURATED_FRACTION
from report.tables import (colour_ratio, fmt, gradcheck_table, join_names, k_table, mean_diag,
                           mean_of, mean_score, mean_table, photo_table, seed_scores,
                           timing_table, training_table, variants_section)

GRAY_ROUNDING_RMSE = 0.5
"""Below this gray RMSE an output keeps the known gray but for rounding: rounding each RGB
value to 8 bits moves the gray by about 0.22 RMSE (a uniform error of sd 0.29 per channel,
weighted 0.21 / 0.72 / 0.07)."""


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


def best_baseline(runs):
    """The baseline with the highest mean PSNR over ``runs``."""
    return max(BASELINES, key=lambda b: mean_score(runs, b, "psnr"))


def plural(n, word):
    """``1 photo``, ``2 photos``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def photos_where(runs, predicate):
    """The names of the runs for which ``predicate(run)`` holds."""
    return [r.name for r in runs if predicate(r)]



def _improved_config(runs):
    for r in runs:
        if r.improved:
            return r.improved.get("config", {})
    return {}


def summary_lines(build):
    runs = build.runs
    n = len(runs)
    best_base = best_baseline(runs)
    basic = mean_score(runs, "basic", "psnr")
    base = mean_score(runs, best_base, "psnr")
    lines = [f"- **{plural(n, 'photo')}**, right half only, mean over photos. The basic agent "
             f"({COLORS} colours) "
             f"reaches {fmt(basic)} dB PSNR and CIEDE2000 {fmt(mean_score(runs, 'basic', 'delta_e2000'))}; "
             f"the best baseline ({LABELS[best_base]}) {fmt(base)} dB and "
             f"{fmt(mean_score(runs, best_base, 'delta_e2000'))}."]
    if all("improved" in r.scores for r in runs):
        imp = mean_score(runs, "improved", "psnr")
        wins = photos_where(runs, lambda r: r.scores["improved"]["psnr"] > r.scores["basic"]["psnr"])
        lines.append(
            f"- The improved agent reaches {fmt(imp)} dB and CIEDE2000 "
            f"{fmt(mean_score(runs, 'improved', 'delta_e2000'))}: {fmt(abs(imp - basic))} dB "
            f"{'above' if imp >= basic else 'below'} the basic agent and {fmt(abs(imp - base))} dB "
            f"{'above' if imp >= base else 'below'} the best baseline. It beats the basic agent in "
            f"PSNR on {len(wins)} of {n} photos"
            + ("." if len(wins) == n else f" ({join_names(wins)}).")
            + _seed_sentence(build))
    bound = mean_score(runs, "palette5", "psnr")
    lines.append(f"- No output made of {BOUND_COLORS} colours could do better than about "
                 f"{fmt(bound)} dB on these right halves (k-means on the right half's own "
                 f"pixels, a bound that peeks at the answer); the basic agent is "
                 f"{fmt(abs(bound - basic))} dB {'below' if basic <= bound else 'above'} it.")
    chosen = [r.auto["chosen"] for r in runs]
    regret = [r.auto["hindsight_rmse"][list(r.auto["k"]).index(r.auto["chosen"])]
              - min(r.auto["hindsight_rmse"]) for r in runs]
    choices = join_names([f"{c} ({r.name})" for c, r in zip(chosen, runs)])
    lines.append(f"- Bonus: `--colors auto` chose k = {choices} "
                 f"from the left half alone; on the right half that k is on average "
                 f"{fmt(mean_of(regret))} RGB RMSE above the best k in hindsight.")
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
    means = [mean_of(list(scores[s].values())) for s in seeds]
    threads = variants.get("blas_threads")
    return (text + "; in the recorded runs of the variants section"
            + (f" ({threads} BLAS thread{'' if str(threads) == '1' else 's'})" if threads else "")
            + f", at the same sizes, the agent's defaults average "
            f"{', '.join(fmt(m) for m in means)} dB on these photos with seeds "
            f"{join_names([str(s) for s in seeds])}.")


def results_prose(build):
    runs = build.runs
    n = len(runs)
    lines = []
    basic_vs_lookup = photos_where(
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
        f"gets the gray itself wrong by {fmt(gray_rmse_basic)} RMSE on average"
        + (", while every baseline" + (" and the improved agent" if "improved" in keepers else "")
           + " keep the known gray exactly (their gray RMSE is only the rounding to 8 bits). "
           if gray_kept else ". ")
        + "Putting the basic agent's colours on the true gray "
        f"(`{LABELS['basic_true_gray']}`) gives {fmt(true_gray)} dB instead of {fmt(basic)} dB: "
        + (f"{fmt(true_gray - basic)} dB of its error is brightness, not colour."
           if true_gray >= basic else
           "on these photos its palette's brightness happens to score higher."))
    perfect = mean_score(runs, "basic_palette", "psnr")
    bound = mean_score(runs, "palette5", "psnr")
    lines.append("")
    lines.append(
        f"Two bounds keep the agent's output a palette colour per pixel, brightness included, "
        f"so they measure the vote and the palette at the palette's brightness, not shares of "
        f"an error that add up. With its own palette and a perfect vote the basic agent "
        f"would reach {fmt(perfect)} dB, so the 3x3-patch vote costs {fmt(perfect - basic)} dB; "
        f"a palette fitted on the right half itself would reach {fmt(bound)} dB, "
        + (f"so learning the palette on the other half costs a further {fmt(bound - perfect)} dB."
           if bound >= perfect else
           f"{fmt(perfect - bound)} dB below the left half's palette: k-means minimises the RGB "
           "error from a random start, which need not give the palette best for the vote."))
    if all("improved" in r.scores for r in runs):
        imp = [colour_ratio(r.scores["improved"]) for r in runs]
        basic = [colour_ratio(r.scores["basic"]) for r in runs]
        lines.append("")
        lines.append(
            f"Colourfulness: the improved agent's outputs have {fmt(mean_of(imp))} times the "
            f"truth's colourfulness on average{_ratio_range(imp)}, the basic agent's "
            f"{fmt(mean_of(basic))} times{_ratio_range(basic)}"
            + _basic_colourfulness_reason(basic))
    return lines


def _ratio_range(ratios):
    """`` (per photo a to b)`` for more than one photo, else nothing."""
    finite = [r for r in ratios if math.isfinite(r)]
    return f" (per photo {fmt(min(finite))} to {fmt(max(finite))})" if len(finite) > 1 else ""


def _basic_colourfulness_reason(ratios):
    """Why the basic agent's colourfulness ratios (output / truth, one per photo) are what
    they are, in words."""
    finite = [r for r in ratios if math.isfinite(r)]
    if not finite:
        return " (the truth has no colour to compare with)."
    ratio = mean_of(finite)
    if min(finite) < 0.9 and max(finite) > 1.1:
        vivid, dull = sum(r > 1.1 for r in finite), sum(r < 0.9 for r in finite)
        return (f": too vivid on {vivid} of {len(finite)} photos (a ratio above 1.1) and too "
                f"dull on {dull} (below 0.9), so the mean hides opposite errors (colourfulness "
                "measures how vivid an output is, not whether it is right).")
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
    auto_better = photos_where(runs, lambda r: r.scores["basic_auto"]["psnr"] > r.scores["basic"]["psnr"])
    gain = mean_score(runs, "basic_auto", "psnr") - mean_score(runs, "basic", "psnr")
    above5 = photos_where(runs, lambda r: r.auto["chosen"] > COLORS)
    worst = max(regret, key=regret.get)
    k_mid = COLORS + 1 if COLORS + 1 in ks else ks[len(ks) // 2]
    reached = mean_of([_reduction_reached(r, k_mid) for r in runs])
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
        + (f" ({join_names(above5)})" if above5 else "") +
        f", and lands on average {fmt(mean_of(list(regret.values())))} RGB RMSE above the "
        f"hindsight optimum (worst: {worst}, {fmt(regret[worst])}). With the chosen k the basic "
        f"agent's right-half PSNR is {fmt(abs(gain))} dB {'higher' if gain >= 0 else 'lower'} "
        f"than with {COLORS} colours on average, better on {len(auto_better)} of {len(runs)} photos.",
    ]
    if COLORS in ks and all("basic" in r.scores for r in runs):
        rounding = max(abs(r.auto["hindsight_rmse"][ks.index(COLORS)] - r.scores["basic"]["rmse"])
                       for r in runs)
        lines[-1] += (" The sweep scores the palette colours before rounding to 8 bits, so its "
                      f"k = {COLORS} column differs from the basic agent's RMSE in the score "
                      f"tables (rounded, as a PNG stores it) by up to {fmt(rounding)}.")
    if strip_higher:
        counts = join_names([f"{n} ({name})" for name, n in strip_higher.items()])
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
    # the best epoch being the last one allowed says the loss was still falling only when
    # there is an earlier epoch to fall from
    capped = [r.name for r in trained
              if r.improved["training"]["best_epoch"] + 1 == config.get("epochs")
              and len(r.improved["training"]["val_loss"]) > 1]
    gaps, first_gaps, later = [], [], {}
    for r in trained:
        hist = r.improved["training"]
        if hist["val_loss"]:
            b = hist["best_epoch"]
            gaps.append(hist["val_loss"][b] - hist["train_loss"][b])
            first_gaps.append(hist["val_loss"][0] - hist["train_loss"][0])
            if b + 1 < len(hist["val_loss"]) and hist["train_loss"][-1] < hist["train_loss"][b]:
                later[r.name] = hist["val_loss"][-1] - hist["val_loss"][b]
    text = (f"The best validation loss came at epoch {join_names([str(b) for b in best])} "
            f"(of {join_names([str(e) for e in run_epochs])} run; at most {config.get('epochs', '?')}, "
            f"patience {config.get('patience', '?')}). Training stopped early on "
            f"{len(stopped)} of {len(trained)} photos; `fit` restores the weights of the best "
            "epoch.")
    if capped:
        text += (f" On {join_names(capped)} the best epoch is the last one allowed: the validation "
                 "loss was still falling, so more epochs might have helped there.")
    if gaps:
        averaged = (", with the moving average of the weights rather than the weights being "
                    "trained" if config.get("ema_decay") else "")
        text += (f" At the restored epoch the validation loss is on average {fmt(mean_of(gaps), 3)} "
                 f"above the training loss, and already {fmt(mean_of(first_gaps), 3)} above it "
                 "after the first epoch: the two are not measured alike (the training loss "
                 "averages the epoch's minibatches of crops in training mode, with batch "
                 "statistics; the validation loss is one pass over the strip and the columns that can "
                 "change its prediction, in "
                 f"evaluation mode{averaged}, scored on the strip), so the gap mixes those "
                 "differences "
                 "with the strip being unseen; the validation curve's own course is the "
                 "better sign of overfitting.")
    if later:
        text += (f" After the restored epoch the training loss kept falling on "
                 f"{join_names(list(later))}, while the validation loss never got back below its "
                 f"best (it ended {join_names([fmt(v, 3) for v in later.values()])} above it): "
                 "those later weights fit the training columns better without carrying over "
                 "better to the strip, and restoring the best epoch discards them.")
    return [text]


def _saturation_clause(sat, rest):
    """How the error on the most saturated pixels compares with the rest, in words (the
    numbers alone where there is no error elsewhere to compare with)."""
    numbers = (f"on the {SATURATED_FRACTION:.0%} most saturated true pixels its mean CIEDE2000 is "
               f"{fmt(sat)}, against {fmt(rest)} elsewhere")
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
        f"({fmt(worst_basic.scores['basic']['psnr'])} dB). Its errors have three sources, "
        "each measured above: (1) brightness: a palette colour replaces the pixel's true "
        f"brightness (gray RMSE {fmt(mean_diag(runs, 'basic', 'gray_rmse'))} on average), "
        "which gives the posterised look of the figures; (2) the vote: a 3x3 gray patch "
        "carries almost no context, so surfaces with similar local texture and brightness "
        "get the same colour even when their true colours differ "
        f"({fmt(perfect_gap)} dB between the agent and a perfect vote with its own palette); "
        "(3) the palette: colours the left half does not show cannot appear at all, and "
        f"{COLORS} colours average whole families of shades. Also, "
        + _saturation_clause(mean_diag(runs, "basic", "de_saturated"), mean_diag(runs, "basic", "de_rest"))
        + f". The mistakes make sense: every wrong colour is the majority colour of {NEIGHBORS} "
        "training patches that really do look like the test patch in gray.")
    if all("improved" in r.scores for r in runs):
        worst_imp = min(runs, key=lambda r: r.scores["improved"]["psnr"])
        losers = photos_where(runs, lambda r: r.scores["improved"]["psnr"] < r.scores["gray_lookup"]["psnr"])
        de_losers = photos_where(
            runs, lambda r: r.scores["improved"]["delta_e2000"] > r.scores["gray_lookup"]["delta_e2000"])
        ratio = mean_of([colour_ratio(r.scores["improved"]) for r in runs])
        gray_rmse = mean_diag(runs, "improved", "gray_rmse")
        lines.append("")
        lines.append(
            f"**Improved agent.** Its worst photo is {worst_imp.name} "
            f"({fmt(worst_imp.scores['improved']['psnr'])} dB). "
            + (f"Its brightness is right (gray RMSE {fmt(gray_rmse)}, the rounding to 8 bits), "
               "so all its error is colour; " if gray_rmse < GRAY_ROUNDING_RMSE else
               f"Its gray RMSE is {fmt(gray_rmse)}, more than the rounding to 8 bits: the gamut "
               "shrink of strong colours changes some brightness too; ")
            + _saturation_clause(mean_diag(runs, "improved", "de_saturated"),
                                 mean_diag(runs, "improved", "de_rest"))
            + f". Its outputs carry {fmt(ratio)} times the truth's colourfulness"
            + (": where it is unsure it hedges toward the average colour of what it has seen "
               "with that gray and texture, which dulls colours rather than inventing wrong "
               "vivid ones." if ratio < 0.9 else
               ", so it is not washed out" + (
                   ": the classification loss with rebalancing and the annealed mean keep colours "
                   "vivid." if _improved_config(runs).get("loss") == "cls" else "."))
            + f" It scores below the gray-lookup baseline in PSNR on {len(losers)} of "
            f"{len(runs)} photos" + (f" ({join_names(losers)})" if losers else "")
            + f", and in CIEDE2000 on {len(de_losers)} of {len(runs)}"
            + (f" ({join_names(de_losers)})" if de_losers else "") + ". Its mistakes "
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
    cases = join_names([f"{name} ({fmt(a)} dB against {fmt(g)} dB for no colour at all; the best "
                    f"coloured method there reaches {fmt(b)} dB)" for name, (a, g, b) in worse.items()])
    text = (f" The worst case is among the recorded variant photos: on {cases} it is worse "
            "than leaving the photo gray.")
    if all(best < gray for _, gray, best in worse.values()):
        text += (" Every coloured method is below gray there too: the colours the left half "
                 "teaches for those gray levels are wrong for the right half, which no learner "
                 "of this protocol can tell from the left half alone.")
    return text


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
    photos = join_names([f"`{r.name}`" for r in runs])
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
        "Suesstrunk's; `colour / truth` is the output's colourfulness over the truth's, photo "
        "by photo (so its mean is the mean of those ratios); `gray "
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
