"""The coursework's left/right protocol.

A colour photo of width ``W`` is cut at column ``W // 2``: the **left half** (columns
``[0, W // 2)``) is the training data, the **right half** (columns ``[W // 2, W)``) the test
data. For an odd width the right half is one column wider. The protocol needs at least
``MIN_WIDTH x MIN_HEIGHT`` = 8 x 8 pixels, so each half is at least 4 columns wide and tall
enough for 3 x 3 patches to carry context.
"""

from nn.backend import get_array_module

from .color import check_0_255, rgb_to_gray
from .io import is_grayscale, resize_to

MIN_WIDTH = 8
MIN_HEIGHT = 8


class ProtocolError(ValueError):
    """A photo cannot be used under the left/right protocol; one sentence saying why."""


def check_protocol_size(shape):
    """Refuse a photo smaller than 8 x 8 pixels.

    Args:
        shape: ``(H, W)`` or ``(H, W, C)``.

    Raises:
        ProtocolError: naming the minimum and the actual size (width x height).
    """
    h, w = int(shape[0]), int(shape[1])
    if w < MIN_WIDTH or h < MIN_HEIGHT:
        raise ProtocolError(
            f"the left/right protocol needs a photo of at least {MIN_WIDTH} x {MIN_HEIGHT} "
            f"pixels (width x height, so each half is at least {MIN_WIDTH // 2} columns wide), "
            f"but this one is {w} x {h}"
        )


def left_slice(width):
    """Column slice of the left half: ``[0, width // 2)``."""
    return slice(0, width // 2)


def right_slice(width):
    """Column slice of the right half: ``[width // 2, width)``."""
    return slice(width // 2, width)


def split_halves(img):
    """``(H, W, ...)`` -> ``(left, right)`` views: columns ``[0, W//2)`` and ``[W//2, W)``."""
    if img.ndim < 2:
        raise ValueError(f"split_halves needs an image of at least 2 dimensions (H, W, ...), "
                         f"got shape {tuple(img.shape)}")
    w = img.shape[1]
    return img[:, left_slice(w)], img[:, right_slice(w)]


def resize_halves(img, size_hw, *, resample=None):
    """Resize a photo for the protocol to ``(h, w)`` half by half: the left half to
    ``(h, w // 2)`` and the right half to ``(h, w - w // 2)``, each on its own, so that the
    halves of the result are the resized halves of the photo.

    Resizing the whole photo would not do: the filter (Lanczos reaches 3 pixels on each side at
    the output's scale) blends the test half's first columns into the training half's last
    ones, so its colours would reach the training and validation data, and the training
    colours would reach the test half's truth. For an odd width the two halves' scales differ
    slightly (101 -> 64 columns: 32 / 50 and 32 / 51). ``img``: ``(H, W)`` or ``(H, W, C)``, at
    least 2 columns wide; ``w`` must be at least 2; ``resample``: as in
    :func:`colorize.io.resize_to`.
    """
    h, w = (int(s) for s in size_hw)
    if img.shape[1] < 2 or w < 2:
        raise ValueError(f"resize_halves needs at least 2 columns before and after, got "
                         f"{img.shape[1]} -> {w}")
    left, right = split_halves(img)
    return compose_halves(resize_to(left, (h, w // 2), resample=resample),
                          resize_to(right, (h, w - w // 2), resample=resample))


def left_half_is_gray(rgb):
    """True when the training half of (H, W, 3) ``rgb`` has no colour to learn from (it is
    gray, alone or with the whole photo). Check the photo as read: resizing blurs colour from
    the right half across the seam. An empty left half (a photo 1 column wide) is not called
    gray; :func:`check_protocol_size` refuses it."""
    left = split_halves(rgb)[0]
    return left.size > 0 and is_grayscale(left)


def compose_halves(left, right):
    """Inverse of :func:`split_halves`: the two halves side by side, ``(H, Wl + Wr, ...)``."""
    if (left.ndim < 2 or right.ndim < 2 or left.shape[0] != right.shape[0]
            or left.shape[2:] != right.shape[2:]):
        raise ValueError(
            f"halves do not fit together: left {tuple(left.shape)}, right {tuple(right.shape)}"
        )
    xp = get_array_module(left, right)
    return xp.concatenate([left, right], axis=1)


def protocol_inputs(rgb):
    """What an agent sees under the protocol, after checking the size.

    Args:
        rgb: ``(H, W, 3)`` colour photo on 0..255 (another shape, NaN or infinite values and
            a 0..1 photo are refused: :func:`colorize.color.check_0_255`).

    Returns:
        ``(left_rgb, right_gray, right_rgb)``: the training half in colour, the test half's
        gray (float, no rounding) and the test half's true colours (for scoring only).
    """
    check_protocol_size(rgb.shape)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"the photo must be an (H, W, 3) colour image, got shape {rgb.shape}")
    check_0_255(rgb, "the photo")
    left, right = split_halves(rgb)
    return left, rgb_to_gray(right), right
