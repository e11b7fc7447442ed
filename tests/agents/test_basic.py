"""The basic agent: the vote rule and its ties, a known-answer protocol run, determinism,
--colors auto, bad parameters, and the command line's promised files."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents import basic
from agents.basic import BasicAgent, color_sweep, vote
from colorize.color import rgb_to_gray
from colorize.halves import split_halves
from nn.cli import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_vote_clear_winner():
    labels = np.array([[1, 0, 0, 0, 2, 1]])
    assert vote(labels, 3).tolist() == [0]


@pytest.mark.parametrize("row, expected", [
    ([2, 0, 1, 0, 1, 2], 2),  # 2-2-2: the nearest neighbour's colour
    ([1, 0, 0, 1, 1, 0], 1),  # 3-3
    ([0, 1, 1, 0, 1, 0], 0),  # 3-3, first neighbour again
    ([3, 1, 2, 2, 1, 0], 1),  # 2-2-1-1: the nearer of the tied colours
])
def test_vote_ties_go_to_the_nearest_tied_neighbour(row, expected):
    assert vote(np.array([row]), 4).tolist() == [expected]


def test_vote_many_rows_at_once():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=(500, 6))
    winners = vote(labels, 5)
    for row, w in zip(labels, winners):
        counts = np.bincount(row, minlength=5)
        tied = set(np.flatnonzero(counts == counts.max()))
        assert w == next(c for c in row if c in tied)


def textured_image(width=64, height=48, seed=0):
    """Four colours, each tied to its own gray texture, so patches tell the colour."""
    rng = np.random.default_rng(seed)
    colours = np.array([[200, 40, 40], [40, 160, 60], [60, 90, 230], [230, 210, 60]], float)
    region = (np.arange(height)[:, None] // 12 + np.arange(width)[None, :] // 16) % 4
    rgb = colours[region] + rng.normal(0, 3, size=(height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_repeated_half_is_recoloured_almost_perfectly():
    left = textured_image(32, 48)
    rgb = np.concatenate([left, left], axis=1)
    agent = BasicAgent(colors=4, seed=0, device="cpu").fit(left)
    out = agent.colorize(rgb_to_gray(split_halves(rgb)[1]))
    expected = agent.training_output(left)
    # Every test patch has an identical training patch, and its other neighbours lie in the
    # same flat region, so all but a few boundary pixels get the left half's colour back.
    same = (np.abs(out - expected).max(axis=-1) < 1e-3).mean()
    assert same > 0.99


def test_agent_is_deterministic_and_uses_the_palette():
    rgb = textured_image()
    left, right = split_halves(rgb)
    a = BasicAgent(colors=4, seed=3, device="cpu").fit(left).colorize(rgb_to_gray(right))
    b = BasicAgent(colors=4, seed=3, device="cpu").fit(left).colorize(rgb_to_gray(right))
    np.testing.assert_array_equal(a, b)
    palette = BasicAgent(colors=4, seed=3, device="cpu").fit(left).centers
    assert {tuple(p) for p in a.reshape(-1, 3)} <= {tuple(p) for p in np.asarray(palette)}


def test_auto_colors_finds_the_number_of_colours():
    rgb = textured_image(96, 48)
    left, _ = split_halves(rgb)
    agent = BasicAgent(colors="auto", seed=0, device="cpu").fit(left)
    assert agent.n_colors == 4
    curve = agent.summary()["auto"]
    assert curve["chosen"] == 4 and len(curve["k"]) == len(curve["validation_rmse"])
    assert curve["neighbors"] == 6
    # a photo so small that the columns left of the strip hold fewer patches than neighbours:
    # the curve says how many voted
    tiny = BasicAgent(colors="auto", neighbors=20, seed=0, device="cpu").fit(left[:4, :6])
    assert tiny.summary()["auto"]["neighbors"] == 4 * 4  # 2 of the 6 columns are the strip


def test_color_sweep_error_drops_once_all_colours_are_there():
    rgb = textured_image(96, 48)
    left, right = split_halves(rgb)
    errors = color_sweep(left, right, [2, 4, 8], seed=0)
    assert errors[1] < 0.5 * errors[0] and errors[2] <= errors[1] * 1.05


@pytest.mark.parametrize("kwargs", [{"colors": 0}, {"colors": "many"}, {"neighbors": 0},
                                    {"colors": True}, {"neighbors": True}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        BasicAgent(**kwargs)


def test_api_misuse_gets_a_sentence_not_an_attribute_or_reshape_error():
    agent = BasicAgent(device="cpu")
    with pytest.raises(RuntimeError, match="before fit"):
        agent.colorize(np.zeros((8, 8)))
    for call in (agent.summary, lambda: agent.training_output(np.zeros((8, 8, 3)))):
        with pytest.raises(RuntimeError, match="before fit"):  # not an AttributeError
            call()
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        agent.fit(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        agent.fit(np.zeros((8, 8, 4)))
    agent.fit(np.random.default_rng(0).integers(0, 255, (8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(H, W\) gray"):
        agent.colorize(np.zeros((8, 8, 3)))


def test_cli_writes_exactly_the_promised_files(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(textured_image(40, 24)).save(photo)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "agents.basic", str(photo), "--out", str(out), "--colors", "4", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(p.name for p in out.iterdir()) == ["photo_basic.json", "photo_basic.png", "photo_basic_compare.png"]
    record = json.loads((out / "photo_basic.json").read_text())
    assert set(record["metrics"]["right"]) == {"rmse", "psnr", "ssim", "delta_e2000", "colorfulness", "colorfulness_true"}
    assert set(record["metrics"]["baselines"]) == {"gray", "mean_chroma", "gray_lookup"}
    assert record["parameters"]["n_colors"] == 4
    assert Image.open(out / "photo_basic.png").size == (40, 24)
    assert "right half" in result.stdout


def test_numpy_integer_settings_give_a_json_summary():
    agent = BasicAgent(colors=np.int64(3), neighbors=np.int32(2), device="cpu")
    agent.fit(np.random.default_rng(0).integers(0, 255, (8, 8, 3)))
    assert json.loads(json.dumps(agent.summary()))["colors"] == 3


def test_a_shrunk_photo_is_learnt_from_its_left_half_only(tmp_path):
    """--max-side shrinks each half on its own, so another right half leaves the palette and
    the recoloured left half as they were (shrinking the whole photo at once blended the right
    half's colours into the left half's last columns)."""
    rgb = textured_image(96, 32)
    other = rgb.copy()
    other[:, 48:] = np.random.default_rng(1).integers(0, 256, other[:, 48:].shape, dtype=np.uint8)
    lefts = []
    for name, photo in (("a", rgb), ("b", other)):
        path = tmp_path / f"{name}.png"
        Image.fromarray(photo).save(path)
        result = subprocess.run(
            [sys.executable, "-m", "agents.basic", str(path), "--out", str(tmp_path / name),
             "--colors", "4", "--max-side", "64", "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        out = np.asarray(Image.open(tmp_path / name / f"{name}_basic.png"))
        assert out.shape == (21, 64, 3)
        lefts.append(split_halves(out)[0])
    assert np.array_equal(lefts[0], lefts[1])


def test_training_output_maps_the_image_it_is_given():
    # the training half comes out in the labels k-means gave it; another image of the same
    # shape comes out in its own nearest colours, not in the training half's
    left = textured_image(32, 24)
    agent = BasicAgent(colors=4, seed=0, device="cpu").fit(left)
    np.testing.assert_array_equal(agent.training_output(left).reshape(-1, 3),
                                  agent.centers[agent.labels])
    other = 255 - left
    nearest_centre = np.argmin(((other.reshape(-1, 1, 3).astype(float) - agent.centers[None]) ** 2)
                               .sum(axis=2), axis=1)
    np.testing.assert_array_equal(agent.training_output(other).reshape(-1, 3),
                                  agent.centers[nearest_centre])


def _same_gray_colours():
    # three colours with gray exactly 100: every 3x3 patch of the image is identical, so all
    # training patches are at distance 0 and the neighbours are the lowest training indices
    a = np.array([100.0, 100.0, 100.0])
    b = np.array([172.0, 79.0, 100.0])
    c = np.array([30.0, 100.0 + 70 * 0.21 / 0.72, 100.0])
    for col in (a, b, c):
        assert abs(rgb_to_gray(col) - 100.0) < 1e-9
    return a, b, c


def _agent_on(row_colours, **kw):
    left = np.array(row_colours, float)[None, :, :]     # one row, training index = column
    agent = BasicAgent(colors=3, seed=0, device="cpu", **kw).fit(left)
    out = agent.colorize(np.full((2, 2), 100.0))
    return out.reshape(-1, 3)


def test_six_neighbours_vote_not_just_the_nearest():
    a, b, c = _same_gray_colours()
    # neighbours (index order): a b b b b c -> b wins 4-1-1; 1-NN would give a
    out = _agent_on([a, b, b, b, b, c, c, c, c, c])
    np.testing.assert_allclose(out, np.tile(b, (4, 1)), atol=1e-3)


@pytest.mark.parametrize("turn", [0, 1, 2])
def test_a_three_way_tie_goes_to_the_nearest_neighbours_colour(turn):
    # neighbours: x y z x y z -> 2-2-2, the nearest (index 0) holds x (the farthest, z); each
    # colour in turn is x, so that neither the lowest nor the highest label wins by chance
    x, y, z = np.roll(np.array(_same_gray_colours()), -turn, axis=0)
    out = _agent_on([x, y, z, x, y, z, y, z, y, z])
    np.testing.assert_allclose(out, np.tile(x, (4, 1)), atol=1e-3)


def test_the_training_patches_are_3x3():
    agent = BasicAgent(colors=2, device="cpu").fit(
        np.random.default_rng(0).integers(0, 256, (6, 7, 3)))
    assert agent.train_patches.shape == (6 * 7, 9)


def test_color_sweep_scores_what_the_agent_with_each_k_colours():
    rgb = textured_image(64, 24)
    left, right = split_halves(rgb)
    errors = color_sweep(left, right, [2, 3], seed=1)
    for k, error in zip([2, 3], errors):
        out = BasicAgent(colors=k, seed=1, device="cpu").fit(left).colorize(rgb_to_gray(right))
        rmse = np.sqrt(((out - right.astype(float)) ** 2).mean())
        assert error == pytest.approx(rmse, rel=1e-5)


def test_auto_takes_the_smallest_k_within_5_percent_on_the_columns_next_to_the_test_half(
        monkeypatch):
    # a made-up validation curve: lowest 2.9 (k >= 7); k = 6 at 3.0 is within 5 % of it
    curve = [10.0, 6.0, 4.0, 3.1, 3.0] + [2.9] * 10
    calls = []

    def sweep(train, test, ks, **options):
        calls.append((train, test, list(ks)))
        return curve

    monkeypatch.setattr(basic, "color_sweep", sweep)
    left = textured_image(40, 8)
    agent = BasicAgent(colors="auto", device="cpu").fit(left)
    assert agent.n_colors == 6 and agent.summary()["auto"]["chosen"] == 6
    (train, test, ks), = calls
    assert ks == list(range(2, 17))
    # the strip is the 10 columns (a quarter) nearest the test half; the rest trains
    np.testing.assert_array_equal(train, left[:, :30])
    np.testing.assert_array_equal(test, left[:, 30:])


class FakeBar:
    def __init__(self, **options):
        self.options, self.done, self.closed = options, 0, False

    def update(self, n=1):
        self.done += n

    def close(self):
        self.closed = True


def test_colorize_counts_every_matched_patch_on_its_bar_and_closes_it(monkeypatch):
    bars = []

    def progress_bar(enabled, **options):
        bars.append(FakeBar(**options))
        return bars[-1] if enabled else None

    monkeypatch.setattr(basic, "progress_bar", progress_bar)
    agent = BasicAgent(colors=4, device="cpu", progress=True).fit(textured_image(32, 24))
    agent.colorize(np.full((10, 12), 100.0))
    (bar,) = bars
    assert bar.options["total"] == 120 and bar.done == 120 and bar.closed


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_auto_shows_its_sweep_over_k_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    BasicAgent(colors="auto", device="cpu", progress=True).fit(textured_image(24, 8))
    assert "choosing the number of colours" in terminal.getvalue()
    assert "/15" in terminal.getvalue()


def test_as_many_colours_and_neighbours_as_training_pixels_are_allowed():
    left = np.random.default_rng(0).integers(0, 256, (3, 4, 3))
    agent = BasicAgent(colors=12, neighbors=12, device="cpu").fit(left)
    assert agent.colorize(np.full((2, 2), 100.0)).shape == (2, 2, 3)
    for kwargs, flag in (({"colors": 13}, "--colors 13"), ({"neighbors": 13}, "--neighbors 13")):
        with pytest.raises(UsageError, match=flag):
            BasicAgent(device="cpu", **kwargs).fit(left)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", None, True])
def test_a_bad_seed_is_refused_when_the_agent_is_made(seed):
    with pytest.raises(ValueError, match="seed must be a whole number of at least 0"):
        BasicAgent(seed=seed)


def test_empty_or_wrongly_scaled_images_are_refused_with_one_sentence():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    agent = BasicAgent(colors=3, device="cpu")
    with pytest.raises(ValueError, match="non-empty training image"):
        agent.fit(np.zeros((0, 12, 3), np.uint8))
    agent.fit(rgb)
    gray = rgb_to_gray(rgb)
    with pytest.raises(ValueError, match="divide a 16-bit image by 257"):
        agent.colorize(gray * 257)
    with pytest.raises(ValueError, match="non-empty"):
        agent.colorize(np.zeros((0, 12)))
    assert agent.colorize(gray / 512).shape == rgb.shape  # a very dark photo is allowed
