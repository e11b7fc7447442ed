"""Slow, obvious loop implementations that the fast layers are compared with."""

import numpy as np


def conv2d_loops(x, w, b, stride, padding, dilation):
    """Direct cross-correlation: x (N, C, H, W), w (F, C, kh, kw) -> (N, F, H_out, W_out)."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    w_out = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, f, h_out, w_out))
    for i_n in range(n):
        for i_f in range(f):
            for r in range(h_out):
                for s in range(w_out):
                    total = b[i_f]
                    for ch in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                total += (w[i_f, ch, i, j]
                                          * xp[i_n, ch, r * stride + i * dilation, s * stride + j * dilation])
                    y[i_n, i_f, r, s] = total
    return y


def conv_transpose2d_loops(x, w, b, stride, padding, dilation, output_padding=0):
    """Scatter form: every input pixel adds ``x * W`` into the output window it maps to.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) -> (N, C_out, H_out, W_out).
    """
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    h_out = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1
    w_out = (wd - 1) * stride - 2 * padding + dilation * (kw - 1) + output_padding + 1
    full = np.zeros((n, c_out, h_out + 2 * padding + stride, w_out + 2 * padding + stride))
    for i_n in range(n):
        for ci in range(c_in):
            for r in range(h):
                for s in range(wd):
                    for co in range(c_out):
                        for i in range(kh):
                            for j in range(kw):
                                full[i_n, co, r * stride + i * dilation, s * stride + j * dilation] += (
                                    x[i_n, ci, r, s] * w[ci, co, i, j])
    y = full[:, :, padding:padding + h_out, padding:padding + w_out]
    return y + b[None, :, None, None]


def maxpool2d_loops(x, k, stride):
    """Max over k x k windows: x (N, C, H, W) -> (N, C, H_out, W_out), no padding."""
    n, c, h, w = x.shape
    h_out, w_out = (h - k) // stride + 1, (w - k) // stride + 1
    y = np.zeros((n, c, h_out, w_out))
    for i_n in range(n):
        for ch in range(c):
            for r in range(h_out):
                for s in range(w_out):
                    y[i_n, ch, r, s] = x[i_n, ch, r * stride:r * stride + k, s * stride:s * stride + k].max()
    return y
