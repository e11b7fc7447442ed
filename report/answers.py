"""The report's answers to the coursework's questions (P1-P6), written from the build's
configuration and measurements, with the improved agent's design choices explained."""

import numpy as np

from agents.basic import COLORS, NEIGHBORS
from agents.improved_settings import PROPAGATE_GRID
from agents.improved_data import GRAY_CENTER, GRAY_SCALE, VALIDATION_FRACTION
from colorize.kmeans import RESTARTS
from report.experiments import BOUND_COLORS
from report.tables import decoding_scores, fmt, join_names, mean_score, redecoded_runs, seed_scores

PAPER_TEMPERATURE = 0.38
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
    clause = f"; the highest mean PSNR there is {best}'s ({fmt(agents[best]['psnr'])} dB)"
    if len(ranked) > 1:
        clause += (f", {fmt(agents[best]['psnr'] - agents[ranked[1]]['psnr'])} dB above the "
                   f"next, {ranked[1]}")
    if "improved:default" in agents and best != "improved:default":
        clause += (f"; the agent's defaults reach {fmt(agents['improved:default']['psnr'])} dB "
                   "(the table also shows colourfulness and time)")
    # the defaults run with several seeds: their spread is what chance alone moves a mean
    seeds = [v["psnr"] for k, v in data["mean"].items()
             if (k == "improved:default" or k.startswith("improved:default, seed "))
             and v.get("psnr") is not None and v.get("photos", 0) == every]
    if len(seeds) > 1:
        spread = max(seeds) - min(seeds)
        clause += (f". The defaults' {len(seeds)} seeds alone spread over {fmt(spread)} dB, so a "
                   "gap smaller than that is not evidence for one variant")
        if len(ranked) > 1:
            gap = agents[best]["psnr"] - agents[ranked[1]]["psnr"]
            clause += (": the table does not separate the first two" if gap < spread
                       else ": the first is ahead by more than that")
    return clause


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
    return join_names(planes)


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
                   f"{join_names([str(b) for b in bins])} here), decoded by the annealed mean at "
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
    listed = ", ".join(f"{t:g}: {fmt(m)} dB" for t, m in sorted(means.items()))
    if best == temperature:
        return text + f". In the decodings table it scores best ({listed})."
    gap = means[best] - means[temperature]
    if fmt(gap) == fmt(0.0):
        return text + (f". In the decodings table it ties with temperature {best:g} to the "
                       f"0.01 dB ({listed}).")
    text += (f". In the decodings table temperature {best:g} scores {fmt(gap)} dB higher "
             f"({listed}), on one seed's networks")
    seeds = seed_scores((variants or {}).get("photos", {}))
    if len(seeds) < 2:
        return text + "."
    seed_means = [float(np.mean(list(v.values()))) for v in seeds.values()]
    spread = max(seed_means) - min(seed_means)
    return text + (f": {'less' if gap < spread else 'more'} than the {fmt(spread)} dB over "
                   "which the seeds spread the mean.")


def temperature_means(variants):
    """``{temperature: mean PSNR}`` of the default networks re-decoded at each temperature
    (the decodings of the variants JSON); empty without them."""
    runs = redecoded_runs((variants or {}).get("photos", {}))
    means = {}
    for name in next(iter(runs.values()))["decodings"] if runs else ():
        values = decoding_scores(runs, name)
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
    return ("The improved agent " + join_names(steps) + ". For photos larger than the working size "
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
        f"patches themselves (non-parametric: {join_names([f'{n:,}' for n in train_patches])} "
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
        f"{fmt(mean_score(runs, 'basic_true_gray', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB).")
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
            "its loss is computed every epoch with every column of the left half that can change its "
            "prediction as context, training "
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
        f"{fmt(mean_score(runs, 'basic_true_gray', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB "
        "by keeping the true gray and predicting colour only, and, while it outputs palette "
        "colours, up to "
        f"{fmt(mean_score(runs, 'basic_palette', 'psnr') - mean_score(runs, 'basic', 'psnr'))} dB "
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
