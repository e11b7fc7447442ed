"""Reading and writing photos: any file Pillow decodes in, RGB uint8 arrays out; atomic writes.

Reading (:func:`read_rgb`) turns every photo into an upright ``(H, W, 3)`` uint8 sRGB-coded
array, whatever its mode:

=============  ==================================================================
mode           conversion
=============  ==================================================================
RGB            as is (16-bit RGB files, PNG or TIFF, reach us as 8 bits: Pillow keeps
               the high byte, ``v8 = v16 >> 8``, up to one level below rounding)
RGBA, LA, PA,  composited on a white background (transparent pixels become white),
P / L / RGB    which is what a viewer shows on a white page
with a
transparency
key
P              palette looked up
L, 1           gray replicated into R, G, B
CMYK, YCbCr    Pillow's conversion to RGB
I;16 (any      16-bit samples scaled to 8 bits with rounding: ``v8 = round(v16 / 257)``
byte order)    (257 = 65535 / 255, so 0 -> 0 and 65535 -> 255 exactly), however dark the
               photo; a transparency key makes its samples white
I (32-bit)     negative values clipped to 0; values already within 0..255 kept; values up
               to 65535 read as 16-bit samples (that is what 16-bit PNGs decode to in
               older Pillow versions); larger values scaled by the maximum. Pillow
               reads unsigned 32-bit TIFF samples as signed, so those above 2^31 arrive
               negative and become 0
F (float)      finite data within 0..1 read as fractions (times 255); otherwise clipped
               to 0..255; NaN becomes 0, infinities the ends of the range
=============  ==================================================================

The EXIF orientation tag is applied (:func:`PIL.ImageOps.exif_transpose`), so a phone photo
taken in portrait comes out upright. An embedded ICC colour profile is not applied: the values
are taken as the file codes them, as the coursework's gray formula takes them, and the agents
write them back the same way. A profile other than sRGB (Adobe RGB, Display P3) is named in
``notes``, since a colour-managed viewer shows that file in other colours than our outputs. The
whole file is decoded (``Image.load``) before anything is returned, and Pillow's
``LOAD_TRUNCATED_IMAGES`` is held off while doing so: a truncated or corrupt file is an error,
never a half-gray picture.

Decompression bombs (a small file that decodes to a gigantic image) are refused by Pillow's
own check, run with our limit ``max_pixels`` instead of Pillow's global default: Pillow warns
above the limit and refuses above twice the limit; we turn both into :class:`ImageError`.

Every way a file can be bad ends in :class:`ImageError` carrying one sentence that names the
file and what is wrong; the command lines print it as ``error: ...``.

Writing goes through :func:`atomic_path`: the data are written to a hidden temporary file in
the destination folder and renamed over the destination with ``os.replace`` only once complete,
so an interrupt or a crash leaves either the old file or the new one, never a partial file.
Files that belong together (an agent's three results, a report and its figures) go through
:func:`atomic_paths`, which renames them as a group.
"""

import contextlib
import errno
import io
import json
import math
import os
import secrets
import signal
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from nn.backend import get_array_module, is_whole_number, to_numpy

from .color import check_0_255

DEFAULT_MAX_PIXELS = 100_000_000
"""Largest photo read by default: 100 megapixels, 300 MB as an RGB uint8 array, and several
times that while Pillow decodes it (1.4 GB at the peak for a 10000 x 10000 RGB PNG)."""

# Pillow keeps its bomb limit and truncation switch in module globals; we set them for the
# duration of one decode and restore them, one reader at a time.
_PILLOW_SETTINGS_LOCK = threading.Lock()


class ImageError(ValueError):
    """An input image cannot be used; the message is one sentence naming the file."""


class OutputError(ValueError):
    """An output folder or file cannot be created or written; one sentence naming it."""


@contextmanager
def _pillow_limits(max_pixels):
    """Run Pillow with our bomb limit, bomb warnings raised as errors, truncation refused,
    other warnings (e.g. "Corrupt EXIF data" on a readable photo) silenced."""
    with _PILLOW_SETTINGS_LOCK:
        saved_limit = Image.MAX_IMAGE_PIXELS
        saved_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            with warnings.catch_warnings():
                # Library warnings would reach the user's terminal beside our one-line error:
                # silence them, except the two that mean the file must be refused.
                warnings.simplefilter("ignore")
                warnings.filterwarnings("error", message="Truncated File Read")
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved_limit
            ImageFile.LOAD_TRUNCATED_IMAGES = saved_truncated


