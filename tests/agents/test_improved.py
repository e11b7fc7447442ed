"""The improved agent: quality against the basic agent, gray kept, seeds, model files, CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nn
from nn.cli import UsageError
from agents.cli import main as cli_main
from agents.improved import ImprovedAgent, build_improved_parser, make_agent
from agents.improved_data import (CROP_SLACK, box_mean, crop_bank, input_channels, input_planes,
                                  make_augment, masked_strip_target, validation_columns,
                                  working_shape)
from agents.improved_losses import REGRESSION_SCALE, ChromaClassLoss, ChromaRegressionLoss
from agents.improved_model import (CONTEXT_MARGIN, build_model, crop_start, pad_to_multiple,
                                   predict, predict_tiled)
from agents.improved_settings import DEFAULTS, PROPAGATE_GRID
from colorize.chroma_bins import ChromaBins
from colorize.color import chroma_to_rgb, rgb_to_chroma, rgb_to_gray
from colorize.edge_aware import smooth_chroma
from colorize.halves import compose_halves, split_halves
from colorize.metrics import psnr

ROOT = Path(__file__).resolve().parents[2]
TINY = {"width": 8, "crop": 16, "bank_size": 8, "batch_size": 4, "epochs": 2}


def textured_scene(h=48, w=96, seed=0):
    """A synthetic photo whose colour follows texture orientation, not gray or 3x3 patches.

    16-px blocks in a checkerboard hold horizontal or vertical stripes (4 px wide, gray 100
    and 160): a 3x3 window inside a stripe is flat either way, so the basic agent's patches
    cannot tell the blocks apart, while a network with a wider view sees the orientation.
    Horizontal blocks are orange, vertical ones teal.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    horizontal = ((yy // 16) + (xx // 16)) % 2 == 0
    stripes = np.where(horizontal, (yy // 4) % 2, (xx // 4) % 2)
    gray = np.where(stripes == 0, 100.0, 160.0) + rng.normal(0, 2, (h, w))
    chroma = np.where(horizontal[..., None], np.array([30.0, 20.0]), np.array([-25.0, -5.0]))
    return np.clip(np.rint(chroma_to_rgb(gray, chroma)), 0, 255).astype(np.uint8)


def run_protocol(agent, rgb):
    """What the command line does: train on the left half, colour the right half with the
    left half's colours known."""
    left, right = split_halves(rgb)
    agent.fit(left)
    pred = agent.colorize(rgb_to_gray(right), left=left)
    return compose_halves(agent.training_output(left), pred), pred


@pytest.fixture(scope="module")
def trained():
    """One small agent trained on the textured scene (shared by several tests)."""
    rgb = textured_scene()
    agent = ImprovedAgent(seed=0, device="cpu", width=8, crop=32, bank_size=16, batch_size=8,
                          epochs=12, loss="cls")
    output, pred = run_protocol(agent, rgb)
    return agent, rgb, output, pred


def test_beats_the_basic_agent_on_a_textured_scene(trained):
    from agents.basic import BasicAgent

    agent, rgb, _, pred = trained
    left, right = split_halves(rgb)
    basic = BasicAgent(seed=0, device="cpu").fit(left)
    basic_pred = basic.colorize(rgb_to_gray(right))
    ours = psnr(right, np.clip(np.rint(pred), 0, 255))
    theirs = psnr(right, np.clip(np.rint(basic_pred), 0, 255))
    assert ours > theirs + 3.0, (ours, theirs)


def test_default_settings_beat_the_basic_agent_too():
    from agents.basic import BasicAgent

    rgb = textured_scene()
    left, right = split_halves(rgb)
    agent = ImprovedAgent(seed=0, device="cpu", width=8, crop=32, bank_size=16, batch_size=8,
                          epochs=12)
    pred = agent.fit(left).colorize(rgb_to_gray(right))
    basic_pred = BasicAgent(seed=0, device="cpu").fit(left).colorize(rgb_to_gray(right))
    ours = psnr(right, np.clip(np.rint(pred), 0, 255))
    theirs = psnr(right, np.clip(np.rint(basic_pred), 0, 255))
    assert ours > theirs + 1.0, (ours, theirs)


def test_gray_preserved_and_left_half_untouched(trained):
    _, rgb, output, pred = trained
    left, right = split_halves(rgb)
    assert pred.shape == right.shape and pred.dtype == np.float32
    assert np.abs(rgb_to_gray(pred) - rgb_to_gray(right)).max() < 1e-3
    assert np.array_equal(split_halves(output)[0], left.astype(np.float32))


def test_training_history_and_summary(trained):
    agent = trained[0]
    info = agent.summary()
    json.dumps(info)
    hist = info["training"]
    assert len(hist["train_loss"]) == hist["epochs_run"] == len(hist["val_loss"])
    assert 0 <= hist["best_epoch"] < hist["epochs_run"]
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert info["bins"] == agent.bins.n_bins > 1


def test_identical_seeds_identical_outputs_and_other_seeds_differ():
    rgb = textured_scene(24, 48)
    outs = []
    for seed in (3, 3, 4):
        agent = ImprovedAgent(seed=seed, device="cpu", **TINY)
        outs.append(run_protocol(agent, rgb)[1])
    assert np.array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize("options", [
    {"loss": "cls"},
    {"loss": "l2", "arch": "dilated", "prior": True, "context": True, "flip_average": True},
])
def test_save_load_gives_identical_outputs(tmp_path, options):
    rgb = textured_scene(24, 48)
    path = tmp_path / "model.npz"
    agent = ImprovedAgent(seed=0, device="cpu", save_path=path, **TINY, **options)
    _, pred = run_protocol(agent, rgb)
    loaded = ImprovedAgent.load(path, device="cpu")
    left, right = split_halves(rgb)
    again = loaded.fit(left).colorize(rgb_to_gray(right), left=left)
    assert loaded.pretrained and np.array_equal(pred, again)
    assert loaded.propagate_strength == agent.propagate_strength
    # A model trained on one photo colourizes another of a different size.
    other = rgb_to_gray(textured_scene(30, 20, seed=5))
    assert loaded.colorize(other).shape == (30, 20, 3)


def test_the_chosen_propagation_strength_is_saved_and_can_be_overridden(tmp_path):
    rgb = textured_scene(24, 48)
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(split_halves(rgb)[0])
    chosen = agent.propagate_strength
    info = agent.summary()
    assert set(info["propagate_strip_mse"]) == {f"{v:g}" for v in PROPAGATE_GRID}
    assert info["propagate_strength"] == chosen in PROPAGATE_GRID
    agent.propagate_strength = 1e3  # not the fallback of files that predate the choice
    agent.save(tmp_path / "m.npz")
    assert ImprovedAgent.load(tmp_path / "m.npz", device="cpu").propagate_strength == 1e3
    overridden = ImprovedAgent.load(tmp_path / "m.npz", device="cpu", propagate=10.0)
    assert overridden.propagate_strength == 10.0
    for bad in ("abc", float("inf"), -5.0, True):
        with pytest.raises(ValueError, match="propagate"):
            ImprovedAgent(propagate=bad)


def test_a_model_file_from_before_the_strength_choice_loads_with_the_strongest(tmp_path):
    agent = ImprovedAgent(seed=0, device="cpu", propagate=1e3, **TINY).fit(textured_scene(24, 48))
    agent.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    del meta["propagate_strength"]
    meta["config"]["propagate"] = "auto"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded = ImprovedAgent.load(tmp_path / "old.npz", device="cpu")
    assert loaded.propagate_strength == PROPAGATE_GRID[-1] == 1e6


def test_the_chosen_strength_has_the_lowest_strip_error_of_the_grid():
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(textured_scene(24, 48))
    strength, errors = agent.propagate_strength, agent.propagate_errors
    assert sorted(errors) == sorted(PROPAGATE_GRID)
    # this scene's errors differ, so the choice is not a tie broken by the grid's order
    assert len(set(errors.values())) == len(errors)
    assert errors[strength] == min(errors.values())


@pytest.mark.parametrize("strength", ["abc", -5.0, [1.0]])
def test_load_refuses_a_bad_saved_strength(tmp_path, strength):
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(textured_scene(24, 48))
    agent.propagate_strength = strength
    agent.save(tmp_path / "m.npz")
    with pytest.raises(UsageError, match="not an improved-agent model"):
        ImprovedAgent.load(tmp_path / "m.npz")


@pytest.mark.parametrize("option, value", [
    ("saturation", float("nan")), ("saturation", float("inf")), ("saturation", 1e39),
    ("refine", float("inf")), ("refine", 1e12), ("temperature", 1e-300), ("temperature", 1e300),
    ("propagate", 1e12)])
def test_values_that_would_overflow_float32_are_refused(option, value, tmp_path):
    with pytest.raises(ValueError, match=option):
        ImprovedAgent(**{option: value})
    # and a model file carrying one is refused when loaded, not decoded into NaN, unless the
    # load replaces the value (a decoding setting saved before its bound was added)
    agent = ImprovedAgent(seed=0, device="cpu", propagate=1e3, **TINY).fit(textured_scene(24, 48))
    agent.config[option] = value
    agent.save(tmp_path / "m.npz")
    with pytest.raises(UsageError, match=f"holds settings that cannot work \\({option}"):
        ImprovedAgent.load(tmp_path / "m.npz")
    replaced = ImprovedAgent.load(tmp_path / "m.npz", device="cpu", **{option: DEFAULTS[option]})
    assert replaced.config[option] == DEFAULTS[option]


def test_colorize_refuses_a_gray_image_with_nan():
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(textured_scene(24, 48))
    gray = np.full((8, 8), 100.0)
    gray[3, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        agent.colorize(gray)


def test_load_refuses_bad_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        ImprovedAgent.load(tmp_path / "missing.npz")
    text = tmp_path / "text.npz"
    text.write_text("not a model")
    with pytest.raises(UsageError, match="not a model saved"):
        ImprovedAgent.load(text)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(UsageError, match="not an improved-agent model"):
        ImprovedAgent.load(other)
    # A file whose weights do not fit the architecture its configuration names.
    rgb = textured_scene(24, 48)
    good = tmp_path / "good.npz"
    ImprovedAgent(seed=0, device="cpu", save_path=good, **TINY).fit(split_halves(rgb)[0])
    with np.load(good) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    meta["config"]["width"] = 16
    arrays["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(UsageError, match="does not fit the architecture"):
        ImprovedAgent.load(bad)
    with pytest.raises(UsageError, match="trained with arch"):
        ImprovedAgent.load(good, arch="dilated")


def test_full_resolution_output_keeps_size_and_gray():
    rgb = textured_scene(24, 48)
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(split_halves(rgb)[0])
    big = np.asarray(Image.fromarray(rgb).resize((192, 96), Image.Resampling.BILINEAR))
    gray = rgb_to_gray(big)
    out = agent.colorize(gray)
    assert out.shape == (96, 192, 3)
    assert np.abs(rgb_to_gray(out) - gray).max() < 1e-3
    assert working_shape((96, 192), 24 * 24) == (17, 34)
    assert working_shape((10, 10), 24 * 24) == (10, 10)


def test_known_left_colours_spread_into_a_continuing_region_at_any_size():
    agent = ImprovedAgent(seed=0, device="cpu", propagate=1e5, **TINY).fit(textured_scene(24, 48))
    # a flat region of one colour continues from the known left half into the gray one;
    # both are larger than the working size, so propagation runs on resized copies
    colour = np.float32([200.0, 120.0, 60.0])
    left = np.tile(colour, (96, 64, 1))
    gray = np.full((96, 80), float(rgb_to_gray(colour)), dtype=np.float32)
    guessed = agent.colorize(gray)
    spread = agent.colorize(gray, left=left)
    assert spread.shape == (96, 80, 3)
    assert np.abs(rgb_to_gray(spread) - gray).max() < 1e-3
    # the seam vanishes; away from it the colour ramps towards the network's guess (the
    # energy penalises curvature, not slope)
    assert np.abs(spread[:, :2] - colour).max() < 5.0
    assert np.abs(spread[:, :20] - colour).mean() < 0.25 * np.abs(guessed[:, :20] - colour).mean()
    assert np.abs(spread - colour).mean() < 0.75 * np.abs(guessed - colour).mean()


def test_propagation_off_or_unusable_left_half():
    rgb = textured_scene(24, 48)
    left, right = split_halves(rgb)
    agent = ImprovedAgent(seed=0, device="cpu", propagate=0.0, **TINY).fit(left)
    gray = rgb_to_gray(right)
    assert np.array_equal(agent.colorize(gray, left=left), agent.colorize(gray))
    with pytest.raises(ValueError, match="as tall as the gray"):
        agent.colorize(gray, left=left[:-1])
    with pytest.raises(ValueError, match="propagate"):
        ImprovedAgent(propagate=-1.0)


def test_tiled_prediction_matches_whole_image_inside():
    rng = np.random.default_rng(0)
    model = build_model("unet", 1, 2, 4, seed=0)
    model.eval()
    x = rng.normal(size=(1, 1, 40, 52)).astype(np.float32)
    whole = predict(model, x, 4)
    tiled = predict_tiled(model, x, 4, tile=16, margin=40)
    assert tiled.shape == whole.shape
    assert np.allclose(tiled, whole, atol=1e-4)
    # tile and margin off the pooling grid: the tiles still pool like the whole image
    big = rng.normal(size=(1, 1, 203, 221)).astype(np.float32)
    for tile, margin in ((64, 50), (62, 48), (66, 46)):
        np.testing.assert_allclose(predict_tiled(model, big, 4, tile=tile, margin=margin),
                                   predict(model, big, 4), atol=1e-4)
    # a batch of two large images, tile by tile: each as on its own
    pair = np.concatenate([big, big[:, :, ::-1]])
    both = predict_tiled(model, pair, 4, tile=64, margin=50)
    assert both.shape == (2, 2, 203, 221)
    np.testing.assert_allclose(both[1:], predict_tiled(model, pair[1:], 4, tile=64, margin=50))


def test_padding_replicates_the_edges_and_predict_crops_them_away():
    x = np.arange(30, dtype=np.float32).reshape(1, 1, 5, 6)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 8, 8) and pad_to_multiple(padded, 4) is padded
    np.testing.assert_array_equal(padded[:, :, :5, :6], x)
    np.testing.assert_array_equal(padded[:, :, 5:, :6], np.repeat(x[:, :, 4:], 3, axis=2))
    np.testing.assert_array_equal(padded[:, :, :, 6:], np.repeat(padded[:, :, :, 5:6], 2, axis=3))
    model = build_model("unet", 1, 2, 4, seed=0)
    x = np.random.default_rng(0).normal(size=(1, 1, 30, 29)).astype(np.float32)
    out = predict(model, x, 4)
    with model.evaluating():
        np.testing.assert_array_equal(out, model.forward(pad_to_multiple(x, 4))[:, :, :30, :29])


@pytest.mark.parametrize("arch, reach", [("unet", 74), ("dilated", 65)])
def test_one_changed_pixel_changes_a_block_the_size_of_the_receptive_field(arch, reach):
    model = build_model(arch, 1, 2, 4, seed=0)
    x = np.random.default_rng(0).normal(size=(1, 1, 160, 160)).astype(np.float32)
    changed = x.copy()
    changed[0, 0, 81, 81] += 10
    moved = (predict(model, changed, 4) != predict(model, x, 4)).any(axis=(0, 1))
    rows, cols = np.flatnonzero(moved.any(axis=1)), np.flatnonzero(moved.any(axis=0))
    assert rows.max() - rows.min() + 1 == reach and cols.max() - cols.min() + 1 == reach


@pytest.mark.parametrize("arch, multiple", [("unet", 4), ("dilated", 1)])
def test_a_crop_from_crop_start_predicts_like_the_whole_image(arch, multiple):
    model = build_model(arch, 1, 2, 4, seed=0)
    rng = np.random.default_rng(1)
    for layer in nn.model.walk(model):  # running statistics as after some training
        if isinstance(layer, nn.BatchNorm2D):
            layer.buffers["running_mean"][...] = rng.normal(0, 0.5, layer.channels)
            layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, layer.channels)
    x = rng.normal(size=(1, 1, 40, 150)).astype(np.float32)
    whole = predict(model, x, multiple)
    for column in (0, 3, 47, 49, 101, 149):
        first = crop_start(column, multiple)
        assert first % multiple == 0 and first <= max(0, column - CONTEXT_MARGIN)
        part = predict(model, x[..., first:], multiple)
        np.testing.assert_allclose(part[..., column - first:], whole[..., column:], atol=1e-5)
    # with less context than the network's reach the crop's edge shows
    first = crop_start(101, multiple, margin=8)
    part = predict(model, x[..., first:], multiple)
    assert np.abs(part[..., 101 - first:] - whole[..., 101:]).max() > 1e-3


@pytest.mark.parametrize("arch", ["unet", "dilated"])
def test_the_networks_3x3_convolutions_keep_their_columns_for_backward(arch):
    convs = [layer for layer in nn.model.walk(build_model(arch, 3, 10, 4, seed=0))
             if isinstance(layer, nn.Conv2D)]
    assert {c.keep_columns for c in convs if c.kernel_size == (3, 3)} == {True}
    assert [c.kernel_size for c in convs if not c.keep_columns] == [(1, 1)]  # the head


def test_the_strip_is_validated_on_a_crop_with_all_its_context(monkeypatch):
    """The training image is cut to the strip and the network's reach before validation; the
    strip's loss is the one the whole training image gives."""
    import agents.improved as improved

    seen = {}

    def spy(model, loss, optimizer, x, y, **options):
        seen.update(model=model, loss=loss, x_val=options["x_val"], y_val=options["y_val"])
        return nn.fit(model, loss, optimizer, x, y, **options)

    monkeypatch.setattr(improved, "fit", spy)
    left, _ = split_halves(textured_scene(48, 256))  # 128 columns: the strip is the last 26
    agent = ImprovedAgent(seed=0, device="cpu", propagate=0.0, **TINY).fit(left)
    assert seen["x_val"].shape == (1, 3, 48, 128 - crop_start(102, 4)) == (1, 3, 48, 76)
    planes = input_planes(rgb_to_gray(left), prior_table=agent.prior_table)[None]
    chroma = rgb_to_chroma(left).transpose(2, 0, 1).astype(np.float32)
    target = seen["loss"].encode(masked_strip_target(chroma, 26)[None])
    whole = nn.train.evaluate(seen["model"], seen["loss"], planes, target, 8)
    cropped = nn.train.evaluate(seen["model"], seen["loss"], seen["x_val"], seen["y_val"], 8)
    assert whole == pytest.approx(cropped, rel=1e-5)
    assert min(agent.history["val_loss"]) == pytest.approx(cropped, rel=1e-6)  # best kept


def test_a_long_thin_image_reaches_the_network_tile_by_tile(monkeypatch):
    model = build_model("unet", 1, 2, 4, seed=0)
    forward, sizes = model.forward, []
    monkeypatch.setattr(model, "forward", lambda x: sizes.append(x.shape[2:]) or forward(x))
    predict_tiled(model, np.zeros((1, 1, 400, 40), np.float32), 4, tile=64, margin=40)
    # a tile, its margins, at most 3 rows to the pooling grid and 3 of padding
    assert len(sizes) > 1 and max(h for h, _ in sizes) <= 64 + 2 * 40 + 6
    sizes.clear()
    predict_tiled(model, np.zeros((1, 1, 144, 144), np.float32), 4, tile=64, margin=40)
    assert sizes == [(144, 144)]  # small enough to go whole


def test_prediction_leaves_each_layers_mode_as_it_was():
    # a batch-norm frozen in eval mode while the rest trains stays frozen after predict
    model = build_model("unet", 1, 2, 4, seed=0).train()
    frozen = [layer for layer in model._self_and_descendants()
              if isinstance(layer, nn.BatchNorm2D)][0].eval()
    x = np.zeros((1, 1, 400, 40), np.float32)
    predict(model, x, 4)
    predict_tiled(model, x, 4, tile=64, margin=40)
    assert model.training and not frozen.training


def test_masked_losses_score_only_known_pixels():
    rng = np.random.default_rng(0)
    target = rng.normal(0, 10, (2, 2, 6, 8)).astype(np.float32)
    pred = rng.normal(0, 10, (2, 2, 6, 8)).astype(np.float32)
    masked = target.copy()
    masked[:, :, :, :5] = np.nan
    loss = ChromaRegressionLoss("l2")
    diff = pred - target / REGRESSION_SCALE
    expected = (diff[:, :, :, 5:] ** 2).mean()
    assert np.isclose(loss.forward(pred, masked), expected, rtol=1e-5)
    grad = loss.backward()
    assert np.all(grad[:, :, :, :5] == 0)
    assert np.allclose(grad[:, :, :, 5:], 2 * diff[:, :, :, 5:] / (2 * 2 * 6 * 3), rtol=1e-5)

    bins = ChromaBins.fit(target.transpose(0, 2, 3, 1), step=10.0)
    logits = rng.normal(size=(2, bins.n_bins, 6, 8)).astype(np.float32)
    cls = ChromaClassLoss(bins)
    full = ChromaClassLoss(bins).forward(logits[..., 5:], cls.encode(target[..., 5:]))
    assert np.isclose(cls.forward(logits, cls.encode(masked)), full, rtol=1e-5)
    assert np.all(cls.backward()[..., :5] == 0)
    # the same as the soft-target cross-entropy written out from encode_soft
    soft = bins.encode_soft(target[..., 5:])
    logp = logits[..., 5:] - np.log(np.exp(logits[..., 5:]).sum(axis=1, keepdims=True))
    w = bins.rebalance_weights(0.5)[None, :, None, None]
    assert np.isclose(full, -(w * soft * logp).sum(axis=1).mean(), rtol=1e-5)
    # a pixel counts only when both of its chroma values are known (NaN in the second value
    # alone made the class loss NaN)
    second = target.copy()
    second[:, 1, :, :5] = np.nan
    assert np.isclose(cls.forward(logits, cls.encode(second)), full, rtol=1e-5)
    assert np.isclose(loss.forward(pred, second), expected, rtol=1e-5)


def test_smooth_l1_chroma_loss_turns_linear_at_8_chroma_units():
    # beta = 0.25 in units of REGRESSION_SCALE: errors of 4 and 16 chroma units lie on
    # either side of it, 0.5 d^2 / beta below and |d| - beta / 2 above
    target = np.zeros((1, 2, 1, 2), np.float32)
    target[0, :, 0, 0], target[0, :, 0, 1] = 4.0, 16.0
    pred = np.zeros_like(target)
    loss = ChromaRegressionLoss("smooth_l1")
    d_small, d_large = 4.0 / REGRESSION_SCALE, 16.0 / REGRESSION_SCALE
    expected = (0.5 * d_small ** 2 / 0.25 + (d_large - 0.125)) / 2
    assert float(loss.forward(pred, target)) == pytest.approx(expected, rel=1e-6)


def test_a_batch_with_no_known_pixel_scores_zero_not_nan():
    rng = np.random.default_rng(0)
    unknown = np.full((1, 2, 4, 4), np.nan, np.float32)
    pred = rng.normal(size=(1, 2, 4, 4)).astype(np.float32)
    reg = ChromaRegressionLoss("l2")
    assert float(reg.forward(pred, unknown)) == 0.0 and not np.any(reg.backward())
    bins = ChromaBins.fit(rng.normal(0, 20, (4, 4, 2)).astype(np.float32), step=10.0)
    cls = ChromaClassLoss(bins)
    logits = rng.normal(size=(1, bins.n_bins, 4, 4)).astype(np.float32)
    assert float(cls.forward(logits, cls.encode(unknown))) == 0.0
    assert not np.any(cls.backward())


def test_data_pipeline_shapes_and_flips():
    gray = np.arange(12 * 20, dtype=np.float32).reshape(12, 20)
    planes = input_planes(gray, rows=True, prior_table=np.zeros((256, 2), np.float32))
    assert planes.shape == (4, 12, 20) and planes.dtype == np.float32
    assert input_planes(gray, context=True).shape == (input_channels(False, False, True), 12, 20)
    assert validation_columns(20) == 4 and validation_columns(6) == 3
    rng = np.random.default_rng(0)
    x, y = crop_bank(planes, planes[:2], crop=8, bank_size=5, rng=rng)
    assert x.shape == (5, 4, 12, 20) and y.shape == (5, 2, 12, 20)
    xb, yb = make_augment(8, 8)(x, y, np.random.default_rng(1))
    assert xb.shape == (5, 4, 8, 8) and yb.shape == (5, 2, 8, 8)
    # The same window and the same flip for inputs and targets.
    assert np.array_equal(xb[:, :2], yb)
    # Each sample is its window of the bank, mirrored or not, and with 5 samples and this
    # seed both happen (a flip that never flips would fail here).
    windows = [(t, l) for t in range(5) for l in range(13)]
    mirrored = []
    for sample, out in zip(x, xb):
        plain = [np.array_equal(out, sample[:, t:t + 8, l:l + 8]) for t, l in windows]
        flipped = [np.array_equal(out, sample[:, t:t + 8, l:l + 8][..., ::-1]) for t, l in windows]
        assert any(plain) or any(flipped)
        mirrored.append(any(flipped) and not any(plain))
    assert any(mirrored) and not all(mirrored)


def test_box_mean_matches_a_loop():
    image = np.random.default_rng(0).normal(size=(9, 13)).astype(np.float32)
    padded = np.pad(image, 3, mode="edge")
    loop = np.array([[padded[i:i + 7, j:j + 7].mean() for j in range(13)] for i in range(9)])
    got = box_mean(image, 7)
    assert got.dtype == np.float32 and np.allclose(got, loop, atol=1e-5)


def _run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "agents.improved", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def tiny_photo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photo")
    path = folder / "tiny.png"
    Image.fromarray(textured_scene(16, 32)).save(path)
    return path


def test_cli_writes_files_and_json(tiny_photo, tmp_path):
    model = tmp_path / "m.npz"
    result = _run_cli(tiny_photo, "--epochs", "1", "--out", tmp_path, "--save-model", model,
                      "--quiet", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for name in ("tiny_improved.png", "tiny_improved_compare.png", "tiny_improved.json"):
        assert (tmp_path / name).exists()
    record = json.loads((tmp_path / "tiny_improved.json").read_text())
    assert set(record["metrics"]["right"]) >= {"rmse", "psnr", "ssim", "delta_e2000",
                                               "colorfulness", "colorfulness_true"}
    assert record["agent"] == "improved" and record["parameters"]["config"]["epochs"] == 1
    out = np.asarray(Image.open(tmp_path / "tiny_improved.png"))
    original = np.asarray(Image.open(tiny_photo))
    assert out.shape == original.shape
    assert np.array_equal(out[:, :16], original[:, :16])
    assert model.exists()
    reused = _run_cli(tiny_photo, "--load-model", model, "--out", tmp_path / "again", "--quiet", cwd=ROOT)
    assert reused.returncode == 0, reused.stderr
    again = np.asarray(Image.open(tmp_path / "again" / "tiny_improved.png"))
    assert np.array_equal(again, out)


@pytest.mark.parametrize("kind", ["missing", "corrupt", "architecture"])
def test_cli_bad_model_file_is_one_error_line(tiny_photo, tmp_path, kind, capsys):
    path = tmp_path / "model.npz"
    extra = []
    if kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 truncated")
    elif kind == "architecture":
        ImprovedAgent(seed=0, device="cpu", save_path=path, **TINY).fit(textured_scene(16, 16))
        extra = ["--arch", "dilated"]
    argv = [str(tiny_photo), "--load-model", str(path), "--out", str(tmp_path / "out"), *extra]
    status = cli_main(build_improved_parser(), "improved", make_agent, argv)
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "model file" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--temperature", "0"],
                                   ["--saturation", "abc"], ["--refine", "-1"],
                                   ["--propagate", "-1"], ["--propagate", "abc"],
                                   ["--propagate", "inf"]])
def test_cli_bad_flags_are_one_error_line(tiny_photo, tmp_path, flags, capsys):
    argv = [str(tiny_photo), "--out", str(tmp_path / "out"), *flags]
    assert cli_main(build_improved_parser(), "improved", make_agent, argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: argument --")
    assert not (tmp_path / "out").exists()


def test_propagate_flag_takes_auto_or_a_strength():
    parser = build_improved_parser()
    assert parser.parse_args(["--propagate", "auto"]).propagate == "auto"
    assert parser.parse_args(["--propagate", "100"]).propagate == 100.0
    assert parser.parse_args([]).propagate is None


@pytest.mark.parametrize("save, says", [(False, "is ignored"), (True, "only sets the strength")])
def test_propagate_with_a_reference_says_what_it_does(tiny_photo, tmp_path, capsys, save, says):
    args = build_improved_parser().parse_args(
        [str(tiny_photo), "--reference", str(tiny_photo), "--propagate", "100"]
        + (["--save-model", str(tmp_path / "m.npz")] if save else []))
    agent = make_agent(args, "cpu")
    assert agent.propagate_strength == 100.0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note: --propagate") and says in err[0]
    args.quiet = True
    make_agent(args, "cpu")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("option, value, fragment", [
    ("epochs", 2.5, "whole number"), ("epochs", True, "whole number"),
    ("epochs", float("inf"), "whole number"), ("width", 4.5, "whole number"),
    ("rows", "no", "true or false"), ("bank_size", 1e9, "at most 4096"),
    ("lr", "0.1", "finite number"), ("ema_decay", 1.0, r"lie in \[0, 1\)"),
    ("ema_decay", -0.5, r"lie in \[0, 1\)")])
def test_settings_of_the_wrong_kind_are_refused_before_training(option, value, fragment):
    # they used to pass int() / bool() and fail mid-training, or (rows="no") mean yes
    with pytest.raises(ValueError, match=f"{option} must .*{fragment}"):
        ImprovedAgent(**{option: value})
    with pytest.raises(ValueError, match="seed must be a whole number of at least 0"):
        ImprovedAgent(seed=-1)


def test_numpy_numbers_become_plain_settings_that_save_and_summarise(tmp_path):
    agent = ImprovedAgent(seed=np.int64(0), device="cpu", save_path=tmp_path / "m.npz",
                          **{**TINY, "epochs": np.int64(1), "width": np.int32(8),
                             "saturation": np.float32(1.0), "prior": np.bool_(True)})
    agent.fit(textured_scene(24, 48))  # save() writes the settings as JSON
    assert type(agent.config["epochs"]) is int and type(agent.config["saturation"]) is float
    json.dumps(agent.summary(), allow_nan=False)
    assert ImprovedAgent.load(tmp_path / "m.npz", device="cpu").config == agent.config


def test_load_takes_decoding_settings_only(tmp_path):
    ImprovedAgent(seed=0, device="cpu", save_path=tmp_path / "m.npz", **TINY).fit(
        textured_scene(24, 48))
    with pytest.raises(ValueError, match="epochs, lr cannot be given to load"):
        ImprovedAgent.load(tmp_path / "m.npz", epochs=50, lr=0.5)
    loaded = ImprovedAgent.load(tmp_path / "m.npz", device="cpu", flip_average=False,
                                temperature=0.5)
    assert loaded.config["flip_average"] is False and loaded.config["temperature"] == 0.5
    with pytest.raises(ValueError, match="temperature must lie"):  # the caller's, not the file's
        ImprovedAgent.load(tmp_path / "m.npz", temperature=-1)
    # a loaded model is not trained, so a photo too narrow to train on is fine for it
    assert loaded.fit(textured_scene(24, 1)) is loaded


def test_a_model_file_with_switches_saved_as_0_and_1_loads(tmp_path):
    ImprovedAgent(seed=0, device="cpu", save_path=tmp_path / "m.npz", **TINY).fit(
        textured_scene(24, 48))
    arrays = dict(np.load(tmp_path / "m.npz"))
    meta = json.loads(str(arrays["meta"]))
    meta["config"].update(prior=1, flip_average=0)  # what older versions' Python API allowed
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded = ImprovedAgent.load(tmp_path / "old.npz", device="cpu")
    assert loaded.config["prior"] is True and loaded.config["flip_average"] is False
    # a file without a setting added later: repeating its default is not a mismatch
    del meta["config"]["context"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "older.npz", **arrays)
    assert ImprovedAgent.load(tmp_path / "older.npz", device="cpu", context=False).config[
        "context"] is False


def test_known_colours_and_training_images_that_cannot_work_are_refused():
    rgb = textured_scene(24, 48)
    left, right = split_halves(rgb)
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(left)
    gray = rgb_to_gray(right)
    with pytest.raises(ValueError, match="left must be an"):
        agent.colorize(gray, left=left[:, :0])  # no column: resizing made up a black one
    with pytest.raises(ValueError, match="left holds values from 0.*multiply a 0..1 image"):
        agent.colorize(gray, left=left / 255.0)  # a 0..1 image propagated as near-black
    dark = (left > 128).astype(np.uint8)  # uint8 0s and 1s: a very dark photo, not 0..1
    assert agent.colorize(gray, left=dark).shape == gray.shape + (3,)
    with pytest.raises(ValueError, match="at least 2 columns"):
        ImprovedAgent(seed=0, device="cpu", **TINY).fit(rgb[:, :1])  # no validation strip


def test_a_shrunk_photo_trains_on_nothing_of_its_right_half(tmp_path):
    """--max-side shrinks each half on its own: with another right half, the training (model,
    history, the propagation strength chosen on the validation strip next to the seam) is the
    same. Shrinking the whole photo at once blended the right half into the strip's columns."""
    rgb = textured_scene(24, 96)
    other = rgb.copy()
    other[:, 48:] = np.random.default_rng(1).integers(0, 256, other[:, 48:].shape, dtype=np.uint8)
    runs = []
    for name, photo in (("a", rgb), ("b", other)):
        path = tmp_path / f"{name}.png"
        Image.fromarray(photo).save(path)
        model = tmp_path / f"{name}.npz"
        result = _run_cli(path, "--max-side", "64", "--epochs", "2", "--out", tmp_path / name,
                          "--save-model", model, "--quiet", cwd=ROOT)
        assert result.returncode == 0, result.stderr
        record = json.loads((tmp_path / name / f"{name}_improved.json").read_text())
        with np.load(model) as saved:
            runs.append((record["parameters"], {k: saved[k] for k in saved.files}))
    (info_a, weights_a), (info_b, weights_b) = runs
    for key in ("training", "propagate_strength", "propagate_strip_mse"):
        if key == "training":
            info_a[key].pop("seconds"), info_b[key].pop("seconds")
        assert info_a[key] == info_b[key], key
    assert weights_a.keys() == weights_b.keys()
    assert all(np.array_equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_the_weight_average_option_changes_what_is_validated_not_how_it_trains():
    rgb = textured_scene(24, 48)
    plain, averaged = (ImprovedAgent(seed=0, device="cpu", ema_decay=d, **TINY).fit(rgb)
                       for d in (0.0, 0.9))
    assert averaged.history["train_loss"] == plain.history["train_loss"]
    assert averaged.history["val_loss"] != plain.history["val_loss"]
    assert averaged.summary()["config"]["ema_decay"] == 0.9


def test_the_strip_colours_never_reach_training():
    """Changing only the validation strip's colours changes nothing the network trains on."""
    rgb = textured_scene(24, 50)
    other = rgb.copy()
    strip = validation_columns(50)
    other[:, -strip:] = rgb[:, -strip:, ::-1]
    a, b = (ImprovedAgent(seed=0, device="cpu", propagate=0.0, **TINY).fit(x) for x in (rgb, other))
    assert np.array_equal(a.prior_table, b.prior_table)
    assert np.array_equal(a.bins.centers, b.bins.centers)
    assert a.history["train_loss"] == b.history["train_loss"]
    assert a.history["val_loss"] != b.history["val_loss"]


def test_the_strip_target_keeps_exactly_the_last_columns():
    chroma = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    target = masked_strip_target(chroma, 2)
    assert np.isnan(target[:, :, :3]).all() and np.array_equal(target[:, :, 3:], chroma[:, :, 3:])
    assert np.array_equal(masked_strip_target(chroma, 5), chroma)
    for bad in (0, 6):
        with pytest.raises(ValueError, match="val_cols"):
            masked_strip_target(chroma, bad)


def test_flip_average_makes_the_network_mirror_symmetric():
    agent = ImprovedAgent(seed=0, device="cpu", refine=0.0, propagate=0.0, **TINY)
    agent.fit(textured_scene(24, 50))
    gray = rgb_to_gray(textured_scene(23, 37, seed=3))  # odd sizes: the padding is one-sided
    assert np.array_equal(agent.colorize(gray)[:, ::-1], agent.colorize(gray[:, ::-1]))


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_failed_fit_leaves_no_model_to_colour_with():
    rgb = textured_scene(24, 50)
    agent = ImprovedAgent(seed=0, device="cpu", loss="l2", lr=1e6, **{**TINY, "epochs": 6})
    with pytest.raises(UsageError, match="diverged"):
        agent.fit(split_halves(rgb)[0])
    with pytest.raises(RuntimeError, match="before fit"):
        agent.colorize(rgb_to_gray(rgb))
    assert agent.propagate_strength is None


def test_the_propagation_strength_is_chosen_only_when_needed(monkeypatch):
    """A reference run never propagates known colours, so it skips the strip's six solves;
    the protocol's first colourizing with known colours makes the choice."""
    rgb = textured_scene(24, 48)
    left, right = split_halves(rgb)
    calls = []
    choose = ImprovedAgent._choose_propagation
    monkeypatch.setattr(ImprovedAgent, "_choose_propagation",
                        lambda self, *a: calls.append(1) or choose(self, *a))
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(left)
    agent.colorize(rgb_to_gray(right))
    assert calls == [] and agent.summary()["propagate_strength"] is None
    assert "propagate_strip_mse" not in agent.summary()
    agent.colorize(rgb_to_gray(right), left=left)
    agent.colorize(rgb_to_gray(right), left=left)
    assert calls == [1] and agent.summary()["propagate_strength"] in PROPAGATE_GRID


def test_an_interrupted_strength_choice_is_made_again_next_time(monkeypatch):
    left, right = split_halves(textured_scene(24, 48))
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(left)
    choose = ImprovedAgent._choose_propagation

    def interrupted(self, *strip):
        monkeypatch.setattr(ImprovedAgent, "_choose_propagation", choose)
        raise KeyboardInterrupt

    monkeypatch.setattr(ImprovedAgent, "_choose_propagation", interrupted)
    with pytest.raises(KeyboardInterrupt):
        agent.colorize(rgb_to_gray(right), left=left)
    assert agent.colorize(rgb_to_gray(right), left=left).shape == right.shape
    assert agent.propagate_strength in PROPAGATE_GRID


def test_strength_zero_is_scored_as_it_is_used():
    """At strength 0 predict_chroma applies the ``refine`` smoothing; the strip scores that."""
    left = split_halves(textured_scene(24, 48))[0]
    agent = ImprovedAgent(seed=0, device="cpu", refine=3.0, **TINY).fit(left)
    errors = agent.propagate_strength is not None and agent.propagate_errors
    gray = rgb_to_gray(left).astype(np.float32)
    train_w = left.shape[1] - validation_columns(left.shape[1])
    guess = np.ascontiguousarray(agent._network_chroma(gray)[:, train_w:])
    truth = rgb_to_chroma(left[:, train_w:])
    smoothed = smooth_chroma(gray[:, train_w:], guess, 3.0)
    assert errors[0.0] == pytest.approx(float(((smoothed - truth) ** 2).mean()), rel=1e-5)
    assert errors[0.0] != pytest.approx(float(((guess - truth) ** 2).mean()), rel=1e-5)


def test_gray_is_kept_where_the_colours_leave_the_gamut():
    left, right = split_halves(textured_scene(24, 48))
    agent = ImprovedAgent(seed=0, device="cpu", saturation=4.0, **TINY).fit(left)
    gray = rgb_to_gray(right).astype(np.float32)
    gray[:, :6] = np.linspace(0, 8, 24)[:, None]
    gray[:, -6:] = 250
    for known in (None, left):
        out = agent.colorize(gray, left=known)
        assert np.abs(rgb_to_gray(out) - gray).max() < 1e-3


def test_input_planes_values_rows_from_top_to_bottom_and_rounded_prior_levels():
    gray = np.array([[10.2, 10.7], [127.5, 255.0], [0.0, 191.5]], dtype=np.float32)
    table = np.stack([np.arange(256.0), -np.arange(256.0)], axis=1).astype(np.float32)
    planes = input_planes(gray, rows=True, prior_table=table)
    np.testing.assert_allclose(planes[0], (gray - 127.5) / 64, rtol=1e-6)
    # row position: -1 on the top row, +1 on the bottom one (a saved model relies on it)
    np.testing.assert_array_equal(planes[1], [[-1, -1], [0, 0], [1, 1]])
    # the prior of the nearest gray level, as colorize.metrics.gray_level_chroma_table
    # rounds the training image's gray (10.7 is level 11, not 10)
    levels = np.array([[10, 11], [128, 255], [0, 192]])
    np.testing.assert_array_equal(planes[2], levels / 32.0)
    np.testing.assert_array_equal(planes[3], -levels / 32.0)


@pytest.mark.parametrize("width,expected", [(20, 4), (23, 5), (28, 6), (27, 5), (10, 4), (7, 3)])
def test_validation_columns_are_the_rounded_fifth_at_least_4_at_most_half(width, expected):
    assert validation_columns(width) == expected


def test_the_crop_bank_reaches_every_position_including_the_last():
    # planes whose values are their own row and column: each crop's corner says where it was cut
    h, w, crop = 27, 26, 24 - CROP_SLACK  # windows of 24: tops 0..3 and lefts 0..2
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = np.stack([rows, cols])
    x, t = crop_bank(planes, planes, crop=crop, bank_size=60, rng=np.random.default_rng(0))
    assert x.shape == (60, 2, 24, 24) and np.array_equal(x, t)
    assert set(x[:, 0, 0, 0].astype(int)) == {0, 1, 2, 3}
    assert set(x[:, 1, 0, 0].astype(int)) == {0, 1, 2}


# -- round 6a of mutation testing: settings that must reach training and decoding -------------
@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """Two tiny model files trained on the textured scene's left half: cls and l2."""
    folder = tmp_path_factory.mktemp("models")
    left = split_halves(textured_scene(24, 48))[0]
    paths = {}
    for loss in ("cls", "l2"):
        paths[loss] = folder / f"{loss}.npz"
        ImprovedAgent(seed=0, device="cpu", loss=loss, propagate=1e3, save_path=paths[loss],
                      **TINY).fit(left)
    return paths


def test_the_bin_step_and_the_neighbours_reach_training():
    left = split_halves(textured_scene(24, 48))[0]
    fits = {n: ImprovedAgent(seed=0, device="cpu", neighbors=n, bin_step=20.0, **TINY).fit(left)
            for n in (1, 5)}
    assert fits[1].bins.step == 20.0 and np.allclose(fits[1].bins.centers % 20.0, 0.0)
    assert fits[1].history["train_loss"] != fits[5].history["train_loss"]


def test_plateau_halves_the_learning_rate_and_0_keeps_it():
    left = split_halves(textured_scene(24, 48))[0]
    rates = {p: ImprovedAgent(seed=0, device="cpu", plateau=p, patience=20,
                              **{**TINY, "epochs": 6}).fit(left).history["lr"] for p in (0, 1)}
    assert rates[0] == [DEFAULTS["lr"]] * 6
    ratios = [b / a for a, b in zip(rates[1], rates[1][1:])]
    assert rates[1][0] == DEFAULTS["lr"] and set(ratios) == {1.0, 0.5}


def test_training_columns_narrower_than_the_network_takes_are_edge_padded():
    from agents.improved import _pad_at_least, _pad_target

    # the protocol's smallest photo, 8 x 8: its left half trains on 2 columns (2 more are
    # the validation strip), fewer than the U-Net's smallest input of 4
    photo = textured_scene(8, 8)
    agent = ImprovedAgent(seed=0, device="cpu", **TINY).fit(photo[:, :4])
    assert agent.colorize(rgb_to_gray(photo[:, 4:])).shape == (8, 4, 3)
    # the narrowest image fit takes: one column to train on, one to validate on
    assert ImprovedAgent(seed=0, device="cpu", **TINY).fit(photo[:, :2]).model is not None
    planes = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    np.testing.assert_array_equal(_pad_at_least(planes, 4),
                                  np.pad(planes, ((0, 0), (0, 1), (0, 2)), mode="edge"))
    tall = np.arange(16, dtype=np.float32).reshape(1, 8, 2)
    np.testing.assert_array_equal(_pad_at_least(tall, 4), np.pad(tall, ((0, 0), (0, 0), (0, 2)),
                                                                 mode="edge"))
    # the validation target is padded to the network's multiple with NaN: not scored
    target = np.ones((1, 2, 5, 6), np.float32)
    padded = _pad_target(target, 4)
    assert padded.shape == (1, 2, 8, 8) and np.array_equal(padded[:, :, :5, :6], target)
    assert np.isnan(padded[:, :, 5:]).all() and np.isnan(padded[:, :, :, 6:]).all()


def test_a_loaded_model_is_written_again_with_save_model(saved_models, tiny_photo, tmp_path):
    copy = tmp_path / "copy.npz"
    args = build_improved_parser().parse_args(
        [str(tiny_photo), "--load-model", str(saved_models["cls"]), "--save-model", str(copy),
         "--out", str(tmp_path / "out")])
    agent = make_agent(args, "cpu")
    agent.fit(textured_scene(16, 32))  # what the CLI does; a loaded model is kept as it is
    again = ImprovedAgent.load(copy, device="cpu")
    gray = rgb_to_gray(textured_scene(16, 20, seed=2))
    assert again.config == agent.config and np.array_equal(again.colorize(gray), agent.colorize(gray))


def test_refine_smooths_the_network_chroma_when_no_colours_are_known(saved_models):
    gray = rgb_to_gray(split_halves(textured_scene(24, 48))[1]).astype(np.float32)
    refined = ImprovedAgent.load(saved_models["cls"], device="cpu", refine=3.0, propagate=0.0)
    guess = refined._network_chroma(gray)
    np.testing.assert_allclose(refined.predict_chroma(gray), smooth_chroma(gray, guess, 3.0),
                               atol=1e-5)
    assert not np.allclose(refined.predict_chroma(gray), guess, atol=1e-2)
    plain = ImprovedAgent.load(saved_models["cls"], device="cpu", refine=0.0, propagate=0.0)
    np.testing.assert_array_equal(plain.predict_chroma(gray), guess)


def test_temperature_and_saturation_change_the_decoded_chroma(saved_models):
    gray = rgb_to_gray(split_halves(textured_scene(24, 48))[1]).astype(np.float32)

    def chroma(**decoding):
        return ImprovedAgent.load(saved_models["cls"], device="cpu", refine=0.0, propagate=0.0,
                                  **decoding).predict_chroma(gray)

    plain = chroma()
    np.testing.assert_allclose(chroma(saturation=2.5), 2.5 * plain, rtol=1e-5, atol=1e-4)
    # lower is more vivid: towards the mode; far higher is towards the mean of the bins
    assert np.abs(chroma(temperature=0.05)).mean() > 1.5 * np.abs(chroma(temperature=50.0)).mean()


def test_regression_chroma_is_scaled_back_and_flip_averaged_in_chroma_units(saved_models):
    gray = rgb_to_gray(split_halves(textured_scene(24, 48))[1]).astype(np.float32)
    single, both = (ImprovedAgent.load(saved_models["l2"], device="cpu", flip_average=f,
                                       refine=0.0, propagate=0.0) for f in (False, True))
    # the loss trains the network on chroma / REGRESSION_SCALE
    x = input_planes(gray, prior_table=single.prior_table)[None]
    raw = predict_tiled(single.model, x, 4)[0].transpose(1, 2, 0)
    np.testing.assert_allclose(single.predict_chroma(gray), raw * REGRESSION_SCALE, rtol=1e-5,
                               atol=1e-4)
    # regression decodes linearly, so the averaged outputs are the mean of the two views
    mirrored = single.predict_chroma(np.ascontiguousarray(gray[:, ::-1]))[:, ::-1]
    np.testing.assert_allclose(both.predict_chroma(gray),
                               (single.predict_chroma(gray) + mirrored) / 2, atol=1e-4)


def test_a_tall_photo_is_the_working_size_prediction_upsampled_in_every_row_band(saved_models):
    from agents.improved import ROW_BAND
    from agents.improved_data import resize_planes

    agent = ImprovedAgent.load(saved_models["cls"], device="cpu", propagate=1e3)
    h, w = ROW_BAND + 44, 8  # more rows than one band
    rng = np.random.default_rng(0)
    gray = rng.uniform(20, 230, (h, w)).astype(np.float32)
    left = rng.uniform(0, 255, (h, 6, 3)).astype(np.float32)
    small_h, small_w = working_shape((h, w), agent.train_pixels)
    assert (small_h, small_w) == (147, 4)
    small = resize_planes(gray, small_h, small_w)
    # the known colours are resized with the gray: 6 columns at 147 / 300 of the height are 3
    for known, known_small in ((None, None), (left, resize_planes(left, small_h, 3))):
        chroma = resize_planes(agent.predict_chroma(small, known_small), h, w)
        np.testing.assert_allclose(agent.colorize(gray, left=known), chroma_to_rgb(gray, chroma),
                                   atol=1e-3)


def test_the_summary_records_a_loaded_model_and_early_stopping(saved_models):
    loaded = ImprovedAgent.load(saved_models["cls"], device="cpu").summary()
    assert loaded["pretrained"] is True and loaded["train_pixels"] == 24 * 24
    assert "training" not in loaded
    left = split_halves(textured_scene(24, 48))[0]
    agent = ImprovedAgent(seed=0, device="cpu", **{**TINY, "epochs": 10, "patience": 1}).fit(left)
    info = agent.summary()
    assert info["pretrained"] is False and info["train_pixels"] == 24 * 24
    assert info["training"]["stopped_early"] is True and info["training"]["epochs_run"] < 10


def test_load_takes_architecture_settings_equal_to_the_files_not_the_defaults(saved_models):
    path = saved_models["cls"]
    agent = ImprovedAgent.load(path, device="cpu", width=8, arch="unet", prior=True)
    assert agent.config["width"] == 8 != DEFAULTS["width"]
    with pytest.raises(UsageError, match="trained with width 8, not 16"):
        ImprovedAgent.load(path, width=16)


def test_a_model_file_with_a_prior_table_of_another_shape_is_refused(saved_models, tmp_path):
    with np.load(saved_models["cls"]) as data:
        arrays = dict(data)
    arrays["prior/table"] = arrays["prior/table"][:128]  # levels above 127 would index past it
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UsageError, match="does not fit the architecture.*prior table has shape"):
        ImprovedAgent.load(tmp_path / "bad.npz")


def test_whole_with_a_reference_is_noted_not_refused(tiny_photo, capsys):
    parser = build_improved_parser()
    agent = make_agent(parser.parse_args([str(tiny_photo), "--reference", str(tiny_photo),
                                          "--whole"]), "cpu")
    assert isinstance(agent, ImprovedAgent) and not agent.pretrained
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--whole changes nothing" in err[0]
    with pytest.raises(UsageError, match="give --reference"):
        make_agent(parser.parse_args([str(tiny_photo), "--whole"]), "cpu")


def test_temperature_with_a_loaded_regression_model_is_noted(saved_models, tiny_photo, capsys):
    args = build_improved_parser().parse_args(
        [str(tiny_photo), "--load-model", str(saved_models["l2"]), "--temperature", "0.3"])
    assert make_agent(args, "cpu").config["loss"] == "l2"
    assert "(--loss l2), so it is ignored" in capsys.readouterr().err
    args = build_improved_parser().parse_args(
        [str(tiny_photo), "--load-model", str(saved_models["cls"]), "--temperature", "0.3"])
    assert make_agent(args, "cpu").config["temperature"] == 0.3
    assert capsys.readouterr().err == ""


def test_decoding_flags_take_both_ends_of_their_ranges():
    parser = build_improved_parser()
    low = parser.parse_args(["--saturation", "0", "--refine", "0", "--propagate", "0",
                             "--temperature", "0.001"])
    assert (low.saturation, low.refine, low.propagate, low.temperature) == (0.0, 0.0, 0.0, 1e-3)
    high = parser.parse_args(["--saturation", "100", "--refine", "1e7", "--propagate", "1e7",
                              "--temperature", "1000"])
    assert (high.saturation, high.refine, high.propagate, high.temperature) == (100, 1e7, 1e7, 1e3)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_failed_refit_forgets_the_strength_chosen_for_the_earlier_network():
    left = split_halves(textured_scene(24, 50))[0]
    agent = ImprovedAgent(seed=0, device="cpu", loss="l2", **{**TINY, "epochs": 6}).fit(left)
    assert agent.propagate_strength in PROPAGATE_GRID
    agent.config["lr"] = 1e6
    with pytest.raises(UsageError, match="diverged"):
        agent.fit(left)
    assert agent.propagate_strength is None and "propagate_strip_mse" not in agent.summary()


def test_context_planes_are_box_means_of_the_normalised_gray():
    gray = np.random.default_rng(0).uniform(0, 255, (40, 30)).astype(np.float32)
    planes = input_planes(gray, context=True)
    assert planes.shape == (3, 40, 30)
    normalised = (gray - 127.5) / 64
    for plane, size in zip(planes[1:], (31, 95)):
        np.testing.assert_allclose(plane, box_mean(normalised, size), atol=1e-5)


def test_resize_planes_is_bilinear_per_channel_and_working_shape_keeps_the_pixel_count():
    from agents.improved_data import resize_planes

    ramp = np.array([[0.0, 10.0]], np.float32)
    np.testing.assert_allclose(resize_planes(ramp, 1, 4), [[0.0, 2.5, 7.5, 10.0]])
    both = resize_planes(np.stack([ramp, -ramp], axis=-1), 3, 4)
    assert both.shape == (3, 4, 2)
    np.testing.assert_allclose(both[..., 1], -both[..., 0])
    np.testing.assert_allclose(both[1, :, 0], [0.0, 2.5, 7.5, 10.0])
    # a photo with four times the training pixels is halved on each side
    assert working_shape((48, 48), 24 * 24) == (24, 24)
    assert working_shape((24, 25), 600) == (24, 25)


def test_bad_images_leave_a_trained_agent_as_it_was(trained):
    agent, rgb, _, _ = trained
    left, right = split_halves(rgb)
    before = agent.colorize(rgb_to_gray(right), left=left)
    with pytest.raises(ValueError, match="and 1 row tall"):
        agent.fit(np.zeros((0, 16, 3), np.uint8))  # refused before the model is let go
    gray = rgb_to_gray(right)
    with pytest.raises(ValueError, match="divide a 16-bit image by 257"):
        agent.colorize(gray * 257)
    with pytest.raises(ValueError, match="NaN"):
        agent.colorize(np.where(gray > 100, np.nan, gray))
    with pytest.raises(ValueError, match="non-empty"):
        agent.colorize(np.zeros((0, 16)))
    np.testing.assert_array_equal(agent.colorize(gray, left=left), before)
    # a very dark gray (all under 1) is a photo, not a 0..1 image: coloured as it is
    assert agent.colorize(gray / 512).shape == right.shape


def test_training_output_is_a_copy_of_the_left_half(trained):
    agent, rgb, _, _ = trained
    left = split_halves(rgb)[0].astype(np.float32)
    shown = agent.training_output(left)
    shown[...] = 0
    assert left.any()
