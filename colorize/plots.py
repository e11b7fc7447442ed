"""Figures: side-by-side image comparisons, line plots (loss curves, k sweeps), error maps.

Figures are drawn with matplotlib's object API (``matplotlib.figure.Figure`` on an Agg
canvas), never ``pyplot``: nothing global is touched (no backend switch, no figure registry
that leaks memory in long runs), so the functions are safe inside tests, servers and threads.
Every file is written through :func:`colorize.io.atomic_path`, so an interrupted save leaves
no partial figure; the format follows the file's suffix (``.png``, ``.pdf``, ``.svg``).
"""

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nn.backend import to_numpy

from .io import atomic_path
from .metrics import error_map_de2000

TITLE_SIZE = 15
CAPTION_SIZE = 12
LABEL_SIZE = 12
TICK_SIZE = 10
PANEL_INCHES = 4.2
MAX_WIDTH_INCHES = 20.0
DPI = 110


def _new_figure(width, height):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    # The format comes from the real name (the temporary one has another suffix): its suffix,
    # or PNG without one, as matplotlib's default.
    fmt = Path(path).suffix[1:].lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, facecolor="white", format=fmt)
    return path


def _display_image(image):
    """Array for imshow: RGB -> uint8 (floats rounded, clipped to 0..255); 2-D kept as float."""
    a = to_numpy(image)
    if a.size == 0:
        raise ValueError(f"a panel image is empty (shape {a.shape})")
    if a.ndim == 3 and a.shape[2] == 3:
        if a.dtype != np.uint8:
            a = np.clip(np.rint(np.nan_to_num(a.astype(np.float64))), 0, 255).astype(np.uint8)
        return a
    if a.ndim == 2:
        return a.astype(np.float64)
    raise ValueError(f"a panel must be an (H, W, 3) or (H, W) image, got shape {a.shape}")


def draw_seam(ax, x):
    """The protocol's seam at column boundary ``x`` (data coordinates): black dashes over a
    white line, visible on dark and light pixels alike."""
    ax.axvline(x, color="white", linewidth=1.6)
    ax.axvline(x, color="black", linestyle=(0, (4, 4)), linewidth=1.0)


def _text_inches(text, points):
    """Rough width of one line of ``text`` at ``points``: a glyph is about 0.6 em wide on
    average, and a point is 1/72 inch."""
    return len(text) * 0.6 * points / 72


def comparison_figure(path, panels, title=None, seam=None):
    """Save a row of captioned images side by side.

    Args:
        path: output file; its suffix picks the format (PNG without a suffix).
        panels: list of ``(caption, image)`` or ``(caption, image, cmap)``. ``image`` is
            ``(H, W, 3)`` RGB on 0..255 (uint8 or float) or ``(H, W)``. A 2-D image without a
            colormap is drawn as gray on 0..255; with a colormap name (e.g. ``"magma"`` for a
            CIEDE2000 error map) it is drawn from 0 to its 99th percentile with a colour bar.
            Captions may span several lines (scores under a name).
        title: optional title above the row.
        seam: optional column (of every panel) where the left/right protocol cuts: drawn as a
            dashed line before it.

    Returns:
        ``path``.
    """
    if not panels:
        raise ValueError("comparison_figure needs at least one panel")
    for panel in panels:
        if not isinstance(panel, (tuple, list)) or len(panel) not in (2, 3):
            raise ValueError(f"a panel is (caption, image) or (caption, image, cmap), got {panel!r:.80}")
    images = [_display_image(p[1]) for p in panels]
    aspects = [im.shape[1] / im.shape[0] for im in images]
    caption_lines = max(str(p[0]).count("\n") + 1 for p in panels)
    # Panels share one height; each is as wide as its aspect ratio asks (width_ratios), or as
    # its caption needs under a narrow image (a 1-pixel-wide strip)
    panel_height = min(PANEL_INCHES, MAX_WIDTH_INCHES / sum(aspects))
    captions = [_text_inches(max(str(p[0]).split("\n"), key=len), CAPTION_SIZE) + 0.2
                for p in panels]
    ratios = [max(aspect, caption / panel_height) for aspect, caption in zip(aspects, captions)]
    width = panel_height * sum(ratios) + 0.9 * sum(len(p) > 2 for p in panels) + 0.3
    if title:
        width = max(width, _text_inches(title, TITLE_SIZE) + 0.5)
    height = panel_height + 0.25 * caption_lines + (0.5 if title else 0.1) + 0.2
    fig = _new_figure(width, height)
    axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=ratios)[0]
    for ax, panel, image in zip(axes, panels, images):
        caption = str(panel[0])
        cmap = panel[2] if len(panel) > 2 else None
        if image.ndim == 3:
            ax.imshow(image, interpolation="antialiased")
        elif cmap is None:
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
        else:
            top = float(np.nanpercentile(image, 99)) if image.size else 1.0
            shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=max(top, 1e-6), interpolation="antialiased")
            bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
            bar.ax.tick_params(labelsize=TICK_SIZE)
        if seam is not None:
            draw_seam(ax, seam - 0.5)
        ax.set_xlabel(caption, fontsize=CAPTION_SIZE)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE)
    return _save(fig, path)


def line_plot(path, series, xlabel, ylabel, title=None, logy=False, marks=None):
    """Save a line plot of one or more series (loss curves, k sweeps).

    Args:
        path: output file; its suffix picks the format (PNG without a suffix).
        series: dict label -> ``(x, y)`` sequences of equal length (NaN values leave gaps).
        xlabel, ylabel: axis labels.
        title: optional title.
        logy: logarithmic y axis (for losses); non-positive values are not drawn.
        marks: optional list of highlights: ``(x, label)`` draws a dotted vertical line
            (e.g. the chosen k or the best epoch), ``(x, y, label)`` a marked point.

    Returns:
        ``path``.
    """
    if not series:
        raise ValueError("line_plot needs at least one series")
    fig = _new_figure(7.5, 4.8)
    ax = fig.subplots()
    for label, (x, y) in series.items():
        x = np.asarray(to_numpy(x), dtype=np.float64)
        y = np.asarray(to_numpy(y), dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"series {label!r}: x and y differ in length ({x.size} and {y.size})")
        ax.plot(x, y, marker="o" if x.size <= 30 else None, markersize=4, linewidth=1.8, label=str(label))
    for mark in marks or ():
        if len(mark) not in (2, 3):
            raise ValueError(f"a mark is (x, label) or (x, y, label), got {mark!r}")
        if len(mark) == 2:
            ax.axvline(mark[0], linestyle=":", color="0.3", linewidth=1.5, label=str(mark[1]))
        else:
            ax.plot([mark[0]], [mark[1]], marker="*", markersize=14, linestyle="none", label=str(mark[2]))
    if logy:
        # masked, not clipped: matplotlib's default would draw a non-positive loss as a
        # drop to the bottom edge
        ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=TICK_SIZE, frameon=False)
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return _save(fig, path)


def error_map(true_rgb, pred_rgb):
    """Per-pixel CIEDE2000 between truth and prediction, ``(H, W)`` float64 NumPy array.

    Show it as a heat-map panel: ``("CIEDE2000", error_map(t, p), "magma")``.
    """
    return to_numpy(error_map_de2000(true_rgb, pred_rgb))