def _check_path(path):
    """Refuse a path that is missing, a directory, unreadable or empty, before Pillow sees it."""
    p = Path(os.fsdecode(path))
    try:
        exists = p.exists()
    except OSError as exc:  # Python 3.11 raises for a name too long for the system
        raise ImageError(f"image file '{p}' cannot be read ({exc.strerror or exc})") from None
    if not exists:
        raise ImageError(f"image file '{p}' does not exist")
    if p.is_dir():
        raise ImageError(f"'{p}' is a directory, not an image file")
    if not p.is_file():
        raise ImageError(f"'{p}' is not a regular file, so it cannot be read as an image")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImageError(f"image file '{p}' cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageError(f"image file '{p}' is empty (0 bytes)")
    return p


def _composite_on_white(im):
    """RGBA-convertible image with transparency -> RGB on a white background."""
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _wide_gray_to_uint8(a, sixteen_bit=False):
    """Scale an ``I`` / ``I;16`` / ``F`` sample array to uint8 by the rules in the module doc.

    ``sixteen_bit``: the samples come from an ``I;16`` image, so they are scaled by 1/257
    even when all of them are small (a dark 16-bit photo is still 16-bit).
    """
    if a.dtype.kind == "f":
        a = a.astype(np.float64)
        finite = a[np.isfinite(a)]
        # The scale is read from the finite samples: one infinity must not hide a 0..1 image.
        fractions = finite.size > 0 and finite.min() >= 0.0 and finite.max() <= 1.0
        a = np.nan_to_num(a, nan=0.0, posinf=1.0 if fractions else 255.0, neginf=0.0)
        if fractions:
            a = a * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    a = np.maximum(a.astype(np.int64), 0)
    top = int(a.max()) if a.size else 0
    if top <= 255 and not sixteen_bit:
        return a.astype(np.uint8)
    if top <= 65535:
        # round(v / 257) in integers: 0 -> 0, 65535 -> 255, 8-bit values scaled up by 257 return
        return ((a + 128) // 257).astype(np.uint8)
    return np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)


def _to_rgb_array(im):
    """A decoded Pillow image of any mode -> (H, W, 3) uint8 array."""
    mode = im.mode
    wide = mode.startswith("I") or mode == "F"
    if not wide and (mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info):
        return np.asarray(_composite_on_white(im), dtype=np.uint8)
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    if wide:
        sixteen_bit = mode.startswith("I;16")
        samples = np.asarray(im).astype(np.uint16) if sixteen_bit else np.asarray(im)
        gray = _wide_gray_to_uint8(samples, sixteen_bit)
        key = im.info.get("transparency")
        if isinstance(key, (int, float)):
            # Pillow's own conversion to RGBA would clip 16-bit samples to 255 first, so
            # the transparent samples are made white here, after the scaling.
            gray[samples == key] = 255
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_rgb(path, *, max_pixels=DEFAULT_MAX_PIXELS, notes=None):
    """Read any photo Pillow decodes as an upright RGB image.

    Args:
        path: file path (str, bytes or PathLike).
        max_pixels: largest ``width * height`` accepted (decompression-bomb guard); ``None``
            disables the limit.
        notes: optional list; what the RGB array leaves out of the file is appended to it
            as short phrases (transparency shown on white, frames after the first, a colour
            profile other than sRGB), so a command can tell its user.

    Returns:
        ``(H, W, 3)`` uint8 NumPy array, EXIF orientation applied.

    Raises:
        ImageError: the file is missing, a directory, empty, not an image, truncated or
            corrupt, of an unsupported mode, or larger than ``max_pixels``.
        ValueError: ``max_pixels`` is neither None nor a whole number of at least 1.
    """
    if max_pixels is not None and not (is_whole_number(max_pixels) and max_pixels >= 1):
        raise ValueError(f"max_pixels must be a whole number of at least 1 or None, got {max_pixels!r}")
    max_pixels = None if max_pixels is None else int(max_pixels)
    p = _check_path(path)
    try:
        with _pillow_limits(max_pixels), Image.open(p) as im:
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageError(
                    f"image file '{p}' is {width} x {height} pixels, more than the limit of "
                    f"{max_pixels:,} pixels (a possible decompression bomb)"
                )
            # Pillow before 10.1 closes a multi-frame TIFF's file in load() and then fails to
            # read its EXIF for exif_transpose; read first, the EXIF is cached on the image
            # (from Pillow 9.2: 9.1 reads a TIFF's EXIF again from the closed file, which is
            # why setup.cfg asks for 9.2).
            im.getexif()
            im.load()
            if notes is not None:
                notes.extend(_left_out(im))
            upright = ImageOps.exif_transpose(im)
            rgb = _to_rgb_array(upright)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"image file '{p}' decodes to more than {max_pixels:,} pixels and is refused as a "
            "possible decompression bomb"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"'{p}' is not an image file that Pillow can read") from None
    except PermissionError as exc:
        raise ImageError(f"image file '{p}' cannot be read ({exc.strerror})") from None
    except MemoryError:
        raise ImageError(f"image file '{p}' is too large to decode in the available memory") from None
    except Exception as exc:
        # Pillow's decoders signal corrupt data with many types (OSError "image file is
        # truncated", SyntaxError, struct.error, ValueError, ...); all mean the same to a user.
        reason = str(exc).strip().rstrip(".") or type(exc).__name__
        raise ImageError(f"image file '{p}' is truncated or corrupt ({reason})") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError(f"image file '{p}' has no pixels that can be read as RGB")
    return np.ascontiguousarray(rgb)


