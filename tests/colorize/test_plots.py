"""colorize.plots: figures are written atomically, readable, and need no pyplot."""

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from colorize import plots
from colorize.color import rgb_to_gray


def _rgb(h=30, w=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_comparison_figure_all_panel_kinds(tmp_path):
    rgb = _rgb()
    pred = np.clip(rgb.astype(np.float64) + 10.5, 0, 255)
    panels = [
        ("original", rgb),
        ("gray", rgb_to_gray(rgb)),
        ("output\nPSNR 30.1 dB\nSSIM 0.91", pred),
        ("CIEDE2000", plots.error_map(rgb, pred), "magma"),
    ]
    path = tmp_path / "cmp.png"
    assert plots.comparison_figure(path, panels, title="chelsea: basic agent") == path
    assert os.listdir(tmp_path) == ["cmp.png"]
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 600 and im.size[0] > im.size[1]


def _saved_figures(monkeypatch):
    """The Figure objects comparison_figure saves, collected as they are saved."""
    saved = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig) or real_save(fig, path))
    return saved


def test_a_long_title_over_a_one_pixel_wide_image_is_not_cut(tmp_path, monkeypatch):
    saved = _saved_figures(monkeypatch)
    rgb = _rgb(50, 1)
    title = "improved agent, right half: PSNR 12.34 dB, SSIM 0.123, CIEDE2000 12.34"
    plots.comparison_figure(tmp_path / "narrow.png", [("original", rgb), ("output", rgb)], title=title)
    fig = saved[0]
    drawn = next(t for t in fig.texts if t.get_text() == title)
    box = drawn.get_window_extent(fig.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (box, fig.bbox)


def test_captions_under_tall_narrow_images_do_not_overlap(tmp_path, monkeypatch):
    saved = _saved_figures(monkeypatch)
    rgb = _rgb(900, 40)
    plots.comparison_figure(tmp_path / "tall.png", [("original", rgb), ("gray input", rgb_to_gray(rgb)),
                                                    ("improved agent", rgb)])
    fig = saved[0]
    renderer = fig.canvas.get_renderer()
    boxes = [ax.xaxis.label.get_window_extent(renderer) for ax in fig.axes]
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)
    assert boxes[0].x0 >= 0 and boxes[-1].x1 <= fig.bbox.width


def test_comparison_figure_refuses_bad_panels(tmp_path):
    with pytest.raises(ValueError):
        plots.comparison_figure(tmp_path / "x.png", [])
    with pytest.raises(ValueError):
        plots.comparison_figure(tmp_path / "x.png", [("bad", np.zeros((4, 4, 2)))])
    with pytest.raises(ValueError, match="empty"):  # was a ZeroDivisionError
        plots.comparison_figure(tmp_path / "x.png", [("empty", np.zeros((0, 4, 3), np.uint8))])
    with pytest.raises(ValueError, match="caption, image"):  # was an IndexError
        plots.comparison_figure(tmp_path / "x.png", [("no image",)])
    with pytest.raises(ValueError, match="caption, image"):
        plots.comparison_figure(tmp_path / "x.png", [("a", _rgb(), "magma", "extra")])
    with pytest.raises(ValueError, match=r"\(x, label\)"):
        plots.line_plot(tmp_path / "x.png", {"a": ([1, 2], [3, 4])}, "x", "y", marks=[(1,)])
    with pytest.raises(ValueError, match=r"\(x, label\)"):
        plots.line_plot(tmp_path / "x.png", {"a": ([1, 2], [3, 4])}, "x", "y", marks=[(1, 2, "a", "b")])
    assert os.listdir(tmp_path) == []


def test_a_figure_named_without_a_suffix_is_a_png(tmp_path):
    # The format used to come from the hidden temporary name: "Format 'tmp' is not supported".
    path = plots.comparison_figure(tmp_path / "figure", [("a", _rgb())])
    with Image.open(path) as im:
        assert im.format == "PNG"
    assert os.listdir(tmp_path) == ["figure"]


