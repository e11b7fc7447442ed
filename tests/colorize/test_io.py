"""colorize.io: every image mode read correctly, every bad file refused with ImageError,
writes atomic."""

import json
import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from colorize import io
from colorize.io import ImageError, OutputError

IMAGES = os.path.join(os.path.dirname(__file__), "..", "..", "images")


def _rgb(h=6, w=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_png_round_trip(tmp_path):
    rgb = _rgb()
    p = tmp_path / "a.png"
    io.write_png(p, rgb)
    out = io.read_rgb(p)
    assert out.dtype == np.uint8 and out.shape == (6, 10, 3)
    np.testing.assert_array_equal(out, rgb)


def test_bundled_photos_read():
    for name in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.png"):
        rgb = io.read_rgb(os.path.join(IMAGES, name))
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
        assert not io.is_grayscale(rgb)


def test_notes_say_what_the_array_leaves_out(tmp_path):
    rgba = np.full((4, 5, 4), 200, np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    rgba[1, :, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    frames = [Image.fromarray(np.full((4, 5, 3), v, np.uint8)) for v in (10, 90, 170)]
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    Image.fromarray(rgba[..., :3]).save(tmp_path / "plain.png")
    found = {}
    for name in ("opaque.png", "clear.png", "pages.tif", "plain.png"):
        found[name] = []
        io.read_rgb(tmp_path / name, notes=found[name])
    assert found == {"opaque.png": [], "clear.png": ["its transparent parts are shown on white"],
                     "pages.tif": ["it has 3 frames, and only the first is used"], "plain.png": []}
    np.testing.assert_array_equal(io.read_rgb(tmp_path / "pages.tif"), 10)


def test_a_colour_profile_other_than_srgb_is_named_and_not_applied(tmp_path):
    from PIL import ImageCms

    rgb = np.array([[[40, 180, 60], [200, 50, 40]]], np.uint8)
    profiles = {"srgb.png": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
                "lab.png": ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),
                "broken.png": b"not a profile"}
    found = {}
    for name, icc in profiles.items():
        Image.fromarray(rgb).save(tmp_path / name, icc_profile=icc)
        found[name] = []
        np.testing.assert_array_equal(io.read_rgb(tmp_path / name, notes=found[name]), rgb)
    assert found["srgb.png"] == []
    assert len(found["lab.png"]) == 1 and "is not applied" in found["lab.png"][0]
    assert found["broken.png"] == ["its colour profile (an unreadable one) is not applied: its "
                                   "values are taken as sRGB, so a colour-managed viewer shows "
                                   "it in other colours"]
    rocket = []  # the bundled rocket photo carries the profile of the camera file it came from
    io.read_rgb(os.path.join(IMAGES, "rocket.png"), notes=rocket)
    assert any("Adobe RGB (1998)" in note for note in rocket)


def test_long_names_are_refused_up_front_and_temporary_names_stay_short(tmp_path):
    fits = tmp_path / ("a" * 240 + ".json")  # 245 bytes: the temporary names add nothing
    with io.atomic_path(fits) as outer, io.atomic_path(outer) as inner:
        inner.write_text("{}")
    assert fits.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == [fits.name]
    with pytest.raises(OutputError, match="longer than 255 bytes"):
        io.check_output_files([tmp_path / ("写" * 84 + ".png")])  # 256 bytes in UTF-8


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, :, 3] = 255  # opaque red-ish row
    rgba[1, :, 3] = 0  # fully transparent
    rgba[2, :, 3] = 128  # half
    p = tmp_path / "a.png"
    Image.fromarray(rgba).save(p)
    out = io.read_rgb(p)
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[1, 0], [255, 255, 255])
    half = 128 / 255
    expect = np.array([200 * half + 255 * (1 - half), 255 * (1 - half), 255 * (1 - half)])
    assert np.abs(out[2, 0].astype(float) - expect).max() <= 1.0


def test_la_composited_on_white(tmp_path):
    la = np.zeros((3, 4, 2), np.uint8)
    la[..., 0] = 40
    la[0, :, 1] = 255
    la[1, :, 1] = 0
    p = tmp_path / "la.png"
    Image.merge("LA", [Image.fromarray(la[..., 0]), Image.fromarray(la[..., 1])]).save(p)
    out = io.read_rgb(p)
    np.testing.assert_array_equal(out[0, 0], [40, 40, 40])
    np.testing.assert_array_equal(out[1, 0], [255, 255, 255])