def _left_out(im):
    """What the RGB array of the opened image ``im`` does not keep, as phrases."""
    phrases = []
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        phrases.append(f"it has {frames} frames, and only the first is used")
    profile = _profile_name(im.info.get("icc_profile"))
    if profile is not None and "srgb" not in profile.lower():
        phrases.append(f"its colour profile ({profile}) is not applied: its values are taken "
                       "as sRGB, so a colour-managed viewer shows it in other colours")
    key = im.info.get("transparency")
    if im.mode.startswith("I") and isinstance(key, (int, float)):
        # RGBA conversion clips 16-bit samples to 255 first, so the key is looked up here
        if (np.asarray(im) == key).any():
            phrases.append("its transparent parts are shown on white")
    elif "A" in im.getbands() or key is not None:
        if im.convert("RGBA").getchannel("A").getextrema()[0] < 255:
            phrases.append("its transparent parts are shown on white")
    return phrases


def _profile_name(icc):
    """The description of the ICC profile ``icc`` (bytes), "an unreadable one" when it cannot
    be parsed, or None when there is none."""
    if not icc:
        return None
    try:
        from PIL import ImageCms

        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except Exception:  # ImportError without LittleCMS, PyCMSError / OSError for a bad profile
        return "an unreadable one"


GRAY_TOLERANCE = 6
"""Channel spread ``max(R, G, B) - min(R, G, B)`` up to which a pixel counts as gray: a gray
photo saved as RGB picks up that much from JPEG compression, scanner noise or a faint tint
(6 levels are 2.4 % of the range, hardly visible)."""
GRAY_OUTLIERS = 0.001
"""Fraction of pixels that may exceed ``GRAY_TOLERANCE`` in a gray photo (specks of colour
on a scan): one coloured pixel does not make a photo a colour photo."""


def is_grayscale(rgb, tol=GRAY_TOLERANCE, outliers=GRAY_OUTLIERS):
    """True when all pixels but a fraction ``outliers`` (rounded down) have
    ``max(R, G, B) - min(R, G, B) <= tol``.

    Args:
        rgb: ``(..., 3)`` array (integers, or floats on 0..255), NumPy or CuPy. A 0..1 image
            would look gray whatever its colours, since ``tol`` is in 0..255 levels.
        tol: allowed spread between channels (see ``GRAY_TOLERANCE``).
        outliers: allowed fraction of pixels above ``tol`` (see ``GRAY_OUTLIERS``); 0 asks
            every pixel to be within ``tol``.

    Raises ValueError for an array whose last axis is not 3 channels (a 2-D gray image has no
    channels to compare; an RGBA image must drop its alpha first).
    """
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"is_grayscale needs (..., 3) RGB values, got shape {tuple(rgb.shape)}")
    xp = get_array_module(rgb)
    # Integers are widened first: a signed spread can wrap around (int8: 100 - (-100)).
    if rgb.dtype.kind in "iub":
        x = rgb.astype(xp.int16 if rgb.dtype.itemsize == 1 else xp.int64)
    else:
        x = rgb
    spread = x.max(axis=-1) - x.min(axis=-1)
    coloured = int((spread > tol).sum())
    return coloured <= int(outliers * spread.size)


