"""What the command line writes: the JSON's ``metrics.right`` is the score of the right half of
the written PNG, and the improved agent keeps the left half bit for bit, at 0 and 255 too."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize.halves import split_halves
from colorize.metrics import score
from tests.agents.test_basic import textured_image
from tests.agents.test_improved import textured_scene

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("agent, flags", [("basic", ["--colors", "4"]),
                                          ("improved", ["--epochs", "1"])])
def test_the_json_scores_the_written_right_half(agent, flags, tmp_path):
    rgb = textured_image(40, 24)
    rgb[:, :20] = 255 - rgb[:, :20]  # left and right halves differ, so scoring the wrong one shows
    photo = tmp_path / "p.png"
    Image.fromarray(rgb).save(photo)
    r = subprocess.run([sys.executable, "-m", f"agents.{agent}", str(photo), "--out", str(tmp_path),
                        "--quiet", *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / f"p_{agent}.json").read_text())
    out = np.asarray(Image.open(tmp_path / f"p_{agent}.png"))
    expected = score(split_halves(rgb)[1], split_halves(out)[1])
    for key in ("rmse", "psnr", "ssim", "delta_e2000"):
        assert record["metrics"]["right"][key] == pytest.approx(expected[key], rel=1e-6), key


def test_improved_keeps_a_left_half_with_black_and_white_exactly(tmp_path):
    rgb = textured_scene(16, 32)
    rgb[:4, :16] = 0
    rgb[4:8, :16] = 255
    rgb[8:10, :16] = [255, 0, 0]
    photo = tmp_path / "bw.png"
    Image.fromarray(rgb).save(photo)
    r = subprocess.run([sys.executable, "-m", "agents.improved", str(photo), "--out", str(tmp_path),
                        "--epochs", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(tmp_path / "bw_improved.png"))
    assert np.array_equal(out[:, :16], rgb[:, :16])


class _GrayAgent:
    """The smallest agent the protocol runner takes: it colours with the gray value."""

    name = "gray"
    uses_left_colours = False

    def __init__(self, full_resolution):
        self.full_resolution = full_resolution

    def fit(self, rgb):
        self.fitted_shape = rgb.shape
        return self

    def colorize(self, gray):
        return np.repeat(gray[..., None], 3, axis=2)

    def training_output(self, left_rgb):
        return left_rgb

    def summary(self):
        return {}


def _run_in_process(monkeypatch, tmp_path, rgb, *flags, full_resolution=False, agent=None):
    """``agents.cli.main`` with :class:`_GrayAgent` (or ``agent``); the figure is replaced by a
    stub that records its arguments (no matplotlib). Returns (status, JSON record, figure call)."""
    from agents import cli

    figure = {}

    def fake_figure(path, panels, title=None, seam=None):
        figure.update(panels=panels, title=title, seam=seam)
        Path(path).write_bytes(b"figure")

    monkeypatch.setattr(cli, "comparison_figure", fake_figure)
    photo = tmp_path / "p.png"
    Image.fromarray(rgb).save(photo)
    parser = cli.build_parser("gray", "test agent", default_max_side=512)
    status = cli.main(parser, "gray", lambda args, device: agent or _GrayAgent(full_resolution),
                      [str(photo), "--out", str(tmp_path / "out"), "--device", "cpu", *flags])
    record = json.loads((tmp_path / "out" / "p_gray.json").read_text()) if status == 0 else None
    return status, record, figure


def test_the_json_records_the_seed_and_both_sizes_and_the_figure_marks_the_seam(monkeypatch, tmp_path):
    rgb = textured_image(80, 40)  # 80 wide, 40 high: working copy 40 x 20 at --max-side 40
    status, record, figure = _run_in_process(monkeypatch, tmp_path, rgb, "--seed", "3",
                                             "--max-side", "40", "--quiet")
    assert status == 0
    assert record["seed"] == 3 and record["mode"] == "protocol"
    assert record["size"] == {"input": [40, 80], "output": [20, 40]}
    assert figure["seam"] == 20  # half the output's width, not its height


def test_a_full_resolution_agent_is_scored_with_baselines_of_the_full_photo(monkeypatch, tmp_path):
    from colorize.metrics import baseline_scores

    rgb = textured_image(80, 40)
    status, record, _ = _run_in_process(monkeypatch, tmp_path, rgb, "--max-side", "40", "--quiet",
                                        full_resolution=True)
    assert status == 0 and record["size"] == {"input": [40, 80], "output": [40, 80]}
    expected = baseline_scores(rgb)
    for name, scores in record["metrics"]["baselines"].items():
        assert scores["rmse"] == pytest.approx(expected[name]["rmse"], rel=1e-9), name


def test_the_printed_summary_puts_each_score_in_its_column():
    from agents.cli import summary_table

    scores = {"rmse": 11.0, "psnr": 22.0, "ssim": 0.333, "delta_e2000": 4.44, "colorfulness": 55.5,
              "colorfulness_true": 66.6}
    lines = summary_table("basic", {"right": scores, "baselines": {"gray": scores}}).splitlines()
    assert lines[2].split() == ["basic", "agent", "11.00", "22.00", "0.333", "4.44", "55.50"]
    assert lines[3].split() == ["base:", "gray", "11.00", "22.00", "0.333", "4.44", "55.50"]
    assert lines[4].split() == ["true", "colours", "66.60"]


def test_quiet_holds_back_no_notes_and_prints_none(monkeypatch, tmp_path, capsys):
    rgb = textured_image(80, 40)
    status, _, _ = _run_in_process(monkeypatch, tmp_path, rgb, "--max-side", "40", "--quiet")
    assert status == 0 and capsys.readouterr().err == ""
    status, _, _ = _run_in_process(monkeypatch, tmp_path, rgb, "--max-side", "40")
    assert status == 0 and "note: p.png is 80x40; working at 40x20" in capsys.readouterr().err


def test_reference_mode_learns_from_the_reference_and_colours_the_image_at_max_side(monkeypatch,
                                                                                  tmp_path):
    reference = tmp_path / "ref.png"
    Image.fromarray(textured_image(48, 32, seed=1)).save(reference)
    agent = _GrayAgent(full_resolution=False)
    status, record, figure = _run_in_process(monkeypatch, tmp_path, textured_image(80, 40),
                                             "--reference", str(reference), "--max-side", "40",
                                             "--quiet", agent=agent)
    assert status == 0
    assert agent.fitted_shape == (27, 40, 3)  # the reference's working copy, not the image's
    assert record["mode"] == "reference" and record["reference"] == str(reference)
    assert record["size"] == {"input": [40, 80], "output": [20, 40]}
    assert figure["panels"][0][0] == "learnt from: ref.png" and figure["seam"] is None


def test_a_gray_reference_is_refused(monkeypatch, tmp_path, capsys):
    reference = tmp_path / "ref.png"
    Image.fromarray(textured_image(48, 32)[..., 0]).save(reference)
    status, _, _ = _run_in_process(monkeypatch, tmp_path, textured_image(80, 40),
                                   "--reference", str(reference))
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "is a gray photo" in err
    assert not (tmp_path / "out").exists()


def test_a_blank_out_is_refused_like_an_empty_one(monkeypatch, tmp_path, capsys):
    from agents import cli

    monkeypatch.chdir(tmp_path)
    Image.fromarray(textured_image(40, 24)).save(tmp_path / "p.png")
    parser = cli.build_parser("gray", "test agent", default_max_side=512)
    status = cli.main(parser, "gray", lambda args, device: _GrayAgent(False), ["p.png", "--out", "  "])
    assert status == 2 and "--out is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


class _LeftColourAgent(_GrayAgent):
    """Takes the known left half as the improved agent does, and takes its time colouring."""

    uses_left_colours = True

    def colorize(self, gray, left=None):
        self.left = left
        time.sleep(0.2)
        return super().colorize(gray)


def test_the_left_half_is_handed_over_and_the_json_records_device_and_timings(monkeypatch,
                                                                             tmp_path):
    from nn.backend import describe_device

    rgb = textured_image(80, 40)
    agent = _LeftColourAgent(full_resolution=False)
    status, record, _ = _run_in_process(monkeypatch, tmp_path, rgb, "--quiet", agent=agent)
    assert status == 0 and np.array_equal(agent.left, split_halves(rgb)[0])
    assert record["device"] == describe_device("cpu")
    timings = record["timings"]
    assert set(timings) == {"fit_s", "colorize_s", "total_s"}
    assert timings["fit_s"] < 0.2 <= timings["colorize_s"]  # each step timed on its own
    assert timings["total_s"] >= timings["fit_s"] + timings["colorize_s"]