def test_palette_and_palette_transparency(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = [10, 200, 30]
    rgb[2:] = [250, 5, 5]
    im = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    p = tmp_path / "p.png"
    im.save(p)
    assert Image.open(p).mode == "P"
    np.testing.assert_array_equal(io.read_rgb(p), rgb)
    # A palette GIF with a transparent index: transparent pixels become white.
    idx = np.asarray(im)
    gif = tmp_path / "p.gif"
    im.save(gif, transparency=int(idx[0, 0]))
    out = io.read_rgb(gif)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[3, 3], [250, 5, 5])


def test_gray_and_bilevel(tmp_path):
    g = np.arange(20, dtype=np.uint8).reshape(4, 5) * 12
    p = tmp_path / "l.png"
    Image.fromarray(g).save(p)
    out = io.read_rgb(p)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)
    assert io.is_grayscale(out)
    b = tmp_path / "b.png"
    Image.fromarray(g > 100).convert("1").save(b)
    out = io.read_rgb(b)
    np.testing.assert_array_equal(out[..., 0], np.where(g > 100, 255, 0))


def test_cmyk_jpeg(tmp_path):
    im = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # no cyan, full magenta+yellow: red
    p = tmp_path / "c.jpg"
    im.save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    out = io.read_rgb(p)
    assert out.shape == (8, 16, 3)
    assert out[..., 0].min() > 240 and out[..., 1:].max() < 15


def test_dark_sixteen_bit_png_is_still_scaled_from_16_bits(tmp_path):
    # every sample <= 255: still 16-bit data, so 200 is nearly black, not light gray
    v = np.array([[0, 200], [128, 255]], dtype=np.uint16)
    p = tmp_path / "dark16.png"
    Image.fromarray(v).save(p)
    if not Image.open(p).mode.startswith("I;16"):
        pytest.skip("this Pillow decodes 16-bit PNGs as 32-bit I, where the bit depth is lost")
    np.testing.assert_array_equal(io.read_rgb(p)[..., 0], [[0, 1], [0, 1]])


def test_sixteen_bit_png_with_a_transparency_key_keeps_its_gray_levels(tmp_path):
    v = np.array([[0, 30000], [65535, 1000]], dtype=np.uint16)
    p = tmp_path / "key16.png"
    try:
        Image.fromarray(v).save(p, transparency=1000)
    except OSError:
        pytest.skip("this Pillow cannot write a 16-bit PNG with a transparency key")
    assert Image.open(p).info.get("transparency") == 1000
    notes = []
    np.testing.assert_array_equal(io.read_rgb(p, notes=notes)[..., 2], [[0, 117], [255, 255]])
    assert notes == ["its transparent parts are shown on white"]  # the note was missing


@pytest.mark.parametrize("values, expected", [
    ([[np.inf, 0.5], [0.25, -np.inf]], [[255, 128], [64, 0]]),  # fractions despite infinities
    ([[np.inf, 100.0], [0.25, -np.inf]], [[255, 100], [0, 0]]),  # levels: +inf is the top
    ([[np.nan, np.nan], [np.nan, np.nan]], [[0, 0], [0, 0]]),  # nothing finite: black
])
def test_a_float_image_keeps_its_scale_whatever_its_non_finite_samples(tmp_path, values, expected):
    p = tmp_path / "f.tif"
    Image.fromarray(np.array(values, dtype=np.float32)).save(p)
    np.testing.assert_array_equal(io.read_rgb(p)[..., 0], expected)


def test_a_sixteen_bit_transparency_key_that_no_pixel_has_gets_no_note(tmp_path):
    p = tmp_path / "key16.png"
    try:
        Image.fromarray(np.array([[0, 30000]], dtype=np.uint16)).save(p, transparency=1000)
    except OSError:
        pytest.skip("this Pillow cannot write a 16-bit PNG with a transparency key")
    notes = []
    io.read_rgb(p, notes=notes)
    assert notes == []


def test_a_bytes_path_is_read_and_a_bad_pixel_limit_is_refused(tmp_path):
    p = tmp_path / "a.png"
    Image.new("RGB", (4, 3), (10, 20, 30)).save(p)
    assert io.read_rgb(bytes(p)).shape == (3, 4, 3)
    for limit in (-1, 0, 2.5, True, "12"):
        with pytest.raises(ValueError, match="max_pixels"):
            io.read_rgb(p, max_pixels=limit)
    assert io.read_rgb(p, max_pixels=12.0).shape == (3, 4, 3)  # a whole float is a number of pixels


