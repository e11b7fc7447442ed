"""Slow, obvious loop implementations that the fast layers are compared with."""

import math

import numpy as np


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def conv2d_loops(x, w, b, stride, padding, dilation):
    """Direct cross-correlation: x (N, C, H, W), w (F, C, kh, kw) -> (N, F, H_out, W_out).
    ``stride``, ``padding`` and ``dilation`` are ints or (height, width) pairs."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    h_out = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
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
                                          * xp[i_n, ch, r * sh + i * dh, s * sw + j * dw])
                    y[i_n, i_f, r, s] = total
    return y


def conv_transpose2d_loops(x, w, b, stride, padding, dilation, output_padding=0):
    """Scatter form: every input pixel adds ``x * W`` into the output window it maps to.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw) -> (N, C_out, H_out, W_out). The settings are
    ints or (height, width) pairs.
    """
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oh, ow = _pair(output_padding)
    h_out = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    w_out = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    full = np.zeros((n, c_out, h_out + 2 * ph + sh, w_out + 2 * pw + sw))
    for i_n in range(n):
        for ci in range(c_in):
            for r in range(h):
                for s in range(wd):
                    for co in range(c_out):
                        for i in range(kh):
                            for j in range(kw):
                                full[i_n, co, r * sh + i * dh, s * sw + j * dw] += (
                                    x[i_n, ci, r, s] * w[ci, co, i, j])
    y = full[:, :, ph:ph + h_out, pw:pw + w_out]
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


def sgd_loops(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """PyTorch's documented SGD update, one scalar at a time: p0 (n,), grads (steps, n)."""
    p = [float(v) for v in p0]
    buf = [None] * len(p)
    for g_step in grads:
        for i, g in enumerate(g_step):
            g = float(g) + weight_decay * p[i]
            if momentum != 0:
                buf[i] = g if buf[i] is None else momentum * buf[i] + (1 - dampening) * g
                g = g + momentum * buf[i] if nesterov else buf[i]
            p[i] -= lr * g
    return np.array(p)


def adam_loops(p0, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """PyTorch's documented Adam update (L2 weight decay, bias-corrected moments), per scalar."""
    b1, b2 = betas
    p = [float(v) for v in p0]
    m = [0.0] * len(p)
    v = [0.0] * len(p)
    for t, g_step in enumerate(grads, start=1):
        for i, g in enumerate(g_step):
            g = float(g) + weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = v[i] / (1 - b2 ** t)
            p[i] -= lr * m_hat / (v_hat ** 0.5 + eps)
    return np.array(p)


def cross_entropy_loops(logits, target, weights=None):
    """Mean softmax cross-entropy over N and the spatial positions, as PyTorch defines it.

    logits (N, C, H, W); target (N, H, W) class indices (weighted mean: divided by the sum of
    the targets' weights) or (N, C, H, W) probabilities (plain mean over N*H*W positions).
    """
    n, c, h, w = logits.shape
    weights = [1.0] * c if weights is None else [float(v) for v in weights]
    total, norm = 0.0, 0.0
    for a in range(n):
        for y in range(h):
            for x in range(w):
                z = [float(logits[a, k, y, x]) for k in range(c)]
                top = max(z)
                log_sum = top + math.log(sum(math.exp(v - top) for v in z))
                if target.ndim == 3:
                    k = int(target[a, y, x])
                    total += weights[k] * (log_sum - z[k])
                    norm += weights[k]
                else:
                    total += sum(weights[k] * float(target[a, k, y, x]) * (log_sum - z[k])
                                 for k in range(c))
                    norm += 1.0
    return total / norm