def _resize_channel(channel, size_hw, resample):
    """Resize one 2-D array with Pillow; uint8 through mode 'L', anything else through 'F'."""
    h, w = size_hw
    if channel.dtype == np.uint8:
        out = Image.fromarray(channel).resize((w, h), resample)
        return np.asarray(out, dtype=np.uint8)
    out = Image.fromarray(channel.astype(np.float32)).resize((w, h), resample)
    return np.asarray(out, dtype=np.float32).astype(channel.dtype, copy=False)


def resize_to(img, size_hw, *, resample=None):
    """Resize ``img`` to ``(h, w)`` with Pillow.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` array, uint8 or float (NumPy or CuPy; the result goes
            back to the input's library). Float data are resized channel by channel in
            Pillow's 32-bit float mode 'F' (float64 input is computed in float32, then cast
            back), so chroma predictions keep their sign and range.
        size_hw: target ``(h, w)``.
        resample: a ``PIL.Image.Resampling`` filter; default Lanczos for uint8 images and
            bicubic for float data (bicubic overshoots less around strong chroma edges).

    Returns:
        ``(h, w)`` or ``(h, w, C)`` array of the input dtype; ``img`` itself (not a copy) when
        it already has that size.

    Raises:
        ValueError: an empty image, or one neither uint8 nor float (the float filters
        overshoot at edges, and a cast back to another integer type would wrap the overshoot
        around: -3 becomes 65533 in uint16).
    """
    h, w = (int(s) for s in size_hw)
    if h < 1 or w < 1:
        raise ValueError(f"target size must be at least 1 x 1, got {h} x {w}")
    xp = get_array_module(img)
    a = to_numpy(img)
    if a.dtype != np.uint8 and a.dtype.kind != "f":
        raise ValueError(f"resize_to takes uint8 or float images, got {a.dtype}; convert it "
                         "first (a 16-bit image: divide by 257 into float32)")
    if a.size == 0:
        raise ValueError(f"cannot resize an empty image (shape {a.shape})")
    if a.shape[:2] == (h, w):
        return img
    if resample is None:
        resample = Image.Resampling.LANCZOS if a.dtype == np.uint8 else Image.Resampling.BICUBIC
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3:
        out = np.asarray(Image.fromarray(a).resize((w, h), resample), dtype=np.uint8)
    elif a.ndim == 2:
        out = _resize_channel(a, (h, w), resample)
    elif a.ndim == 3:
        out = np.stack([_resize_channel(a[:, :, c], (h, w), resample) for c in range(a.shape[2])], axis=2)
    else:
        raise ValueError(f"resize expects an (H, W) or (H, W, C) array, got shape {a.shape}")
    return xp.asarray(out)


def max_side_size(shape, max_side):
    """The ``(h, w)`` that shrinks an image of ``shape`` so that its longer side is at most
    ``max_side`` pixels (``--max-side``), or None when it is that small already. The aspect
    ratio is kept (each side rounded, at least 1 pixel). Resize with :func:`resize_to`, or, a
    photo for the left/right protocol, with :func:`colorize.halves.resize_halves`."""
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    h, w = (int(s) for s in shape[:2])
    longest = max(h, w)
    if longest <= max_side:
        return None
    scale = max_side / longest
    return max(1, round(h * scale)), max(1, round(w * scale))


