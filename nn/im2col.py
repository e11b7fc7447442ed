"""im2col / col2im built from K x K strided slices (NumPy and CuPy alike).

For a kernel offset ``(i, j)`` the input pixels that meet weight ``W[:, :, i, j]`` over all
output positions form one strided slice of the zero-padded input::

    x_pad[:, :, i*d : i*d + s*(H_out - 1) + 1 : s,  j*d : j*d + s*(W_out - 1) + 1 : s]

so one slice per offset handles stride ``s``, padding ``p`` and dilation ``d`` at once, with

    H_out = (H + 2p - d(kh - 1) - 1) // s + 1      (and likewise W_out).

Columns are laid out as ``(N, C, kh, kw, H_out, W_out)``: reshaped to ``(N, C*kh*kw,
H_out*W_out)`` they multiply a weight matrix ``(F, C*kh*kw)`` sample by sample (one GEMM per
sample on NumPy, one batched cuBLAS call on CuPy; see ``nn.layers.conv``), and the result is
already NCHW, so no transposing copy is needed on either side. ``col2im`` is the adjoint: it
adds slice by slice into a zero-padded buffer. One offset's strided slice touches each pixel at
most once, so overlapping windows accumulate through ``+=`` on views, and no scatter-add
(``add.at``) is needed.
"""

from nn.backend import get_array_module, is_whole_number
from nn.workspace import scratch


def pair(value, name="value", minimum=0):
    """``3 -> (3, 3)``; a 2-sequence is returned as a tuple of ints.

    Raises ValueError, naming ``name``, unless both are whole numbers of at least ``minimum``
    (``padding="same"``, ``stride=0`` and ``kernel_size=2.5`` are refused here, not deep in a
    forward pass).
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(map(is_whole_number, items)) or min(items) < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum} or a pair of "
                         f"them, got {value!r}")
    return int(items[0]), int(items[1])


def conv_output_size(size, kernel, stride, padding, dilation):
    """``(size + 2p - d(k - 1) - 1) // s + 1``: output length of a convolution along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def output_hw(h, w, kernel, stride, padding, dilation):
    """``(H_out, W_out)`` of a convolution (pairs of ints as arguments), or ValueError saying
    that the input is too small for the kernel."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h_out = conv_output_size(h, kh, sh, ph, dh)
    w_out = conv_output_size(w, kw, sw, pw, dw)
    if h_out < 1 or w_out < 1:
        raise ValueError(
            f"input {h}x{w} is too small for kernel {kh}x{kw} with stride {stride}, "
            f"padding {padding} and dilation {dilation}"
        )
    return h_out, w_out


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, out=None):
    """Unfold ``x: (N, C, H, W)`` into columns ``(N, C, kh, kw, H_out, W_out)``.

    ``cols[n, c, i, j, y, z] = x_pad[n, c, y*s + i*d, z*s + j*d]`` (zero outside ``x``).
    ``out``: an array of that shape and x's dtype to write the columns into (else a new one).
    """
    xp = get_array_module(x)
    kernel, stride, padding, dilation = (pair(v) for v in (kernel_size, stride, padding, dilation))
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    h_out, w_out = output_hw(h, w, kernel, stride, padding, dilation)
    if ph or pw:
        x_pad = scratch("im2col-padded-input", (n, c, h + 2 * ph, w + 2 * pw), x.dtype, xp)
        x_pad[...] = 0
        x_pad[:, :, ph:ph + h, pw:pw + w] = x
    else:
        x_pad = x
    shape = (n, c, kh, kw, h_out, w_out)
    if out is not None and (out.shape != shape or out.dtype != x.dtype):
        raise ValueError(f"im2col out must have shape {shape} and dtype {x.dtype}")
    cols = xp.empty(shape, dtype=x.dtype) if out is None else out
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            cols[:, :, i, j] = x_pad[:, :, top:top + sh * (h_out - 1) + 1:sh,
                                     left:left + sw * (w_out - 1) + 1:sw]
    return cols


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns ``(N, C, kh, kw, H_out, W_out)`` back to ``x_shape = (N, C, H, W)``.

    The adjoint of :func:`im2col`: every column entry is added to the input pixel it was
    copied from, so pixels shared by overlapping windows receive the sum of their entries.
    """
    xp = get_array_module(cols)
    kernel, stride, padding, dilation = (pair(v) for v in (kernel_size, stride, padding, dilation))
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x_shape
    h_out, w_out = output_hw(h, w, kernel, stride, padding, dilation)
    if cols.shape != (n, c, kh, kw, h_out, w_out):
        raise ValueError(f"columns of shape {cols.shape} do not fit an input of shape {x_shape}")
    x_pad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            x_pad[:, :, top:top + sh * (h_out - 1) + 1:sh,
                  left:left + sw * (w_out - 1) + 1:sw] += cols[:, :, i, j]
    if ph or pw:
        return x_pad[:, :, ph:ph + h, pw:pw + w]
    return x_pad