def test_sixteen_bit_png_scaled(tmp_path):
    v = np.array([[0, 257, 32768, 65535], [1000, 2000, 50000, 65280]], dtype=np.uint16)
    p = tmp_path / "16.png"
    Image.fromarray(v).save(p)
    assert Image.open(p).mode.startswith("I")
    out = io.read_rgb(p)
    np.testing.assert_array_equal(out[..., 1], np.rint(v / 257).astype(np.uint8))
    assert out[0, 0, 0] == 0 and out[0, 3, 0] == 255 and out[0, 1, 0] == 1


def test_float_tiff_fractions(tmp_path):
    f = np.array([[0.0, 0.5], [0.25, 1.0]], dtype=np.float32)
    p = tmp_path / "f.tif"
    Image.fromarray(f).save(p)
    out = io.read_rgb(p)
    np.testing.assert_array_equal(out[..., 2], [[0, 128], [64, 255]])


def test_int32_mode(tmp_path):
    a = np.array([[0, 100], [200, 255]], dtype=np.int32)
    p = tmp_path / "i.tif"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode == "I"
    np.testing.assert_array_equal(io.read_rgb(p)[..., 0], a)


def test_exif_orientation_applied(tmp_path):
    rgb = np.zeros((10, 30, 3), np.uint8)
    rgb[:, :5] = [255, 0, 0]  # red band on the left edge
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "rot.jpg"
    im.save(p, exif=exif, quality=95)
    out = io.read_rgb(p)
    assert out.shape == (30, 10, 3)
    # Rotating 90 degrees clockwise moves the left edge to the top.
    assert out[:3, :, 0].mean() > 200 and out[-3:, :, 0].mean() < 50


def _jpeg_bytes(tmp_path):
    p = tmp_path / "full.jpg"
    Image.fromarray(_rgb(64, 64, seed=3)).save(p, quality=90)
    return p.read_bytes()


def test_truncated_jpeg_refused(tmp_path):
    data = _jpeg_bytes(tmp_path)
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        io.read_rgb(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_jpeg_refused_even_if_pillow_global_set(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _jpeg_bytes(tmp_path)
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError):
        io.read_rgb(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_corrupt_png_refused(tmp_path):
    p = tmp_path / "ok.png"
    Image.fromarray(_rgb(32, 32)).save(p)
    data = bytearray(p.read_bytes())
    data[60:200] = bytes(140)  # zero out part of the compressed data
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.png"):
        io.read_rgb(bad)


def _file(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda d: d / "missing.png", "does not exist"),
        (lambda d: d, "is a directory"),
        (lambda d: _file(d, "empty.png", b""), "is empty"),
        (lambda d: _file(d, "text.jpg", b"hello, I am not a photo\n"), "not an image file"),
    ],
    ids=["missing", "directory", "empty", "text"],
)
def test_bad_paths_refused_with_one_sentence(tmp_path, make, pattern):
    path = make(tmp_path)
    with pytest.raises(ImageError, match=pattern) as info:
        io.read_rgb(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg


def test_decompression_bomb_refused_and_pillow_limit_restored(tmp_path):
    p = tmp_path / "big.png"
    Image.fromarray(_rgb(100, 100)).save(p)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="decompression bomb"):
        io.read_rgb(p, max_pixels=1000)  # 10,000 > 2 * 1000: Pillow's error
    with pytest.raises(ImageError, match="decompression bomb"):
        io.read_rgb(p, max_pixels=6000)  # between the limit and twice it: Pillow's warning
    assert Image.MAX_IMAGE_PIXELS == before
    assert io.read_rgb(p, max_pixels=10_000).shape == (100, 100, 3)
    assert io.DEFAULT_MAX_PIXELS == 100_000_000


def test_is_grayscale_tolerance():
    g = np.full((4, 4, 3), 100, np.uint8)
    assert io.is_grayscale(g)
    g[0, 0] = [100, 102, 101]
    assert io.is_grayscale(g) and not io.is_grayscale(g, tol=1)
    g[1, 1] = [0, 255, 0]  # uint8 arithmetic must not wrap
    assert not io.is_grayscale(g)
    assert io.is_grayscale(np.zeros((0, 4, 3), np.uint8))
    assert not io.is_grayscale(np.array([[[-100, 100, 0]]], np.int8))  # nor int8's
    assert not io.is_grayscale(np.array([[[0, 65535, 65535]]], np.uint16))  # int16 would wrap
    assert io.is_grayscale(np.ones((2, 2, 3), bool))


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (4, 4, 1)])
def test_is_grayscale_refuses_arrays_without_three_channels(shape):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        io.is_grayscale(np.zeros(shape, np.uint8))


