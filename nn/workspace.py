"""Reusable scratch memory for convolution's big temporaries (the im2col columns).

A fresh NumPy array of tens of megabytes costs more than filling it: the operating system
hands out its pages one fault at a time on first touch (measured: building the columns of a
16 x 32 x 64 x 64 input, 3x3 kernel, 75 MB, took 9.5 ms into a new array and 5.8 ms into a
reused one). So the columns of every convolution are written into one buffer per role that
is kept between calls and grows to the largest size asked for.

Rules that keep this safe: a buffer holds one layer's temporaries at a time (which is also
the engine's memory rule), and what a layer returns is never a view of it. On CuPy this module
simply allocates: CuPy's memory pool already reuses device memory.
"""

import math

import numpy as np

_BUFFERS = {}


def scratch(role, shape, dtype, xp=np):
    """An uninitialised array of ``shape`` and ``dtype`` in the reusable buffer ``role``.

    The contents are overwritten by the next request for the same role: use it only for a
    temporary that is dead before the next call.
    """
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    buf = _BUFFERS.get(role)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        _BUFFERS[role] = buf
    return buf[:size].reshape(shape)


def release():
    """Drop every buffer (e.g. after a large one-off computation); the next call allocates."""
    _BUFFERS.clear()