def _fsync_dir(folder):
    """Make a rename durable on POSIX; a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


TEMP_STEM_CHARS = 24
"""How much of the final name's stem a temporary name keeps (enough to tell whose it is)."""
MAX_NAME_BYTES = 255
"""The longest file name, in bytes, that common file systems take (ext4, XFS, APFS)."""


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The temporary name is ``.<stem>.<random>.tmp<suffix>`` in the same folder (same file
    system, so ``os.replace`` is atomic; the real suffix last, so Pillow and matplotlib pick
    the format from the name), with the stem cut to ``TEMP_STEM_CHARS`` characters, so that
    a temporary name (even one made for another temporary name) is never much longer than
    the final one and never hits the file system's limit of 255 bytes first. On any exception,
    ``KeyboardInterrupt`` included, the temporary file is removed and ``path`` is left as it
    was.

    Usage::

        with atomic_path("out/a.png") as tmp:
            Image.fromarray(rgb).save(tmp)
    """
    with atomic_paths({"file": path}) as tmp:
        yield tmp["file"]


def _temporary_name(target, kind="tmp"):
    return target.with_name(f".{target.stem[:TEMP_STEM_CHARS]}.{secrets.token_hex(6)}.{kind}"
                            f"{target.suffix}")


@contextmanager
def atomic_paths(paths):
    """:func:`atomic_path` for files that belong together: yields ``{key: temporary path}``
    for the dict ``{key: path}``, and only once the block has written every one are they
    renamed over their targets, in the dict's order. Ctrl-C and SIGTERM are held back during
    the renames, so an interrupt then takes effect just after the last one (all files new).
    If a rename fails, the files already replaced get their old contents back (kept as hard
    links until the renames are done; a file that did not exist is removed), so the set is all
    old or all new, never a mix, wherever the file system lets us link the old files (it may
    not: then that file cannot be put back). On any exception the temporary files are removed.
    """
    targets = {key: Path(p) for key, p in paths.items()}
    for target in targets.values():
        if not target.parent.is_dir():
            # named here: the writer's error would name the hidden temporary file instead
            raise FileNotFoundError(errno.ENOENT, "No such folder", str(target.parent))
    tmps = {key: _temporary_name(target) for key, target in targets.items()}
    try:
        yield tmps
        for tmp in tmps.values():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        with _signals_held():
            _replace_all(tmps, targets)
    except BaseException:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise
    for folder in {target.parent for target in targets.values()}:
        _fsync_dir(folder)


@contextmanager
def _signals_held():
    """Hold back SIGINT and SIGTERM (POSIX; elsewhere a no-op) until the block is done."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, previous)


def _replace_all(tmps, targets):
    """``os.replace`` each temporary file over its target; on a failure, undo those done.

    The last rename needs no copy of its old file: after it nothing can fail.
    """
    # (target, backup): the old file as a hard link (of a symbolic link itself, not of what it
    # points to), None where there was nothing, False where no link could be made
    done, backups = [], []
    last = len(targets) - 1
    try:
        for i, (key, target) in enumerate(targets.items()):
            existed = os.path.lexists(target)
            backup = False if existed else None
            if existed and i < last:
                link = _temporary_name(target, "old")
                try:
                    os.link(target, link, follow_symlinks=False)
                    backups.append(link)
                    backup = link
                except (OSError, NotImplementedError):  # no linkat() on some systems
                    pass
            os.replace(tmps[key], target)
            done.append((target, backup))
    except BaseException:
        _undo(done)
        raise
    finally:
        for backup in backups:
            backup.unlink(missing_ok=True)


def _undo(done):
    """Put back the old files of ``done`` (see :func:`_replace_all`), each on its own, so that
    one that fails does not keep the others from being restored."""
    for target, backup in reversed(done):
        with contextlib.suppress(OSError):
            if backup is None:
                target.unlink(missing_ok=True)
            elif backup:
                os.replace(backup, target)


