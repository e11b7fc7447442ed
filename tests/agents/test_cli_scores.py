"""What the command line writes: the JSON's ``metrics.right`` is the score of the right half of
the written PNG, and the improved agent keeps the left half bit for bit, at 0 and 255 too."""
import json
import subprocess
import sys
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
