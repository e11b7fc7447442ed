"""The reusable scratch buffer: reuse, growth, and no aliasing of what layers return."""

import numpy as np

import nn
from nn import workspace


def test_scratch_reuses_and_grows_its_buffer():
    workspace.release()
    a = workspace.scratch("t", (4, 5), np.float32)
    b = workspace.scratch("t", (2, 3), np.float32)
    assert np.shares_memory(a, b)  # the same memory, reused
    c = workspace.scratch("t", (10, 10), np.float32)
    assert c.shape == (10, 10) and not np.shares_memory(a, c)  # grown: a new buffer
    d = workspace.scratch("t", (3,), np.float64)
    assert d.dtype == np.float64
    workspace.release()


def test_layers_return_arrays_that_later_calls_do_not_overwrite():
    rng = np.random.default_rng(0)
    layers = [nn.Conv2D(3, 4, 3, padding=1, rng=1), nn.Conv2D(4, 4, 3, padding=2, dilation=2, rng=2),
              nn.ConvTranspose2D(4, 3, 4, stride=2, padding=1, rng=3)]
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    outs, grads = [], []
    h = x
    for layer in layers:
        h = layer.forward(h)
        outs.append((h, h.copy()))
    g = rng.standard_normal(h.shape).astype(np.float32)
    for layer in reversed(layers):
        g = layer.backward(g)
        grads.append((g, g.copy()))
    # every layer has run again since the early results were made; they must be intact
    for kept, copy in outs + grads:
        np.testing.assert_array_equal(kept, copy)
    for layer in layers:
        for name, grad in layer.grads.items():
            assert np.isfinite(grad).all(), name


def test_release_drops_the_buffers():
    a = workspace.scratch("t", (4, 5), np.float32)
    workspace.release()
    b = workspace.scratch("t", (4, 5), np.float32)
    assert not np.shares_memory(a, b)  # a fresh buffer after release
    workspace.release()
