"""Every bad input ends in one line ``error: ...`` and exit status 2, with nothing written.

These run the real command lines in subprocesses (``python -m agents.<name>``), as a user would.
"""

import io
import json
import os
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nn.backend import gpu_available
from nn.cli import UsageError

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ["basic", "improved"]


def run_cli(agent, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", f"agents.{agent}", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def colour_photo(width=24, height=16, seed=0):
    rng = np.random.default_rng(seed)
    base = np.stack(np.meshgrid(np.linspace(0, 255, width), np.linspace(0, 255, height)), -1)
    rgb = np.concatenate([base, 128 + 0 * base[..., :1]], axis=-1) + rng.normal(0, 8, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(colour_photo()).save(path)
    return path


def assert_refused(result, out_dir, *fragments, existing=()):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    # a refused run leaves no trace: no new output folder, nothing new in an existing one
    assert not out_dir.exists() or sorted(out_dir.iterdir()) == sorted(existing)


def bomb_png(path, side=20000):
    """A valid tiny PNG whose header claims side x side pixels (400 megapixels)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", side, side)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def bad_file(kind, tmp_path):
    if kind == "missing":
        return tmp_path / "nope.png"
    if kind == "directory":
        d = tmp_path / "folder.png"
        d.mkdir()
        return d
    if kind == "empty":
        p = tmp_path / "empty.png"
        p.write_bytes(b"")
        return p
    if kind == "text":
        p = tmp_path / "notes.jpg"
        p.write_text("this is not a photo\n")
        return p
    if kind == "truncated":
        p = tmp_path / "cut.jpg"
        buf = io.BytesIO()
        Image.fromarray(colour_photo(64, 48)).save(buf, "JPEG")
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        return p
    if kind == "bomb":
        p = tmp_path / "bomb.png"
        bomb_png(p)
        return p
    raise AssertionError(kind)


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("kind, fragment", [
    ("missing", "does not exist"), ("directory", "folder"), ("empty", "empty"),
    ("text", "not an image file"), ("truncated", "truncated or corrupt"),
    ("bomb", "decompression bomb"),
])
def test_bad_files_are_refused(agent, kind, fragment, tmp_path):
    out = tmp_path / "out"
    result = run_cli(agent, bad_file(kind, tmp_path), "--out", out)
    assert_refused(result, out, fragment)


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("width, height", [(6, 6), (1, 20)])
def test_too_small_photo_names_the_minimum(agent, width, height, tmp_path):
    # 1 wide: the left half is empty, which is the size error, not a gray left half
    small = tmp_path / "small.png"
    Image.fromarray(colour_photo(width, height)).save(small)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, small, "--out", out), out, "at least 8 x 8")


@pytest.mark.parametrize("agent", AGENTS)
def test_gray_photo_in_protocol_mode_suggests_reference(agent, tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(colour_photo()[..., 0]).save(gray)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, gray, "--out", out), out, "--reference")


@pytest.mark.parametrize("agent", AGENTS)
def test_photo_with_a_gray_left_half_is_refused_like_a_gray_photo(agent, tmp_path):
    # the right half's colours are test data: nothing to learn from (it used to give a
    # black or gray output with exit 0)
    rgb = colour_photo()
    half = rgb.shape[1] // 2
    rgb[:, :half] = rgb[:, :half, :1]
    path = tmp_path / "leftgray.png"
    Image.fromarray(rgb).save(path)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, path, "--out", out), out, "left half is gray", "--reference")


@pytest.mark.parametrize("agent", AGENTS)
def test_a_reference_below_8x8_is_named_as_the_reference(agent, photo, tmp_path):
    ref = tmp_path / "thin.png"
    Image.fromarray(colour_photo(40, 1)).save(ref)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, photo, "--reference", ref, "--out", out), out,
                   "reference", "40x1", "at least 8x8")


@pytest.mark.parametrize("agent, flag, value", [
    ("basic", "--colors", "0"), ("basic", "--colors", "abc"), ("basic", "--neighbors", "0"),
    ("basic", "--max-side", "-1"), ("basic", "--seed", "x"), ("basic", "--device", "tpu"),
    ("improved", "--epochs", "0"), ("improved", "--epochs", "many"), ("improved", "--max-side", "-1"),
])
def test_bad_flag_values_are_refused(agent, flag, value, photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli(agent, photo, "--out", out, flag, value), out, flag)


def test_more_colours_than_training_pixels_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    # the 24x16 photo's left half has 192 pixels
    assert_refused(run_cli("basic", photo, "--out", out, "--colors", "1000"), out, "192")


def test_more_neighbours_than_training_patches_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli("basic", photo, "--out", out, "--neighbors", "1000"), out, "192")


@pytest.mark.parametrize("agent", AGENTS)
def test_photo_that_max_side_shrinks_below_the_minimum_names_its_size_and_the_flag(agent, tmp_path):
    # assert_refused also checks that the resize note, printed for accepted runs, is not
    # printed before the error
    wide = tmp_path / "wide.png"
    Image.fromarray(colour_photo(2000, 16)).save(wide)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, wide, "--out", out), out, "2000x16", "--max-side")


def test_agent_setting_refused_for_a_resized_photo_prints_no_note_first(tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(colour_photo(480, 320)).save(big)
    out = tmp_path / "out"
    result = run_cli("basic", big, "--out", out, "--max-side", "16", "--neighbors", "1000")
    assert_refused(result, out, "--neighbors 1000", "88")  # a 16x11 photo's left half: 8x11


def test_reference_mode_accepts_a_target_that_max_side_shrinks_below_8_pixels(tmp_path):
    # only the protocol splits a photo in two halves; a reference-mode target may be thin
    wide, reference = tmp_path / "wide.png", tmp_path / "reference.png"
    Image.fromarray(colour_photo(1000, 20)).save(wide)
    Image.fromarray(colour_photo(48, 32)).save(reference)
    result = run_cli("basic", wide, "--reference", reference, "--max-side", "64",
                     "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr


def test_note_about_propagate_is_not_printed_before_an_error(photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--reference", tmp_path / "nope.png",
                     "--propagate", "100")
    assert_refused(result, out, "--reference", "does not exist")


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("which, fragment", [("image", "IMAGE is an empty path"),
                                             ("out", "--out is empty")])
def test_empty_paths_are_refused(agent, which, fragment, photo, tmp_path):
    before = sorted(ROOT.iterdir())
    args = ["", "--out", tmp_path / "out"] if which == "image" else [photo, "--out", ""]
    assert_refused(run_cli(agent, *args), tmp_path / "out", fragment)
    assert sorted(ROOT.iterdir()) == before


def test_save_model_named_like_a_result_file_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    for name in ("photo_improved.json", "photo_improved.png"):
        result = run_cli("improved", photo, "--out", out, "--save-model", out / name)
        assert_refused(result, out, "--save-model", "result files")


def test_load_model_that_is_an_image_gets_no_pickle_advice(photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--load-model", photo)
    assert_refused(result, out, "not an .npz archive")
    assert "pickle" not in result.stderr


@pytest.mark.parametrize("flag, value, fragment", [
    ("--temperature", "inf", "a number from 0.001 to 1000"), ("--temperature", "0", "from 0.001"),
    ("--temperature", "1e-300", "from 0.001"), ("--temperature", "1e300", "to 1000"),
    ("--saturation", "nan", "a number from 0 to 100"),
    ("--saturation", "1e39", "from 0 to 100"), ("--propagate", "1e12", "from 0 to 1e+07"),
    ("--refine", "1e39", "from 0 to 1e+07")])
def test_decoding_flags_name_the_range_they_need(flag, value, fragment, photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli("improved", photo, "--out", out, flag, value), out, flag, fragment)


def test_epochs_with_load_model_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--epochs", "3", "--load-model", "m.npz")
    assert_refused(result, out, "--epochs", "--load-model")


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.skipif(gpu_available(), reason="a GPU is present")
def test_gpu_without_gpu_is_a_clear_error(agent, photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli(agent, photo, "--out", out, "--device", "gpu"), out, "--device cpu")


@pytest.mark.parametrize("agent", AGENTS)
def test_out_that_cannot_be_created(agent, photo, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = run_cli(agent, photo, "--out", blocker / "sub")
    assert_refused(result, tmp_path, str(blocker / "sub"), "cannot be created",
                   existing=[blocker, photo])


@pytest.mark.parametrize("agent", AGENTS)
def test_refused_run_removes_the_output_folder_it_created(agent, tmp_path):
    # refused only after the folder was made (the gray check needs the decoded photo)
    gray = tmp_path / "gray.png"
    Image.fromarray(colour_photo()[..., 0]).save(gray)
    out = tmp_path / "new" / "out"
    assert_refused(run_cli(agent, gray, "--out", out), out, "--reference")
    assert not (tmp_path / "new").exists()  # the parent it made as well


def test_output_blocked_by_a_folder_writes_nothing(photo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    blocker = out / "photo_basic_compare.png"
    blocker.mkdir()
    result = run_cli("basic", photo, "--out", out)
    assert_refused(result, out, str(blocker), existing=[blocker])


def test_unwritable_existing_out_is_refused(photo):
    # a permission test cannot run as root (root writes anywhere); sysfs refuses everybody
    target = Path("/sys/kernel")
    if not target.is_dir():
        pytest.skip("no /sys/kernel on this system")
    result = run_cli("basic", photo, "--out", target)
    # "not writable" is the check made before any work, not the late failure of the write
    assert_refused(result, target, str(target), "is not writable",
                   existing=list(target.iterdir()))


def test_load_model_of_another_architecture_names_it(photo, tmp_path):
    model = tmp_path / "dilated.npz"
    trained = run_cli("improved", photo, "--out", tmp_path / "train", "--epochs", "1",
                      "--arch", "dilated", "--save-model", model, "--quiet")
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--load-model", model, "--arch", "unet")
    assert_refused(result, out, "dilated")


def test_reference_that_would_be_overwritten_is_protected(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    reference = out / "photo_basic.png"
    Image.fromarray(colour_photo(seed=1)).save(reference)
    before = reference.read_bytes()
    gray = tmp_path / "photo.png"
    Image.fromarray(colour_photo()[..., 1]).save(gray)
    result = run_cli("basic", gray, "--reference", reference, "--out", out)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "overwrite" in result.stderr
    assert reference.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["photo_basic.png"]


@pytest.mark.parametrize("kind", ["missing", "corrupt", "other", "pipe"])
def test_bad_load_model_is_refused(kind, photo, tmp_path):
    out = tmp_path / "out"
    model = tmp_path / "model.npz"
    if kind == "corrupt":
        model.write_bytes(b"PK\x03\x04 this is not a model")
    elif kind == "other":
        np.savez(model, **{"0.W": np.zeros((3, 3), np.float32)})
    elif kind == "pipe":
        os.mkfifo(model)  # with no writer: reading it would wait forever
    result = run_cli("improved", photo, "--out", out, "--load-model", model, timeout=60)
    assert_refused(result, out, str(model))


@pytest.mark.parametrize("where, fragment", [
    ("missing-folder", "does not exist"), ("directory", "is a directory"),
    ("long-name", "longer than 255 bytes"), ("folder-is-a-file", "is a file, not a folder")])
def test_unwritable_save_model_is_refused_before_training(where, fragment, photo, tmp_path):
    out = tmp_path / "out"
    (tmp_path / "a-file").write_text("")
    target = {"missing-folder": tmp_path / "no-such-folder" / "model.npz",
              "directory": tmp_path, "long-name": tmp_path / ("m" * 252 + ".npz"),
              "folder-is-a-file": tmp_path / "a-file" / "model.npz"}[where]
    result = run_cli("improved", photo, "--out", out, "--save-model", target)
    assert_refused(result, out, "--save-model", fragment)


def accepted_files(tmp_path):
    rgb = colour_photo(33, 20)
    files = {}
    files["rgba.png"] = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)]), "RGBA")
    la = np.dstack([rgb[..., 0], rgb[..., 1]])
    files["la.png"] = Image.fromarray(la, "LA")
    files["palette.png"] = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    files["cmyk.jpg"] = Image.fromarray(rgb).convert("CMYK")
    files["deep.png"] = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
    paths = []
    for name, im in files.items():
        p = tmp_path / name
        im.save(p)
        paths.append(p)
    return paths


QUICK = {"basic": [], "improved": ["--epochs", "1"]}
"""Flags that keep a run short; the cases below test input handling, not quality."""


@pytest.mark.parametrize("agent", AGENTS)
def test_real_world_modes_are_accepted(agent, tmp_path):
    out = tmp_path / "out"
    ref = tmp_path / "ref.png"
    Image.fromarray(colour_photo(30, 20, seed=2)).save(ref)
    for path in accepted_files(tmp_path):
        gray_only = path.name in {"la.png", "deep.png"}
        extra = ["--reference", ref] if gray_only else []
        result = run_cli(agent, path, "--out", out, "--quiet", *QUICK[agent], *extra)
        assert result.returncode == 0, (path.name, result.stderr)
        out_image = out / f"{path.stem}_{agent}.png"
        assert Image.open(out_image).size == (33, 20)


@pytest.mark.parametrize("agent", AGENTS)
def test_exif_rotated_photo_comes_out_upright(agent, tmp_path):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(colour_photo(40, 24)).save(path, exif=exif)
    out = tmp_path / "out"
    result = run_cli(agent, path, "--out", out, "--quiet", *QUICK[agent])
    assert result.returncode == 0, result.stderr
    assert Image.open(out / f"phone_{agent}.png").size == (24, 40)


@pytest.mark.parametrize("agent, output_size", [("basic", (64, 26)), ("improved", (301, 120))])
def test_large_photo_is_resized_with_a_notice(agent, output_size, tmp_path):
    # the basic agent outputs the working size; the improved agent the photo's full size
    path = tmp_path / "big.png"
    Image.fromarray(colour_photo(301, 120)).save(path)
    out = tmp_path / "out"
    result = run_cli(agent, path, "--out", out, "--max-side", "64", *QUICK[agent])
    assert result.returncode == 0, result.stderr
    assert "64x26" in result.stderr
    assert Image.open(out / f"big_{agent}.png").size == output_size


def test_an_interrupt_while_writing_leaves_no_file_and_no_folder(photo, tmp_path, monkeypatch, capsys):
    # Ctrl-C after the image is written but before the figure: none of the three files may
    # appear (not even the finished image, nor a hidden temporary), and the --out folder the
    # run created goes too.
    from agents import basic, cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "comparison_figure", interrupted)
    out = tmp_path / "out"
    status = cli.main(basic.build_basic_parser(), "basic", basic.make_agent,
                      [str(photo), "--out", str(out), "--colors", "3", "--quiet"])
    assert status == 130
    assert capsys.readouterr().err.strip() == "error: interrupted"
    assert not out.exists()


@pytest.mark.parametrize("agent, trials", [("basic", 24), ("improved", 8)])
def test_random_images_never_give_a_traceback(agent, trials, tmp_path, capsys):
    """Random modes and sizes: each run either succeeds or refuses with one error line
    (in-process, so that a traceback fails the test instead of hiding in a subprocess)."""
    import importlib

    from agents.cli import main

    module = importlib.import_module(f"agents.{agent}")
    parser = getattr(module, f"build_{agent}_parser")()
    rng = np.random.default_rng(7)
    modes = ["L", "LA", "RGB", "RGBA", "P", "I;16", "1", "CMYK"]
    for trial in range(trials):
        mode = modes[trial % len(modes)]
        w, h = (int(v) for v in rng.integers(1, 40, size=2))
        rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        im = Image.fromarray(rgb)
        if mode == "I;16":
            im = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        elif mode != "RGB":
            im = im.convert(mode)
        path = tmp_path / f"r{trial}.{'jpg' if mode == 'CMYK' else 'png'}"
        im.save(path)
        flags = {"basic": ["--colors", "3"], "improved": ["--epochs", "1"]}[agent]
        status = main(parser, agent, module.make_agent,
                      [str(path), "--out", str(tmp_path / "out"), "--quiet", *flags])
        err = capsys.readouterr().err.strip().splitlines()
        # random colours: a photo of a colour mode and the protocol's size must be coloured;
        # the others are refused for their own reason, in one line
        if mode in ("L", "LA", "I;16", "1"):
            reason = "gray"
        elif min(w, h) < 8:
            reason = "at least 8 x 8"
        else:
            assert status == 0, (mode, w, h, err)
            continue
        assert status == 2, (mode, w, h, status)
        assert len(err) == 1 and err[0].startswith("error: ") and reason in err[0], err


def test_a_failing_write_leaves_none_of_the_three_files(tmp_path, monkeypatch):
    # a full disk while the JSON (the last file) is written: the image and the figure, already
    # complete, must not appear either
    import errno

    from agents import cli
    from colorize.io import OutputError

    def full_disk(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "write_json", full_disk)
    paths = {k: tmp_path / f"p_basic{s}" for k, s in
             [("image", ".png"), ("compare", "_compare.png"), ("json", ".json")]}
    rgb = colour_photo()
    with pytest.raises(OutputError, match="No space left"):
        cli.write_outputs(paths, rgb, [("original", rgb)], "t", {})
    assert list(tmp_path.iterdir()) == []


def test_a_result_that_cannot_be_replaced_is_named(tmp_path, monkeypatch):
    import errno
    import os

    from agents import cli
    from colorize.io import OutputError

    paths = {k: tmp_path / f"p_basic{s}" for k, s in
             [("image", ".png"), ("compare", "_compare.png"), ("json", ".json")]}
    real_replace = os.replace

    def immutable_image(src, dst):
        if str(dst) == str(paths["image"]):
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src), None, str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", immutable_image)
    rgb = colour_photo()
    with pytest.raises(OutputError, match=f"cannot replace {paths['image']} .Operation not permitted"):
        cli.write_outputs(paths, rgb, [("original", rgb)], "t", {})
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left


def test_a_loaded_model_colours_a_gray_photo_whole_without_a_reference(photo, tmp_path):
    model, out = tmp_path / "m.npz", tmp_path / "out"
    trained = run_cli("improved", photo, "--out", tmp_path / "train", "--epochs", "1",
                      "--save-model", model, "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert json.loads((tmp_path / "train" / "photo_improved.json").read_text())["files"]["model"] == str(model)
    gray_path = tmp_path / "old.png"
    gray = colour_photo(30, 20, seed=1)[..., 1]
    Image.fromarray(gray).save(gray_path)
    result = run_cli("improved", gray_path, "--out", out, "--load-model", model, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("no scores: the image is gray, so there are no true colours "
                                     "to compare with")
    record = json.loads((out / "old_improved.json").read_text())
    assert record["mode"] == "model" and record["metrics"]["image"] is None
    coloured = np.asarray(Image.open(out / "old_improved.png")).astype(float)
    assert coloured.shape == (20, 30, 3)
    assert np.abs(coloured @ [0.21, 0.72, 0.07] - gray).max() <= 2.0  # the gray is kept
    assert np.ptp(coloured, axis=2).max() > 0  # and it is coloured, not copied
    # without a model the same photo is still refused, with the advice to give a reference
    assert_refused(run_cli("improved", gray_path, "--out", tmp_path / "o2"), tmp_path / "o2", "--reference")


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A model file trained for one epoch on a small colour photo."""
    folder = tmp_path_factory.mktemp("model")
    photo = folder / "photo.png"
    Image.fromarray(colour_photo()).save(photo)
    model = folder / "model.npz"
    trained = run_cli("improved", photo, "--out", folder / "out", "--epochs", "1",
                      "--save-model", model, "--quiet")
    assert trained.returncode == 0, trained.stderr
    return model


@pytest.mark.parametrize("kind, fragment", [
    ("npy", "a single .npy array"), ("objects", "holds Python objects"), ("nan", "not finite"),
    ("bins_nan", "not finite numbers (NaN or infinity) in bins/centers"),
    ("prior_nan", "not finite numbers (NaN or infinity) in prior/table"),
    ("step_inf", "not finite numbers (NaN or infinity) in bins/step"),
    ("step_array", "step must be one number"), ("step_complex", "does not fit the architecture"),
    ("train_pixels", "not an improved-agent model"),
    ("width", "holds settings that cannot work (width must be at most 512")])
def test_model_files_that_are_not_usable_models(kind, fragment, photo, tmp_path, trained_model):
    model = tmp_path / "model.npz"
    if kind == "npy":
        np.save(tmp_path / "plain.npy", np.zeros(3))
        (tmp_path / "plain.npy").rename(model)  # np.load reads it as one array, whatever its name
    elif kind == "objects":
        np.savez(model, meta=np.array([{"a": 1}], dtype=object))
    else:  # a real model file, edited
        arrays = dict(np.load(trained_model))
        meta = json.loads(str(arrays["meta"]))
        if kind == "nan":
            first = next(k for k in arrays if k.startswith("model/"))
            arrays[first] = arrays[first] * np.nan
        elif kind == "bins_nan":
            arrays["bins/centers"] = arrays["bins/centers"] * np.nan
        elif kind == "prior_nan":
            arrays["prior/table"] = arrays["prior/table"] * np.nan
        elif kind == "step_inf":
            arrays["bins/step"] = np.array(np.inf)
        elif kind == "step_array":
            arrays["bins/step"] = np.array([1.0, 2.0])
        elif kind == "step_complex":
            arrays["bins/step"] = np.array(10 + 1j)
        elif kind == "train_pixels":
            meta["train_pixels"] = -100
        else:
            meta["config"]["width"] = 100000  # terabytes of weights
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez(model, **arrays)
    out = tmp_path / "out"
    assert_refused(run_cli("improved", photo, "--out", out, "--load-model", model), out,
                   str(model), fragment)


def test_load_model_file_is_never_overwritten_by_a_result(photo, tmp_path, trained_model):
    out = tmp_path / "out"
    out.mkdir()
    model = out / "photo_improved.json"  # named like the run's JSON result
    model.write_bytes(trained_model.read_bytes())
    result = run_cli("improved", photo, "--out", out, "--load-model", model)
    assert_refused(result, out, "overwrite the input model file", existing=[model])
    assert model.read_bytes() == trained_model.read_bytes()


def test_save_model_never_replaces_the_loaded_model_a_result_or_a_device(photo, tmp_path, trained_model):
    model = tmp_path / "model.npz"
    model.write_bytes(trained_model.read_bytes())
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--load-model", model, "--save-model", model)
    assert_refused(result, out, "would overwrite the input model file")
    assert model.read_bytes() == trained_model.read_bytes()
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")  # the same folder under another name
    result = run_cli("improved", photo, "--out", tmp_path / "real", "--epochs", "1",
                     "--save-model", tmp_path / "link" / "photo_improved.json")
    assert_refused(result, tmp_path / "real", "is also one of this run's result files", existing=[])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_cli("improved", photo, "--out", out, "--epochs", "1", "--save-model", fifo)
    assert_refused(result, out, "is not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("agent", AGENTS)
def test_a_result_name_taken_by_a_pipe_is_refused(agent, photo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / f"photo_{agent}.png")
    result = run_cli(agent, photo, "--out", out, *QUICK[agent])
    assert_refused(result, out, "is not a regular file", existing=[out / f"photo_{agent}.png"])
    assert stat.S_ISFIFO(os.stat(out / f"photo_{agent}.png").st_mode)


def test_a_loaded_model_advises_whole_where_the_protocol_cannot_run(tmp_path, trained_model):
    rgb = colour_photo(30, 20, seed=2)
    left_gray = rgb.copy()
    left_gray[:, :15] = (rgb[:, :15] @ [0.21, 0.72, 0.07]).round().astype(np.uint8)[..., None]
    tiny = colour_photo(7, 9, seed=2)
    for name, image in (("leftgray", left_gray), ("tiny", tiny)):
        path = tmp_path / f"{name}.png"
        Image.fromarray(image).save(path)
        out = tmp_path / f"out_{name}"
        assert_refused(run_cli("improved", path, "--out", out, "--load-model", trained_model), out,
                       "add --whole")
        whole = run_cli("improved", path, "--out", out, "--load-model", trained_model, "--whole",
                        "--quiet")
        assert whole.returncode == 0, whole.stderr


def test_reference_with_load_model_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--out", out, "--load-model", "m.npz", "--reference", photo)
    assert_refused(result, out, "--reference does not apply with --load-model")


@pytest.mark.parametrize("agent", AGENTS)
def test_a_photo_whose_right_half_is_nearly_black_is_coloured(agent, tmp_path):
    rgb = colour_photo(32, 16, seed=7)
    rgb[:, 16:] = rgb[:, 16:] // 200  # levels 0 and 1: its gray is all under 1
    photo = tmp_path / "night.png"
    Image.fromarray(rgb).save(photo)
    result = run_cli(agent, photo, "--out", tmp_path / "out", *QUICK[agent])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / f"night_{agent}.json").exists()


def test_a_transparent_photo_gets_a_note(tmp_path):
    rgba = np.concatenate([colour_photo(), np.full((16, 24, 1), 255, np.uint8)], axis=-1)
    rgba[:4, :, 3] = 0
    photo = tmp_path / "logo.png"
    Image.fromarray(rgba).save(photo)
    result = run_cli("basic", photo, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "note: IMAGE logo.png: its transparent parts are shown on white" in result.stderr


@pytest.mark.parametrize("agent, says", [("basic", "which is also the size of the result"),
                                         ("improved", "the result keeps 80x40")])
def test_the_resize_note_says_what_size_the_result_has(agent, says, tmp_path):
    photo = tmp_path / "wide.png"
    Image.fromarray(colour_photo(80, 40, seed=6)).save(photo)
    result = run_cli(agent, photo, "--out", tmp_path / "out", "--max-side", "40", *QUICK[agent])
    assert result.returncode == 0, result.stderr
    assert "working at 40x20 (--max-side 40)" in result.stderr and says in result.stderr
    written = Image.open(tmp_path / "out" / f"wide_{agent}.png").size
    assert written == ((40, 20) if agent == "basic" else (80, 40))


def test_whole_colours_a_sepia_print_whole_with_a_loaded_model(tmp_path, trained_model):
    gray = colour_photo(40, 24, seed=3)[..., 1].astype(float)
    sepia = np.stack([gray, gray * 0.85, gray * 0.6], axis=-1).astype(np.uint8)
    photo = tmp_path / "print.png"
    Image.fromarray(sepia).save(photo)
    split = run_cli("improved", photo, "--out", tmp_path / "a", "--load-model", trained_model)
    whole = run_cli("improved", photo, "--out", tmp_path / "b", "--load-model", trained_model,
                    "--whole")
    assert split.returncode == 0 and whole.returncode == 0, (split.stderr, whole.stderr)
    split_png = np.asarray(Image.open(tmp_path / "a" / "print_improved.png"))
    whole_png = np.asarray(Image.open(tmp_path / "b" / "print_improved.png"))
    # without --whole the protocol keeps the left half; with it the left half is coloured too
    np.testing.assert_array_equal(split_png[:, :20], sepia[:, :20])
    assert np.abs(whole_png[:, :20].astype(int) - sepia[:, :20]).max() > 10
    assert np.abs(whole_png.astype(float) @ [0.21, 0.72, 0.07] - sepia @ [0.21, 0.72, 0.07]).max() <= 2
    record = json.loads((tmp_path / "b" / "print_improved.json").read_text())
    assert record["mode"] == "model" and record["metrics"]["image"] is not None
    assert record["loaded_model"] == str(trained_model) and "model" not in record["files"]
    assert f"wrote {tmp_path / 'b' / 'print_improved.png'}" in whole.stdout
    # without a model to colour with, --whole is refused with the advice to give --reference
    out = tmp_path / "c"
    assert_refused(run_cli("improved", photo, "--out", out, "--whole"), out, "--reference")


def test_a_gray_scan_with_noise_is_coloured_whole_by_a_loaded_model(tmp_path, trained_model):
    rng = np.random.default_rng(4)
    gray = colour_photo(40, 24, seed=5)[..., 1].astype(int)
    scan = np.clip(gray[..., None] + rng.integers(-2, 3, gray.shape + (3,)), 0, 255).astype(np.uint8)
    photo = tmp_path / "scan.png"
    Image.fromarray(scan).save(photo)
    result = run_cli("improved", photo, "--out", tmp_path / "out", "--load-model", trained_model)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "scan_improved.json").read_text())["mode"] == "model"


def test_max_side_with_load_model_is_noted_and_changes_nothing(tmp_path, trained_model):
    photo = tmp_path / "wide.png"
    Image.fromarray(colour_photo(300, 20, seed=2)).save(photo)  # wider than 256
    plain = run_cli("improved", photo, "--out", tmp_path / "a", "--load-model", trained_model)
    given = run_cli("improved", photo, "--out", tmp_path / "b", "--load-model", trained_model,
                    "--max-side", "16")
    assert plain.returncode == 0 and given.returncode == 0, (plain.stderr, given.stderr)
    # the loaded model colours the photo at its own size: no working copy, no resize note
    assert "note:" not in plain.stderr, plain.stderr
    assert "note: --max-side" in given.stderr and "ignored" in given.stderr
    assert ((tmp_path / "a" / "wide_improved.png").read_bytes()
            == (tmp_path / "b" / "wide_improved.png").read_bytes())


@pytest.mark.parametrize("flag", ["--save-model", "--load-model"])
def test_empty_model_paths_are_refused_before_any_work(flag, photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli("improved", photo, "--out", out, flag, " "), out, f"{flag} is an empty path")


def test_a_photo_under_the_minimum_is_not_told_to_raise_max_side(tmp_path):
    row = tmp_path / "row.png"
    Image.fromarray(colour_photo(200, 1)).save(row)
    out = tmp_path / "out"
    result = run_cli("basic", row, "--out", out, "--max-side", "64")
    assert_refused(result, out, "at least 8 x 8", "200 x 1")
    assert "--max-side" not in result.stderr


def test_auto_is_named_and_accepted_in_any_case(photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli("basic", photo, "--out", out, "--colors", "abc"), out, "or 'auto'")
    assert_refused(run_cli("improved", photo, "--out", out, "--propagate", "x"), out, "or 'auto'")
    from agents.basic import build_basic_parser
    from agents.improved import build_improved_parser
    assert build_basic_parser().parse_args(["--colors", "AUTO"]).colors == "auto"
    assert build_improved_parser().parse_args(["--propagate", "Auto"]).propagate == "auto"


@pytest.mark.parametrize("loss", ["l2", "smooth_l1"])
def test_temperature_with_regression_says_it_is_ignored(loss, photo, tmp_path):
    result = run_cli("improved", photo, "--out", tmp_path / "out", "--loss", loss,
                     "--temperature", "0.3", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "--temperature" in result.stderr and f"(--loss {loss}), so it is ignored" in result.stderr


def test_a_reference_under_the_minimum_is_named_as_the_reference(photo, tmp_path):
    row = tmp_path / "row.png"
    Image.fromarray(colour_photo(200, 1)).save(row)
    out = tmp_path / "out"
    result = run_cli("basic", photo, "--reference", row, "--out", out, "--max-side", "64")
    assert_refused(result, out, f"reference {row} is 200x1 pixels", "at least 8x8")


def test_propagate_in_model_mode_says_it_is_ignored(tmp_path, trained_model):
    gray_path = tmp_path / "old.png"
    Image.fromarray(colour_photo(30, 20, seed=1)[..., 1]).save(gray_path)
    result = run_cli("improved", gray_path, "--out", tmp_path / "out", "--load-model",
                     trained_model, "--propagate", "1e3")
    assert result.returncode == 0, result.stderr
    assert "--propagate" in result.stderr and "ignored" in result.stderr


def _result_paths(folder):
    return {k: folder / f"p_basic{s}" for k, s in
            [("image", ".png"), ("compare", "_compare.png"), ("json", ".json")]}


def test_a_failed_rename_puts_back_the_results_already_replaced(tmp_path, monkeypatch):
    # the last of the three renames fails: the two before it are undone, so the folder holds
    # the old results, all of them, and no temporary file or kept old copy
    import errno

    from agents import cli
    from colorize.io import OutputError

    paths = _result_paths(tmp_path)
    for path in paths.values():
        path.write_bytes(b"old " + path.name.encode())
    real_replace = os.replace
    renamed = []

    def last_one_immutable(src, dst):
        if str(dst) in map(str, paths.values()):
            renamed.append(dst)
            if len(renamed) == 3:
                raise PermissionError(errno.EPERM, "Operation not permitted", str(src), None,
                                      str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", last_one_immutable)
    rgb = colour_photo()
    with pytest.raises(OutputError, match="cannot replace"):
        cli.write_outputs(paths, rgb, [("original", rgb)], "t", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    assert all(p.read_bytes() == b"old " + p.name.encode() for p in paths.values())


def test_ctrl_c_during_the_renames_takes_effect_after_the_last_one(tmp_path, monkeypatch):
    import signal

    from agents import cli

    paths = _result_paths(tmp_path)
    for path in paths.values():
        path.write_bytes(b"old")
    real_replace = os.replace
    renamed = []

    def interrupted(src, dst):
        real_replace(src, dst)
        if str(dst) in map(str, paths.values()):
            renamed.append(dst)
            if len(renamed) == 1:
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "replace", interrupted)
    # Python's own Ctrl-C handler, even where the tests run with SIGINT ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    rgb = colour_photo()
    try:
        with pytest.raises(KeyboardInterrupt):
            cli.write_outputs(paths, rgb, [("original", rgb)], "t", {"new": True})
    finally:
        signal.signal(signal.SIGINT, previous)
    assert json.loads(paths["json"].read_text()) == {"new": True}
    assert all(p.read_bytes() != b"old" for p in paths.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    import signal
    import time

    big = tmp_path / "big.png"
    Image.fromarray(colour_photo(256, 192)).save(big)
    out = tmp_path / "new" / "out"
    proc = subprocess.Popen([sys.executable, "-m", "agents.improved", str(big), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the output folder appears once the inputs are accepted, inside the command's handlers
    deadline = time.monotonic() + 60
    while not out.is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the training
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "error: terminated"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]  # new/out removed


def test_a_closed_stdout_ends_quietly_after_the_results_are_written(photo, tmp_path):
    # buffered stdout, as Python has it by default: the broken pipe shows only at the flush
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "agents.basic", str(photo), "--out",
                             str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`: the reader is gone before the summary is printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Broken pipe" not in err
    assert (tmp_path / "photo_basic.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_prints_on_a_strict_stdout(tmp_path):
    name = os.fsdecode(b"bad\xff.png")
    Image.fromarray(colour_photo()).save(tmp_path / name)
    result = subprocess.run([sys.executable, "-m", "agents.basic", name, "--out", "o"],
                            cwd=tmp_path, capture_output=True,
                            env={**os.environ, "PYTHONIOENCODING": "utf-8:strict",
                                 "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"bad\\udcff" in result.stdout  # the odd byte written as an escape


@pytest.mark.parametrize("agent, flag", [(agent, flag) for agent in AGENTS for flag in
                                         ("IMAGE", "--out", "--reference", "--save-model",
                                          "--load-model")
                                         if agent == "improved" or "model" not in flag])
def test_a_folder_name_over_255_bytes_is_one_error_line(agent, flag, photo, tmp_path):
    long = tmp_path / ("a" * 300) / "x.png"
    args = {"IMAGE": [long], "--out": [photo, "--out", long.parent],
            "--reference": [photo, "--reference", long],
            "--save-model": [photo, "--save-model", long.with_suffix(".npz")],
            "--load-model": [photo, "--load-model", long.with_suffix(".npz")]}[flag]
    if flag != "--out":
        args += ["--out", tmp_path / "out"]
    result = run_cli(agent, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_save_model_ending_in_a_separator_is_refused_before_training(photo, tmp_path):
    result = run_cli("improved", photo, "--save-model", f"{tmp_path / 'newdir'}{os.sep}",
                     "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "names a folder" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_figure_title_says_what_was_scored_and_at_which_size():
    from agents.cli import _figure_title

    scores = {"psnr": 25.0, "ssim": 0.9, "delta_e2000": 5.0}
    assert "right half of the 480 x 320 photo: PSNR 25.00 dB" in _figure_title(
        "basic", {"right": scores}, (320, 480, 3))
    assert "the whole 480 x 320 photo" in _figure_title("basic", {"image": scores}, (320, 480))
    assert "no scores" in _figure_title("improved", {"image": None}, (320, 480, 3))


def test_a_closed_stdout_is_no_traceback(photo, tmp_path):
    out = tmp_path / "out"
    command = f'"{sys.executable}" -m agents.basic "{photo}" --out "{out}" >&-'
    result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=False,
                            stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (out / "photo_basic.png").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_stdout_is_one_error_line(photo, tmp_path):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "agents.basic", str(photo), "--out",
                                 str(tmp_path / "out")], cwd=ROOT, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: cannot write the standard output (No space left on device)"


@pytest.mark.parametrize("agent", AGENTS)
def test_a_closed_stderr_changes_nothing_but_what_is_shown(agent, photo, tmp_path):
    # Python sets sys.stderr to None then: the notes and progress checks must cope with it
    out = tmp_path / "out"
    extra = "--epochs 1 " if agent == "improved" else ""
    command = f'"{sys.executable}" -m agents.{agent} "{photo}" --out "{out}" {extra}--max-side 16 2>&-'
    result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout
    assert (out / f"photo_{agent}.png").exists() and "error" not in result.stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_an_unwritable_stderr_keeps_the_exit_status(photo, tmp_path):
    # a refusal stays status 2 although its line cannot be written, and a run whose notes
    # cannot be written (the photo is resized: a note) still succeeds
    with open("/dev/full", "w") as full:
        refused = subprocess.run([sys.executable, "-m", "agents.basic", str(tmp_path / "no.png"),
                                  "--out", str(tmp_path / "a")], cwd=ROOT, stderr=full,
                                 stdout=subprocess.PIPE, timeout=300)
        noted = subprocess.run([sys.executable, "-m", "agents.basic", str(photo), "--out",
                                str(tmp_path / "b"), "--max-side", "16"], cwd=ROOT, stderr=full,
                               stdout=subprocess.PIPE, timeout=300)
    assert refused.returncode == 2 and not (tmp_path / "a").exists()
    assert noted.returncode == 0 and (tmp_path / "b" / "photo_basic.png").exists()


@pytest.mark.parametrize("role", ["photo", "reference"])
def test_a_max_side_that_would_shrink_a_long_strip_under_8_pixels_names_the_strip(
        role, photo, tmp_path):
    strip = tmp_path / "strip.png"
    Image.fromarray(colour_photo(width=400, height=8)).save(strip)
    args = [strip] if role == "photo" else [photo, "--reference", strip]
    result = run_cli("basic", *args, "--max-side", 48, "--out", tmp_path / "out")
    whose = "the protocol's" if role == "photo" else "a reference's"
    named = "strip.png is 400x8" if role == "photo" else "reference strip.png is 400x8"
    assert_refused(result, tmp_path / "out", named, f"below {whose} minimum of 8x8",
                   "give a larger --max-side")


def test_a_broken_symbolic_link_as_output_folder_is_named(photo, tmp_path):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    for out in (link, link / "sub"):
        result = run_cli("basic", photo, "--out", out)
        assert_refused(result, tmp_path / "gone", f"{link} is a symbolic link to ")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_save_model_naming_the_output_folder_is_refused_as_such(photo, tmp_path):
    out = tmp_path / "out"
    result = run_cli("improved", photo, "--epochs", 1, "--out", out, "--save-model", out)
    assert_refused(result, out, "is also the output folder (--out)", str(out / "model.npz"))


def test_a_path_too_long_to_look_up_is_one_error_line(photo, tmp_path):
    # each name is allowed (250 bytes) but the whole path is past the system's PATH_MAX
    out = tmp_path.joinpath(*["y" * 250] * 17)
    result = run_cli("basic", photo, "--out", out)
    assert_refused(result, tmp_path / ("y" * 250), "File name too long", "choose a shorter path")
    assert len(result.stderr) < 200  # the path's middle is cut out of the line


def test_an_output_folder_a_thousand_levels_deep_is_created(photo, tmp_path):
    # mkdir(parents=True) recursed once per level and ran out of stack near 990
    levels = [tmp_path.joinpath(*["d"] * depth) for depth in range(1, 1001)]
    try:
        result = run_cli("basic", photo, "--out", levels[-1])
        assert result.returncode == 0, result.stderr[-300:]
        assert (levels[-1] / "photo_basic.png").exists()
    finally:
        # removed here, innermost first: pytest's own clean-up (shutil.rmtree) recurses too
        for folder in reversed(levels):
            if folder.is_dir():
                for entry in folder.iterdir():
                    entry.unlink()
                folder.rmdir()


def test_the_command_line_answers_without_importing_matplotlib():
    """matplotlib takes seconds to import: --help and refused runs must not wait for it, and
    a Ctrl-C during the imports would end in a traceback."""
    code = ("import sys, agents.basic, agents.improved, report.__main__; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_an_unreadable_model_file_is_named_unreadable(photo, tmp_path, monkeypatch):
    import builtins

    import agents.improved as improved

    model = tmp_path / "model.npz"
    model.write_bytes(b"PK")
    real_open = builtins.open

    def denied(path, *args, **kwargs):
        if Path(path) == model:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(UsageError, match="cannot be read \\(Permission denied\\)"):
        improved.ImprovedAgent.load(model)
