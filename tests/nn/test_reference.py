"""Fast conv / transposed conv / max-pool against the loop references, many settings."""

import numpy as np
import pytest

import nn
from nn.im2col import col2im, im2col
from tests.nn.reference import conv2d_loops, conv_transpose2d_loops, maxpool2d_loops

CONV_SETTINGS = [  # kernel, stride, padding, dilation
    (3, 1, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), (3, 2, 0, 2), (2, 2, 0, 1), (5, 1, 2, 1),
    (3, 3, 2, 2), (1, 1, 0, 1), (1, 2, 0, 1), (1, 1, 1, 1),
    # different values along height and width: a setting read from the wrong axis (the
    # height's padding, dilation or stride used for the width) shows
    ((3, 2), (1, 2), (1, 2), (2, 1)), ((2, 3), (2, 1), (0, 1), (1, 2)), (1, (1, 2), 0, 1),
    (1, (2, 1), 0, 1),
]


@pytest.mark.parametrize("k,s,p,d", CONV_SETTINGS)
def test_conv2d_matches_loops(k, s, p, d):
    rng = np.random.default_rng(21)
    layer = nn.Conv2D(3, 4, k, stride=s, padding=p, dilation=d, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 9, 8))
    expected = conv2d_loops(x, layer.params["W"], layer.params["b"], s, p, d)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)
    # backward is the adjoint of forward (without bias): <conv(x), g> == <x, conv'(g)>
    layer.params["b"][:] = 0
    g = rng.standard_normal(expected.shape)
    assert np.sum(layer.forward(x) * g) == pytest.approx(np.sum(x * layer.backward(g)), rel=1e-12)


@pytest.mark.parametrize("k,s,p,d", CONV_SETTINGS)
def test_col2im_is_the_adjoint_of_im2col(k, s, p, d):
    """<im2col(x), c> == <x, col2im(c)> for random x and c: col2im is the exact transpose."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 8))
    cols = im2col(x, k, s, p, d)
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(c, x.shape, k, s, p, d))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("k,s,p,d", [(3, 1, 0, 1), (3, 2, 1, 1), (4, 2, 1, 1), (3, 2, 0, 2),
                                     (2, 2, 0, 1), (1, 1, 0, 1), (3, 3, 1, 1)])
def test_conv_transpose2d_matches_loops(k, s, p, d):
    rng = np.random.default_rng(k * 100 + s * 10 + p + d)
    layer = nn.ConvTranspose2D(3, 2, k, stride=s, padding=p, dilation=d, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(2)
    x = rng.standard_normal((2, 3, 5, 4))
    expected = conv_transpose2d_loops(x, layer.params["W"], layer.params["b"], s, p, d)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_output_padding_matches_loops():
    rng = np.random.default_rng(3)
    layer = nn.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, rng=rng,
                               dtype=np.float64)
    x = rng.standard_normal((1, 2, 4, 4))
    y = layer.forward(x)
    assert y.shape == (1, 3, 8, 8)
    expected = conv_transpose2d_loops(x, layer.params["W"], layer.params["b"], 2, 1, 1, 1)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """With shared weights, <conv(x), y> == <x, convT(y)>: transposed conv is conv's backward."""
    rng = np.random.default_rng(11)
    conv = nn.Conv2D(3, 2, 3, stride=2, padding=1, bias=False, rng=rng, dtype=np.float64)
    tconv = nn.ConvTranspose2D(2, 3, 3, stride=2, padding=1, output_padding=1, bias=False,
                               dtype=np.float64)
    tconv.params["W"][...] = conv.params["W"]
    x = rng.standard_normal((2, 3, 8, 8))
    y = rng.standard_normal((2, 2, 4, 4))
    assert np.sum(conv.forward(x) * y) == pytest.approx(np.sum(x * tconv.forward(y)), rel=1e-12)


@pytest.mark.parametrize("k,s,size", [(2, 2, 8), (2, 2, 7), (3, 2, 9), (3, 1, 6), (2, 1, 5), (3, 3, 10)])
def test_maxpool_matches_loops(k, s, size):
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 3, size, size + 1))
    np.testing.assert_array_equal(nn.MaxPool2D(k, stride=s).forward(x), maxpool2d_loops(x, k, s))


def test_maxpool_backward_routes_to_the_max_and_accumulates_overlaps():
    x = np.array([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [6.0, 0.5, 0.25]]]])
    pool = nn.MaxPool2D(2, stride=1)
    y = pool.forward(x)
    np.testing.assert_array_equal(y, [[[[5.0, 5.0], [6.0, 4.0]]]])
    dx = pool.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, [[[[0, 2, 0], [0, 0, 1], [1, 0, 0]]]])


def test_conv_rejects_too_small_input_clearly():
    with pytest.raises(ValueError, match="too small"):
        nn.Conv2D(1, 1, 5).forward(np.zeros((1, 1, 3, 3), np.float32))


@pytest.mark.parametrize("kernel,stride", [((2, 3), None), ((3, 2), (1, 2)), ((2, 2), (2, 1))])
def test_maxpool_with_unequal_height_and_width_matches_loops(kernel, stride):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 9))
    (kh, kw), (sh, sw) = kernel, stride or kernel
    h_out, w_out = (7 - kh) // sh + 1, (9 - kw) // sw + 1
    loops = np.array([[[[x[i, c, r * sh:r * sh + kh, s * sw:s * sw + kw].max()
                         for s in range(w_out)] for r in range(h_out)]
                       for c in range(3)] for i in range(2)])
    pool = nn.MaxPool2D(kernel, stride=stride)
    y = pool.forward(x)
    np.testing.assert_array_equal(y, loops)
    # each output's gradient goes to one input that holds its value
    dx = pool.backward(np.ones_like(y))
    assert dx.sum() == y.size and np.isin(x[dx > 0], y).all()


def test_maxpool_routes_a_tied_maximum_to_the_first_element_of_the_window():
    x = np.array([[[[1.0, 3.0, 0.0, 2.0], [3.0, 3.0, 2.0, 2.0]]]])
    pool = nn.MaxPool2D(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[3.0, 2.0]]]])
    dx = pool.backward(np.array([[[[1.0, 1.0]]]]))
    # row-major order within a window: (0, 1) before (1, 0) and (1, 1), (0, 3) before (1, 2)
    # and (1, 3) (PyTorch's rule too)
    np.testing.assert_array_equal(dx, [[[[0, 1, 0, 1], [0, 0, 0, 0]]]])


@pytest.mark.parametrize("k,s,p,d,o", [((3, 2), (1, 2), (1, 0), (1, 2), (0, 1)),
                                       ((2, 3), (2, 3), (0, 1), (2, 1), (1, 2))])
def test_conv_transpose2d_with_unequal_height_and_width_settings_matches_loops(k, s, p, d, o):
    rng = np.random.default_rng(13)
    layer = nn.ConvTranspose2D(3, 2, k, stride=s, padding=p, dilation=d, output_padding=o,
                               rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(2)
    x = rng.standard_normal((2, 3, 5, 4))
    expected = conv_transpose2d_loops(x, layer.params["W"], layer.params["b"], s, p, d, o)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)


def test_conv_rejects_an_input_too_narrow_for_the_kernel_clearly():
    with pytest.raises(ValueError, match="input 8x2 is too small"):
        nn.Conv2D(1, 1, 3).forward(np.zeros((1, 1, 8, 2), np.float32))