def test_line_plot_with_marks_and_log_axis(tmp_path):
    series = {"train": ([1, 2, 3, 4], [1.0, 0.5, 0.3, 0.2]),
              "validation": (np.arange(1, 5), [1.1, 0.6, 0.45, 0.5])}
    drawn = {}
    for name, marks in (("plain", None), ("marked", [(3, "best epoch"), (3, 0.45, "restored")])):
        path = tmp_path / f"{name}.png"
        plots.line_plot(path, series, "epoch", "loss", title="training", logy=True, marks=marks)
        with Image.open(path) as im:
            drawn[name] = np.asarray(im.convert("RGB")).astype(int)
    assert drawn["plain"].shape == drawn["marked"].shape and drawn["plain"].shape[1] > 500
    # the marks (a vertical line, a point, their legend entries) change the picture
    assert (np.abs(drawn["marked"] - drawn["plain"]).sum(axis=2) > 60).sum() > 200
    svg = tmp_path / "k.svg"
    plots.line_plot(svg, {"validation": ([2, 3, 4], [9.0, np.nan, 7.0])}, "k", "CIEDE2000")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError):
        plots.line_plot(tmp_path / "bad.png", {"a": ([1, 2], [1.0])}, "x", "y")
    assert sorted(os.listdir(tmp_path)) == ["k.svg", "marked.png", "plain.png"]


def test_log_axis_leaves_gaps_for_non_positive_values(tmp_path):
    # drawn exactly as if those values were missing (NaN), not as drops to the axis
    x = np.arange(6)
    plots.line_plot(tmp_path / "zero.png", {"loss": (x, [100, 50, 0, -3, 20, 10])}, "epoch", "loss",
                    logy=True)
    plots.line_plot(tmp_path / "nan.png", {"loss": (x, [100, 50, np.nan, np.nan, 20, 10])}, "epoch",
                    "loss", logy=True)
    with Image.open(tmp_path / "zero.png") as a, Image.open(tmp_path / "nan.png") as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_interrupted_save_leaves_old_figure(tmp_path, monkeypatch):
    path = tmp_path / "fig.png"
    plots.comparison_figure(path, [("a", _rgb())])
    old = path.read_bytes()

    def interrupted(self, fname, *args, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots.comparison_figure(path, [("b", _rgb(seed=1))])
    assert os.listdir(tmp_path) == ["fig.png"] and path.read_bytes() == old


def test_error_map_values():
    a = _rgb(8, 9)
    emap = plots.error_map(a, a)
    assert emap.shape == (8, 9) and emap.dtype == np.float64 and (emap == 0).all()
    b = a.copy()
    b[2, 3] = 255 - b[2, 3]
    emap = plots.error_map(a, b)
    assert emap[2, 3] > 5 and np.count_nonzero(emap) == 1


def test_no_pyplot_and_no_backend_switch(tmp_path):
    code = (
        "import sys, matplotlib, numpy as np\n"
        "from colorize import plots\n"
        f"plots.comparison_figure({str(tmp_path / 'a.png')!r}, [('x', np.zeros((8, 8, 3)))])\n"
        f"plots.line_plot({str(tmp_path / 'b.png')!r}, {{'s': ([0, 1], [1, 2])}}, 'x', 'y')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_seam_is_drawn_on_every_panel_at_its_column(tmp_path, monkeypatch):
    saved = _saved_figures(monkeypatch)
    flat = np.full((20, 40, 3), 128, np.uint8)
    plots.comparison_figure(tmp_path / "seam.png", [("a", flat), ("b", flat)], seam=20)
    for ax in saved[0].axes:
        seams = [line.get_xdata()[0] for line in ax.get_lines()]
        assert seams and all(x == 19.5 for x in seams)  # between columns 19 and 20
    plots.comparison_figure(tmp_path / "none.png", [("a", flat)])
    assert not saved[1].axes[0].get_lines()


def test_float_panels_are_clipped_not_wrapped_and_gray_or_heat_panels_keep_their_range(
        tmp_path, monkeypatch):
    shown = plots._display_image(np.array([[[-5.0, 300.0, 127.6]]]))
    np.testing.assert_array_equal(shown, [[[0, 255, 128]]])  # uint8 would wrap -5 to 251
    saved = _saved_figures(monkeypatch)
    gray = np.linspace(100, 150, 200).reshape(10, 20)  # a gray panel is drawn on 0..255 ...
    heat = np.arange(200, dtype=float).reshape(10, 20)
    heat[0, 0] = 1e6  # ... a heat map up to its 99th percentile, so one outlier does not wash it out
    plots.comparison_figure(tmp_path / "ranges.png", [("gray", gray), ("error", heat, "magma")])
    gray_image, heat_image = (ax.get_images()[0] for ax in saved[0].axes[:2])
    assert gray_image.get_clim() == (0, 255)
    assert heat_image.get_clim() == (0, pytest.approx(np.percentile(heat, 99)))


def test_line_plot_names_the_series_whose_lengths_differ(tmp_path):
    with pytest.raises(ValueError, match="series 'loss': x and y differ in length"):
        plots.line_plot(tmp_path / "bad.png", {"loss": ([1, 2, 3], [1.0, 2.0])}, "epoch", "loss")
