"""k x k patches around every pixel of a gray image, borders edge-replicated.

``extract_patches(gray, 3)[i, j]`` is the 3 x 3 neighbourhood of pixel ``(i, j)`` read row by
row::

    [g[i-1, j-1], g[i-1, j], g[i-1, j+1], g[i, j-1], g[i, j], ..., g[i+1, j+1]]

with indices outside the image clamped to the nearest edge pixel (edge replication), so every
pixel, border pixels included, gets a full patch. Only odd sizes have a centre pixel, so even
sizes are refused.

The work is one padded copy of the image and a strided window view of it (no loop over
offsets); the final ``reshape`` to ``(H, W, k*k)`` makes the one unavoidable copy, because
the k*k offsets of a window are not one constant stride apart in memory (where they are, a
copy is made anyway, so the result is always a writable array of its own).
"""

import numbers

from nn.backend import get_array_module


def _check_size(size):
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 or size % 2 == 0:
        raise ValueError(f"patch size must be a positive odd integer, got {size!r}")
    return int(size)


def patch_view(gray, size=3):
    """Read-only window view ``(H, W, size, size)`` over the edge-padded image.

    ``patch_view(g, k)[i, j]`` is the ``k x k`` block centred on ``(i, j)``; no per-patch copy
    is made (only the padded image is allocated).
    """
    size = _check_size(size)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"gray must be a non-empty (H, W) array, got shape {tuple(gray.shape)}")
    xp = get_array_module(gray)
    r = size // 2
    padded = xp.pad(gray, r, mode="edge")
    h, w = gray.shape
    if xp.__name__ == "numpy":
        return xp.lib.stride_tricks.sliding_window_view(padded, (size, size))
    s0, s1 = padded.strides
    return xp.lib.stride_tricks.as_strided(padded, shape=(h, w, size, size), strides=(s0, s1, s0, s1))


def extract_patches(gray, size=3):
    """All ``size x size`` patches of an ``(H, W)`` image -> ``(H, W, size*size)``.

    Args:
        gray: ``(H, W)`` array (NumPy or CuPy); its dtype is kept.
        size: odd patch side (3 for the coursework).

    Returns:
        ``(H, W, size*size)`` contiguous array, patch values in row-major order, borders
        edge-replicated.
    """
    view = patch_view(gray, size)
    patches = view.reshape(gray.shape[0], gray.shape[1], size * size)
    # The reshape copies, except where the window axes merge without one (size 1, a 1-column
    # image): it then returns a view of the padded image, read-only on NumPy and perhaps not
    # contiguous, which the caller was promised.
    if not (patches.flags.c_contiguous and getattr(patches.flags, "writeable", True)):
        patches = patches.copy()
    return patches
