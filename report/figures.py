"""The report's figures: two per photo (outputs; error maps), the k curves, the loss curves.

Drawn with matplotlib's object API on an Agg canvas (as :mod:`colorize.plots` does), written
atomically as optimised RGB PNG. The photo figures show the images at about their
working-size pixels (nearest-neighbour, so pixels stay sharp; the layout rounds panel sizes, so
some image pixels take two figure pixels), and every error map of one photo shares one colour
scale, so a darker map means a smaller error (per-map scales would make all maps look alike);
the scale's top differs between photos (each photo's 99th percentile, larger errors drawn at
the top colour), so compare maps within a figure, not across figures.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from colorize.color import rgb_to_gray
from colorize.io import atomic_path
from colorize.plots import draw_seam, error_map
from report.experiments import LABELS

DPI = 100
TITLE_SIZE = 13
CAPTION_SIZE = 10
TICK_SIZE = 9
ERROR_CMAP = "magma"
PANEL_MIN_INCHES = 2.5
ERROR_METHODS = (("gray_lookup", "gray lookup"), ("basic", "basic agent"), ("improved", "improved agent"))
LOSS_NAMES = {"cls": "cross-entropy over chroma bins", "l2": "chroma MSE", "l1": "chroma L1",
              "smooth_l1": "chroma smooth L1"}


def _new_figure(width, height):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    """Render, drop the (opaque) alpha channel and write an optimised RGB PNG: about 10 %
    smaller than matplotlib's RGBA file, which keeps photo figures small in the repository."""
    fig.set_facecolor("white")
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", optimize=True)
    return path


def _bare(ax, caption):
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(caption, fontsize=CAPTION_SIZE)


def _missing(ax, caption):
    ax.text(0.5, 0.5, "not run", ha="center", va="center", fontsize=CAPTION_SIZE, color="0.4")
    ax.set_frame_on(False)
    _bare(ax, caption)


def _score_caption(name, scores):
    return (f"{name}\nright half: PSNR {scores['psnr']:.1f} dB\n"
            f"CIEDE2000 {scores['delta_e2000']:.1f}")