def test_a_noisy_or_faintly_tinted_gray_scan_is_gray_and_a_muted_photo_is_not():
    rng = np.random.default_rng(0)
    gray = rng.integers(20, 230, (100, 120)).astype(np.int16)
    scan = gray[..., None] + rng.integers(-2, 3, (100, 120, 3))  # scanner noise, +-2 levels
    assert io.is_grayscale(np.clip(scan, 0, 255).astype(np.uint8))
    tint = np.stack([gray + 3, gray, gray - 3], axis=-1)  # a faint warm cast
    assert io.is_grayscale(tint.astype(np.uint8))
    specks = np.repeat(gray[..., None], 3, axis=-1).astype(np.uint8)
    specks[0, :12] = [255, 0, 0]  # 12 of 12,000 pixels: dust of colour on the scan
    assert io.is_grayscale(specks) and not io.is_grayscale(specks, outliers=0)
    specks[1, :12] = [255, 0, 0]  # 24 pixels: more than 0.1 %
    assert not io.is_grayscale(specks)
    sepia = np.stack([gray * 1.0, gray * 0.85, gray * 0.6], axis=-1)
    assert not io.is_grayscale(sepia.astype(np.uint8))
    muted = np.stack([gray + 6, gray, gray - 6], axis=-1)  # a pale but visible colour
    assert not io.is_grayscale(muted.astype(np.uint8))


def test_max_side_size_and_resize_to():
    rgb = _rgb(40, 100)
    assert io.max_side_size(rgb.shape, 50) == (20, 50)
    assert io.max_side_size(rgb.shape, 100) is None
    assert io.max_side_size((3, 1000), 10) == (1, 10)  # at least 1 pixel
    out = io.resize_to(rgb, (20, 50))
    assert out.shape == (20, 50, 3) and out.dtype == np.uint8
    assert io.resize_to(rgb, (40, 100)) is rgb
    g = np.random.default_rng(0).random((40, 100)).astype(np.float32) * 255
    out = io.resize_to(g, io.max_side_size(g.shape, 25))
    assert out.shape == (10, 25) and out.dtype == np.float32
    out = io.resize_to(g.astype(np.uint8), (10, 25))
    assert out.shape == (10, 25) and out.dtype == np.uint8
    # A constant image stays constant (filter weights sum to one).
    assert (io.resize_to(np.full((30, 60, 3), 77, np.uint8), (10, 20)) == 77).all()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            io.max_side_size(rgb.shape, bad)


def test_max_side_size_rounds_each_side_to_the_nearest_pixel():
    # 199 * 256 / 300 = 169.8 rows: 170, not the 169 of truncation
    assert io.max_side_size((199, 300), 256) == (170, 256)
    assert io.max_side_size((300, 199, 3), 256) == (256, 170)


def test_resize_to_float_chroma():
    rng = np.random.default_rng(1)
    chroma = rng.normal(0, 30, (8, 12, 2)).astype(np.float32)
    up = io.resize_to(chroma, (32, 48))
    assert up.shape == (32, 48, 2) and up.dtype == np.float32
    assert up.min() < 0  # sign kept, not clipped to 0..255
    # Upsampling a linear ramp with a smooth filter reproduces the ramp away from borders.
    ramp = np.tile(np.arange(16, dtype=np.float64), (4, 1))
    up = io.resize_to(ramp, (4, 32))
    assert up.dtype == np.float64
    expect = np.broadcast_to((np.arange(32)[4:-4] + 0.5) / 2 - 0.5, (4, 24))
    np.testing.assert_allclose(up[:, 4:-4], expect, atol=1e-3)


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    old = _rgb(5, 5, seed=1)
    io.write_png(target, old)
    before = sorted(os.listdir(tmp_path))

    def failing_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        io.write_png(target, _rgb(5, 5, seed=2))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == before
    np.testing.assert_array_equal(io.read_rgb(target), old)


