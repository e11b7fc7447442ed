"""Every bad input ends in one line ``error: ...`` and exit status 2, with nothing written.

These run the real command lines in subprocesses (``python -m agents.<name>``), as a user would.
"""

import io
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nn.backend import gpu_available

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


def assert_refused(result, out_dir, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


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
    ("text", ""), ("truncated", ""), ("bomb", ""),
])
def test_bad_files_are_refused(agent, kind, fragment, tmp_path):
    out = tmp_path / "out"
    result = run_cli(agent, bad_file(kind, tmp_path), "--out", out)
    assert_refused(result, out, fragment)


@pytest.mark.parametrize("agent", AGENTS)
def test_too_small_photo_names_the_minimum(agent, tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(colour_photo(6, 6)).save(small)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, small, "--out", out), out, "8")


@pytest.mark.parametrize("agent", AGENTS)
def test_gray_photo_in_protocol_mode_suggests_reference(agent, tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(colour_photo()[..., 0]).save(gray)
    out = tmp_path / "out"
    assert_refused(run_cli(agent, gray, "--out", out), out, "--reference")


@pytest.mark.parametrize("agent, flag, value", [
    ("basic", "--colors", "0"), ("basic", "--colors", "abc"), ("basic", "--neighbors", "0"),
    ("basic", "--max-side", "-1"), ("basic", "--seed", "x"), ("basic", "--device", "tpu"),
    ("improved", "--epochs", "0"), ("improved", "--epochs", "many"), ("improved", "--max-side", "-1"),
])
def test_bad_flag_values_are_refused(agent, flag, value, photo, tmp_path):
    out = tmp_path / "out"
    assert_refused(run_cli(agent, photo, "--out", out, flag, value), out, flag)


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
    assert_refused(result, tmp_path / "never", str(blocker / "sub"))


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


@pytest.mark.parametrize("kind", ["missing", "corrupt", "other"])
def test_bad_load_model_is_refused(kind, photo, tmp_path):
    out = tmp_path / "out"
    model = tmp_path / "model.npz"
    if kind == "corrupt":
        model.write_bytes(b"PK\x03\x04 this is not a model")
    elif kind == "other":
        np.savez(model, **{"0.W": np.zeros((3, 3), np.float32)})
    assert_refused(run_cli("improved", photo, "--out", out, "--load-model", model), out, str(model))


@pytest.mark.parametrize("where, fragment", [
    ("missing-folder", "does not exist"), ("directory", "is a directory")])
def test_unwritable_save_model_is_refused_before_training(where, fragment, photo, tmp_path):
    out = tmp_path / "out"
    target = tmp_path / "no-such-folder" / "model.npz" if where == "missing-folder" else tmp_path
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


def test_real_world_modes_are_accepted(tmp_path):
    out = tmp_path / "out"
    ref = tmp_path / "ref.png"
    Image.fromarray(colour_photo(30, 20, seed=2)).save(ref)
    for path in accepted_files(tmp_path):
        gray_only = path.name in {"la.png", "deep.png"}
        extra = ["--reference", ref] if gray_only else []
        result = run_cli("basic", path, "--out", out, "--quiet", *extra)
        assert result.returncode == 0, (path.name, result.stderr)
        out_image = out / f"{path.stem}_basic.png"
        assert Image.open(out_image).size == (33, 20)


def test_exif_rotated_photo_comes_out_upright(tmp_path):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(colour_photo(40, 24)).save(path, exif=exif)
    out = tmp_path / "out"
    result = run_cli("basic", path, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert Image.open(out / "phone_basic.png").size == (24, 40)


def test_large_photo_is_resized_with_a_notice(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(colour_photo(301, 120)).save(path)
    out = tmp_path / "out"
    result = run_cli("basic", path, "--out", out, "--max-side", "64")
    assert result.returncode == 0, result.stderr
    assert "working at 64x26" in result.stderr
    assert Image.open(out / "big_basic.png").size == (64, 26)


def test_interrupt_leaves_no_partial_file(tmp_path):
    path = tmp_path / "slow.png"
    Image.fromarray(colour_photo(700, 500)).save(path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "agents.basic", str(path), "--out", str(out),
                             "--max-side", "700", "--colors", "auto"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    leftovers = [p.name for p in out.iterdir()] if out.exists() else []
    assert all(not name.startswith(".") for name in leftovers), leftovers
    if proc.returncode != 0:
        assert leftovers == []


def test_random_images_never_give_a_traceback(tmp_path):
    """Random modes and sizes: each run either succeeds or refuses with one error line."""
    from agents.basic import build_basic_parser, make_agent
    from agents.cli import main

    rng = np.random.default_rng(7)
    modes = ["L", "LA", "RGB", "RGBA", "P", "I;16", "1", "CMYK"]
    for trial in range(24):
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
        status = main(build_basic_parser(), "basic", make_agent,
                      [str(path), "--out", str(tmp_path / "out"), "--quiet", "--colors", "3"])
        assert status in (0, 2), (mode, w, h, status)