def outputs_figure(path, run):
    """original | basic | improved: the whole photo as each agent outputs it, split marked."""
    h, w = run.size
    scale = max(1.0, PANEL_MIN_INCHES * DPI / w)
    panels = [("original", run.rgb, None), (LABELS["basic"], run.outputs.get("basic"),
              run.scores.get("basic")), ("improved agent", run.outputs.get("improved"),
              run.scores.get("improved"))]
    fig = _new_figure(3 * (scale * w / DPI + 0.15) + 0.3, scale * h / DPI + 1.35)
    axes = fig.subplots(1, 3)
    for ax, (caption, image, scores) in zip(axes, panels):
        if image is None:
            _missing(ax, caption)
            continue
        ax.imshow(image, interpolation="nearest")
        draw_seam(ax, w // 2 - 0.5)
        _bare(ax, _score_caption(caption, scores) if scores else caption)
    fig.suptitle(f"{run.name}, {w} x {h}: the left half trains, the right half is coloured",
                 fontsize=TITLE_SIZE)
    return _save(fig, path)


def errors_figure(path, run):
    """The right half: its gray (what the agents see) and the CIEDE2000 error maps of the
    gray-lookup baseline, the basic and the improved agent, on one colour scale."""
    h, w = run.right.shape[:2]
    scale = max(1.0, PANEL_MIN_INCHES * DPI / 2 / w)
    fig = _new_figure(4 * (scale * w / DPI + 0.3) + 0.8, scale * h / DPI + 1.3)
    axes = fig.subplots(1, 4)
    gray = np.rint(rgb_to_gray(run.right)).astype(np.uint8)
    axes[0].imshow(np.repeat(gray[..., None], 3, axis=2), interpolation="nearest")
    _bare(axes[0], "gray input\n(right half)")
    maps = {key: error_map(run.right, run.right_predictions[key])
            for key, _ in ERROR_METHODS if key in run.right_predictions}
    vmax = max(float(np.percentile(np.concatenate([m.ravel() for m in maps.values()]), 99)), 1e-6)
    shown = None
    for ax, (key, name) in zip(axes[1:], ERROR_METHODS):
        if key not in maps:
            _missing(ax, name)
            continue
        shown = ax.imshow(maps[key], cmap=ERROR_CMAP, vmin=0, vmax=vmax, interpolation="nearest")
        _bare(ax, f"{name}\nmean {maps[key].mean():.1f}")
    bar = fig.colorbar(shown, ax=list(axes[1:]), fraction=0.04, pad=0.02, extend="max")
    bar.set_label("CIEDE2000 per pixel (this photo's scale)", fontsize=TICK_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)
    fig.suptitle(f"{run.name}: CIEDE2000 error on the right half", fontsize=TITLE_SIZE)
    return _save(fig, path)


def _grid(n):
    """(rows, cols) for n panels, two to a row; one empty panel for none."""
    cols = max(1, min(n, 2))
    return max(1, math.ceil(n / cols)), cols


def k_curves_figure(path, runs):
    """One panel per photo: validation RMSE over k (left half only) and hindsight RMSE on the
    right half; the chosen k and the hindsight best marked."""
    rows, cols = _grid(len(runs))
    fig = _new_figure(5.2 * cols, 3.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, run in zip(axes, runs):
        curve = run.auto
        ks = np.asarray(curve["k"])
        val = np.asarray(curve["validation_rmse"])
        hind = np.asarray(curve["hindsight_rmse"])
        ax.plot(ks, val, marker="o", markersize=3, label="validation strip of the left half")
        ax.plot(ks, hind, marker="s", markersize=3, label="right half (hindsight)")
        ax.axvline(curve["chosen"], linestyle=":", color="0.3", label=f"chosen k = {curve['chosen']}")
        best = int(np.argmin(hind))
        ax.plot([ks[best]], [hind[best]], marker="*", markersize=12, linestyle="none",
                color="C3", label=f"hindsight best k = {ks[best]}")
        ax.set_title(run.name, fontsize=CAPTION_SIZE + 1)
        ax.set_xlabel("number of colours k", fontsize=CAPTION_SIZE)
        ax.set_ylabel("RGB RMSE", fontsize=CAPTION_SIZE)
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=TICK_SIZE - 1, frameon=True, framealpha=0.9)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("basic agent: colour error against the number of colours", fontsize=TITLE_SIZE)
    return _save(fig, path)


def loss_curves_figure(path, runs):
    """One panel per photo: the improved agent's training and validation loss per epoch,
    the restored (best) epoch marked."""
    trained = [r for r in runs if r.improved and r.improved.get("training")]
    rows, cols = _grid(len(trained))
    fig = _new_figure(5.2 * cols, 3.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, run in zip(axes, trained):
        hist = run.improved["training"]
        epochs = np.arange(1, len(hist["train_loss"]) + 1)
        ax.plot(epochs, hist["train_loss"], label="training (crops, batch statistics)")
        if hist["val_loss"]:
            ax.plot(epochs, hist["val_loss"], label="validation strip of the left half")
        best = hist["best_epoch"]
        if best is not None:
            ax.axvline(best + 1, linestyle=":", color="0.3", label=f"restored epoch {best + 1}")
        ax.set_title(run.name, fontsize=CAPTION_SIZE + 1)
        ax.set_xlabel("epoch", fontsize=CAPTION_SIZE)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        loss = run.improved.get("config", {}).get("loss")
        ax.set_ylabel(LOSS_NAMES.get(loss, f"loss ({loss})" if loss else "loss"),
                      fontsize=CAPTION_SIZE)
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=TICK_SIZE - 1, frameon=True, framealpha=0.9)
    for ax in axes[len(trained):]:
        ax.set_visible(False)
    # the two curves are measured differently (see the report's text): their gap is not
    # overfitting by itself, and the title says so where the figure is seen alone
    fig.suptitle("improved agent: loss per epoch (training and validation are measured "
                 "differently; compare each curve's course)", fontsize=TITLE_SIZE)
    return _save(fig, path)