def test_atomic_path_names_and_cleanup(tmp_path):
    target = tmp_path / "fig.png"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".png"
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with io.atomic_path(target) as tmp:
        tmp.write_bytes(b"done")
    assert os.listdir(tmp_path) == ["fig.png"] and target.read_bytes() == b"done"


def test_write_json_non_finite_and_numpy(tmp_path):
    p = tmp_path / "s.json"
    io.write_json(p, {"psnr": float("inf"), "x": np.float32(1.5), "n": np.int64(3),
                      "nan": float("nan"), "arr": np.arange(3), "t": (1, 2)})
    text = p.read_text()
    assert "Infinity" not in text and "NaN" not in text
    data = json.loads(text)
    assert data == {"psnr": None, "x": 1.5, "n": 3, "nan": None, "arr": [0, 1, 2], "t": [1, 2]}
    assert text.startswith('{\n  "')
    assert os.listdir(tmp_path) == ["s.json"]


def test_ensure_output_dir(tmp_path):
    d = io.ensure_output_dir(tmp_path / "a" / "b")
    assert d.is_dir() and os.listdir(d) == []
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        io.ensure_output_dir(f)
    with pytest.raises(OutputError, match="cannot be created"):
        io.ensure_output_dir(f / "sub")


def test_ensure_output_dir_refuses_a_folder_where_a_file_cannot_be_written(tmp_path, monkeypatch):
    # what a read-only folder does, also when the tests run as root (who writes anywhere)
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io.tempfile, "TemporaryFile", refused)
    with pytest.raises(OutputError, match="is not writable .Permission denied"):
        io.ensure_output_dir(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_ensure_output_dir_not_writable(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            io.ensure_output_dir(d)
    finally:
        d.chmod(0o700)


def test_fuzzed_files_never_escape_image_error(tmp_path):
    """Random small images of random modes and formats, then damaged at random: each read
    either succeeds with an RGB uint8 array or raises ImageError, never anything else, and
    no library warning leaks out."""
    rng = np.random.default_rng(7)
    modes = ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"]
    formats = {"png": ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"), "jpg": ("RGB", "L", "CMYK"),
               "gif": ("P", "L"), "bmp": ("RGB", "L", "P", "1"), "tiff": tuple(modes), "webp": ("RGB", "RGBA")}
    outcomes = {"ok": 0, "refused": 0}
    for trial in range(60):
        ext = list(formats)[trial % len(formats)]
        mode = formats[ext][int(rng.integers(len(formats[ext])))]
        h, w = (int(v) for v in rng.integers(1, 24, 2))
        base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        im = base.convert("I").point(lambda v: v * 200).convert("I;16") if mode == "I;16" else base.convert(mode)
        path = tmp_path / f"f{trial}.{ext}"
        try:
            im.save(path)
        except (OSError, ValueError, KeyError):
            continue  # this Pillow build cannot write that combination
        data = bytearray(path.read_bytes())
        damage = trial % 3
        if damage == 1:
            data = data[: int(rng.integers(1, len(data)))]
        elif damage == 2:
            for _ in range(4):
                data[int(rng.integers(len(data)))] = int(rng.integers(256))
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = io.read_rgb(path)
            assert not caught, [str(w.message) for w in caught]  # nothing printed beside errors
        except ImageError as exc:
            assert damage > 0, f"an undamaged {mode} {ext} was refused: {exc}"
            assert "\n" not in str(exc) and str(path) in str(exc)
            outcomes["refused"] += 1
        else:
            assert out.dtype == np.uint8 and out.shape == (h, w, 3)
            outcomes["ok"] += 1
    assert outcomes["ok"] > 10 and outcomes["refused"] > 10


def test_ensure_output_file_refuses_a_folder_and_creates_the_parent(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        io.ensure_output_file(tmp_path)
    target = tmp_path / "a" / "b" / "results.json"
    assert io.ensure_output_file(target) == target
    assert target.parent.is_dir() and not target.exists()


def test_writing_into_a_missing_folder_names_that_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such folder") as info:
        io.write_png(tmp_path / "nodir" / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert info.value.filename == str(tmp_path / "nodir")


def test_atomic_paths_undo_restores_every_file_it_can(tmp_path, monkeypatch):
    # three targets: an old file, a symbolic link that points nowhere, a new name; the third
    # rename fails, and the first two come back as they were, the link as a link
    import errno
    from pathlib import Path

    first, dangling, fresh = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    first.write_text("old a")
    dangling.symlink_to(tmp_path / "nowhere")
    real_replace = os.replace

    def third_fails(src, dst):
        if Path(dst) == fresh:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src), None,
                                  str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(PermissionError):
        with io.atomic_paths({"a": first, "b": dangling, "c": fresh}) as tmp:
            for path in tmp.values():
                path.write_text("new")
    assert first.read_text() == "old a"
    assert dangling.is_symlink() and os.readlink(dangling) == str(tmp_path / "nowhere")
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_atomic_path_makes_no_copy_of_the_file_it_replaces(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")
    links = []
    monkeypatch.setattr(os, "link", lambda *args, **kwargs: links.append(args))
    with io.atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and links == []


def test_atomic_paths_leave_no_backup_links_behind(tmp_path):
    # the old files are kept as hard links while the group is renamed; once every rename
    # has succeeded the links go, or each run would leave hidden copies in the output folder
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")
    second.write_text("old b")
    with io.atomic_paths({"a": first, "b": second}) as tmp:
        tmp["a"].write_text("new a")
        tmp["b"].write_text("new b")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]
    assert first.read_text() == "new a" and second.read_text() == "new b"


def test_int32_samples_beyond_sixteen_bits_are_scaled_by_the_maximum_and_negatives_clipped(tmp_path):
    wide = np.array([[0, 65536], [98304, 131070]], dtype=np.int32)
    p = tmp_path / "wide.tif"
    Image.fromarray(wide).save(p)
    np.testing.assert_array_equal(io.read_rgb(p)[..., 1], np.rint(wide * (255 / 131070)))
    signed = np.array([[-5, 100], [-70000, 255]], dtype=np.int32)
    Image.fromarray(signed).save(p)
    np.testing.assert_array_equal(io.read_rgb(p)[..., 0], [[0, 100], [0, 255]])


def test_resize_to_uses_lanczos_for_uint8_and_bicubic_for_floats_by_default():
    rgb = _rgb(12, 20, seed=4)
    expected = np.asarray(Image.fromarray(rgb).resize((7, 5), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(io.resize_to(rgb, (5, 7)), expected)
    chroma = np.random.default_rng(5).normal(0, 30, (12, 20)).astype(np.float32)
    expected = np.asarray(Image.fromarray(chroma).resize((7, 5), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(io.resize_to(chroma, (5, 7)), expected)


def test_write_png_rounds_and_clips_floats_and_refuses_other_channel_counts(tmp_path):
    p = tmp_path / "f.png"
    io.write_png(p, np.array([[1.6, 2.4, 2.5, -3.0, 300.0]]))
    np.testing.assert_array_equal(io.read_rgb(p)[..., 0], [[2, 2, 2, 0, 255]])
    # NaN, or a 16-bit image, would be written as black or white without a word
    with pytest.raises(ValueError, match="NaN"):
        io.write_png(tmp_path / "nan.png", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="divide a 16-bit image by 257"):
        io.write_png(tmp_path / "wide.png", np.full((2, 2), 65535, np.uint16))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        io.write_png(p, np.zeros((4, 4, 2), np.uint8))
    assert os.listdir(tmp_path) == ["f.png"]


def test_atomic_paths_undo_removes_a_new_file_when_a_later_rename_fails(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    fresh, old = tmp_path / "a.txt", tmp_path / "b.txt"
    old.write_text("old b")
    real_replace = os.replace

    def second_fails(src, dst):
        if Path(dst) == old:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src), None, str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(PermissionError):
        with io.atomic_paths({"a": fresh, "b": old}) as tmp:
            for path in tmp.values():
                path.write_text("new")
    assert sorted(os.listdir(tmp_path)) == ["b.txt"] and old.read_text() == "old b"


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int64, bool])
def test_resize_to_refuses_types_whose_overshoot_would_wrap_around(dtype):
    # a uint16 edge came back with 65242 next to 0: the filter's overshoot cast back wrapped
    edge = np.zeros((8, 8), dtype)
    edge[:, 4:] = 1
    with pytest.raises(ValueError, match="resize_to takes uint8 or float images"):
        io.resize_to(edge, (8, 20))


def test_resize_to_refuses_an_empty_image_and_returns_one_of_the_right_size_itself():
    with pytest.raises(ValueError, match="empty image"):
        io.resize_to(np.zeros((0, 11, 3), np.uint8), (5, 6))
    img = np.zeros((5, 6), np.float32)
    assert io.resize_to(img, (5, 6)) is img  # as documented: no copy