def _as_uint8_image(img):
    """(H, W) or (H, W, 3) array -> uint8 NumPy array (floats rounded and clipped to 0..255)."""
    a = to_numpy(img)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {a.shape}")
    if a.dtype != np.uint8:
        # NaN or a 16-bit image would be written as black or white without a word
        check_0_255(a, "the image to write", dark_ok=True)
        a = np.clip(np.rint(a.astype(np.float64)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def write_png(path, rgb):
    """Write an image as PNG, atomically.

    Args:
        path: destination file (its folder must exist).
        rgb: ``(H, W, 3)`` or ``(H, W)`` array; floats are rounded and clipped to 0..255.

    Returns:
        ``Path`` of the written file.
    """
    img = Image.fromarray(_as_uint8_image(rgb))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def _json_safe(obj):
    """Recursively turn NumPy values, tuples and paths into JSON types; non-finite -> None.

    JSON has no NaN or infinity; ``None`` (``null``) is what JavaScript's ``JSON.stringify``
    writes too. So a PSNR of ``inf`` (identical images) is written as ``null``.
    """
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "__array__") or isinstance(obj, np.ndarray):
        return _json_safe(to_numpy(obj).tolist())
    return obj


def write_json(path, obj):
    """Write ``obj`` as indented JSON (2 spaces), atomically.

    NumPy scalars and arrays become numbers and lists; NaN and infinities become ``null``.

    Returns:
        ``Path`` of the written file.
    """
    text = json.dumps(_json_safe(obj), indent=2, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return Path(path)


def ensure_output_file(path, inputs=()):
    """Check, before any work, that the file ``path`` can be written: it is not a folder, not
    a device or a pipe (the atomic write would replace it with a file), not one of ``inputs``
    (``(path, what)`` pairs, as for :func:`check_output_files`), and its folder exists or can
    be created, and is writable (the folder is created).

    Raises:
        OutputError: naming the file or its folder.
    """
    if not os.fspath(path):
        raise OutputError("the output file name is empty; give a file name such as results.json")
    path = Path(path)
    _check_name_length(path)  # before any stat: a name too long makes it fail
    if path.is_dir():
        raise OutputError(f"'{path}' is a folder; give a file name such as results.json")
    check_output_files([path], inputs)
    ensure_output_dir(path.parent)
    return path


def _exists(path):
    """``Path(path).exists()``, False for a path the system refuses to look up (a name too
    long: Python 3.11 raises there); reading such a path fails later with its own message."""
    try:
        return Path(path).exists()
    except OSError:
        return False


def long_name_in(path):
    """The first name in ``path`` (a folder's or the file's) longer than ``MAX_NAME_BYTES``,
    or None. No such path can be written, and asking whether it exists raises an OSError in
    some Python versions (``Path.exists`` in 3.11), so the output checks test this first."""
    for part in Path(path).parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            return part
    return None


def _check_name_length(path):
    if len(os.fsencode(path.name)) > MAX_NAME_BYTES:
        raise OutputError(f"cannot write {path}: its name is longer than {MAX_NAME_BYTES} "
                          "bytes; choose a shorter one (or rename the input photo it comes "
                          "from)")
    if long_name_in(path) is not None:
        raise OutputError(f"cannot write {path}: a folder name in it is longer than "
                          f"{MAX_NAME_BYTES} bytes")


def check_output_files(paths, inputs=()):
    """Refuse, before any work, output files that must not be written: ``paths`` (file paths)
    whose name is longer than ``MAX_NAME_BYTES``, where a folder or a non-regular file (a
    device, a pipe) is in the way, or that would overwrite one of ``inputs``, ``(path,
    what)`` pairs such as ``("photo.jpg", "photo")``.

    Raises:
        OutputError: naming the first such path.
    """
    for path in map(Path, paths):
        _check_name_length(path)
        if path.is_dir():
            raise OutputError(f"cannot write {path}: a folder of that name is in the way")
        if path.exists() and not path.is_file():
            raise OutputError(f"cannot write {path}: it is not a regular file (a device or a "
                              "pipe), and writing would replace it; choose another --out")
        for source, what in inputs:
            if (path.exists() and _exists(source)
                    and path.resolve() == Path(source).resolve()):
                raise OutputError(f"writing {path} would overwrite the input {what}; "
                                  "choose another --out")


def missing_folders(folder):
    """``folder`` and those of its ancestors that do not exist yet, innermost first: what a
    command is about to create, so that a refused run can remove exactly that again."""
    if long_name_in(folder) is not None:
        raise OutputError(f"output folder '{folder}': a name in it is longer than "
                          f"{MAX_NAME_BYTES} bytes, which no file system takes")
    missing = []
    for path in (Path(folder), *Path(folder).parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def remove_empty_folders(folders):
    """Remove each of ``folders`` (innermost first) that is a folder with nothing in it."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


@contextlib.contextmanager
def folders_removed_on_failure(folder):
    """Run the ``with`` block; if it fails (an error, Ctrl-C, SIGTERM), remove again the
    folders on the way to ``folder`` that did not exist before it and are still empty, so that
    a refused or interrupted command leaves no empty folders behind."""
    created = missing_folders(folder)
    try:
        yield
    except BaseException:
        remove_empty_folders(created)
        raise


def ensure_output_dir(path):
    """Create the output folder (and parents) and check that files can be written in it.

    Returns:
        the folder as a ``Path``.

    Raises:
        OutputError: it exists as a file, cannot be created, or is not writable.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output folder '{folder}' exists but is a file, not a folder")
    try:
        # outermost first, one level at a time: mkdir(parents=True) recurses once per missing
        # level and runs out of stack near a thousand of them
        for missing in reversed(missing_folders(folder)):
            if missing.is_symlink():
                raise OutputError(f"output folder '{folder}': {missing} is a symbolic link to "
                                  f"'{os.readlink(missing)}', which does not exist")
            missing.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"output folder '{folder}' cannot be created ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        # A real write: permission bits alone do not tell (root, read-only mounts, ACLs).
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"output folder '{folder}' is not writable ({exc.strerror or type(exc).__name__})"
        ) from None
    return folder
