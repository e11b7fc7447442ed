"""Layer behaviour beyond gradients: dtype, no mutation, train vs eval, shapes."""

import numpy as np
import pytest

import nn
from nn.gradcheck import TOLERANCE, check_layer, distinct_values


def _layers():
    rng = np.random.default_rng(0)
    return [
        (nn.Dense(12, 5, rng=rng), (4, 12)),
        (nn.Conv2D(3, 4, 3, padding=1, rng=rng), (2, 3, 8, 8)),
        (nn.Conv2D(3, 4, 3, stride=2, dilation=2, padding=2, rng=rng), (2, 3, 8, 8)),
        (nn.Conv2D(3, 4, 1, rng=rng), (2, 3, 8, 8)),
        (nn.Conv2D(3, 4, 3, padding=1, rng=rng, keep_columns=True), (2, 3, 8, 8)),
        (nn.ConvTranspose2D(3, 2, 4, stride=2, padding=1, rng=rng), (2, 3, 8, 8)),
        (nn.MaxPool2D(2), (2, 3, 8, 8)),
        (nn.Upsample2D(2), (2, 3, 8, 8)),
        (nn.BatchNorm2D(3), (2, 3, 8, 8)),
        (nn.Dropout(0.5, seed=0), (2, 3, 8, 8)),
        (nn.ReLU(), (2, 3, 8, 8)),
        (nn.LeakyReLU(), (2, 3, 8, 8)),
        (nn.Tanh(), (2, 3, 8, 8)),
        (nn.Sigmoid(), (2, 3, 8, 8)),
        (nn.Softmax(), (2, 3, 8, 8)),
        (nn.Flatten(), (2, 3, 8, 8)),
        (nn.Reshape((3, 64)), (2, 3, 8, 8)),
        (nn.Residual(nn.Conv2D(3, 3, 3, padding=1, rng=rng)), (2, 3, 8, 8)),
        (nn.SkipConcat(nn.Conv2D(3, 2, 3, padding=1, rng=rng)), (2, 3, 8, 8)),
    ]


@pytest.mark.parametrize("layer,shape", _layers(), ids=lambda v: type(v).__name__)
def test_float32_stays_float32_and_inputs_are_not_mutated(layer, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    x_copy = x.copy()
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(x, x_copy)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dout_copy = dout.copy()
    dx = layer.backward(dout)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_array_equal(dout, dout_copy)
    np.testing.assert_array_equal(x, x_copy)
    for name, param, grad in layer.parameters():
        assert grad is not None and grad.dtype == np.float32 and grad.shape == param.shape, name


def test_backward_overwrites_gradients():
    rng = np.random.default_rng(2)
    layer = nn.Dense(3, 2, rng=rng)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer.forward(x)
    layer.backward(np.ones((4, 2), np.float32))
    first = layer.grads["W"].copy()
    layer.forward(x)
    layer.backward(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(layer.grads["W"], first)


def test_conv_output_shapes_follow_the_formula():
    x = np.zeros((1, 2, 11, 9), np.float32)
    y = nn.Conv2D(2, 3, 3, stride=2, padding=1, dilation=2).forward(x)
    assert y.shape == (1, 3, (11 + 2 - 4 - 1) // 2 + 1, (9 + 2 - 4 - 1) // 2 + 1)
    assert nn.ConvTranspose2D(2, 3, 4, stride=2, padding=1).forward(x).shape == (1, 3, 22, 18)


def test_transposed_conv_refuses_an_output_the_padding_empties():
    # (3 - 1) * 1 - 2 * 2 + 0 + 1 = -1 rows: refused, rather than an empty array
    with pytest.raises(ValueError, match="output would be -1x1"):
        nn.ConvTranspose2D(1, 1, 1, padding=2).forward(np.ones((1, 1, 3, 5), np.float32))


def test_dropout_train_masks_and_scales_eval_is_identity():
    x = np.ones((200, 50), np.float32)
    layer = nn.Dropout(0.3, seed=4)
    y = layer.forward(x)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(layer.backward(x), y)
    assert layer.eval().forward(x) is x


def test_dropout_is_deterministic_under_a_seed():
    x = np.ones((10, 10), np.float32)
    a, b = nn.Dropout(0.5, seed=3), nn.Dropout(0.5, seed=3)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))  # the stream moves on
    a.reset_rng()
    np.testing.assert_array_equal(a.forward(x), first)


def test_dropout_without_a_seed_replays_its_masks_after_reset_and_passes_the_gradient_check():
    x = np.ones((10, 10), np.float32)
    layer = nn.Dropout(0.5)
    first = layer.forward(x)
    layer.reset_rng()
    np.testing.assert_array_equal(layer.forward(x), first)
    assert not np.array_equal(nn.Dropout(0.5).forward(x), first)  # each layer its own seed
    assert check_layer(nn.Dropout(0.3), np.random.default_rng(0).standard_normal((3, 4)))["x"] < TOLERANCE


def test_dropout_edge_probabilities():
    x = np.ones((4, 4), np.float32)
    np.testing.assert_array_equal(nn.Dropout(0.0).forward(x), x)
    np.testing.assert_array_equal(nn.Dropout(1.0, seed=0).forward(x), 0)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_batchnorm_train_statistics_and_running_update_match_pytorch_rules():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 3, 5, 5)) * [[[[2.0]], [[0.5]], [[1.0]]]] + 3).astype(np.float64)
    bn = nn.BatchNorm2D(3, momentum=0.1).astype(np.float64)
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)  # eps = 1e-5
    m = 4 * 5 * 5
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    assert {name for name, _, _ in bn.parameters()} == {"gamma", "beta"}
    assert set(bn.state_dict()) == {"gamma", "beta", "running_mean", "running_var"}


def test_batchnorm_eval_uses_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(6)
    bn = nn.BatchNorm2D(2)
    for _ in range(30):
        bn.forward((rng.standard_normal((8, 2, 4, 4)) * 2 + 5).astype(np.float32))
    mean, var = bn.buffers["running_mean"].copy(), bn.buffers["running_var"].copy()
    bn.eval()
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(bn.forward(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.buffers["running_mean"], mean)
    assert abs(mean.mean() - 5) < 0.3 and abs(var.mean() - 4) < 0.6


def test_batchnorm_matches_torch_in_train_and_eval():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    ours, ref = nn.BatchNorm2D(4), torch.nn.BatchNorm2d(4)
    for _ in range(3):
        np.testing.assert_allclose(ours.forward(x), ref(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.buffers["running_var"], ref.running_var.numpy(), rtol=1e-5)
    ours.eval(), ref.eval()
    np.testing.assert_allclose(ours.forward(x), ref(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_sigmoid_and_softmax_are_stable_for_large_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(nn.Sigmoid().forward(x), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(nn.Softmax(axis=1).forward(x), [[0.0, 0.0, 1.0]])


def test_sigmoid_keeps_relative_precision_far_below_zero():
    x = np.array([-10.0, -17.0, -30.0, -80.0], np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(nn.Sigmoid().forward(x), exact, rtol=1e-6)


def test_relu_maps_minus_infinity_to_zero_and_keeps_nan():
    y = nn.ReLU().forward(np.array([-np.inf, -1.0, np.nan, 2.0, np.inf], np.float32))
    np.testing.assert_array_equal(y, [0.0, 0.0, np.nan, 2.0, np.inf])
    assert y.dtype == np.float32


def test_maxpool_passes_a_nan_on():
    x = np.array([[[[1.0, np.nan], [0.0, 2.0]]]], np.float32)
    assert np.isnan(nn.MaxPool2D(2).forward(x)[0, 0, 0, 0])


def test_upsample_repeats_blocks_and_backward_sums_them():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    layer = nn.Upsample2D(2)
    y = layer.forward(x)
    np.testing.assert_array_equal(y[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), np.full((1, 1, 2, 2), 4.0))


def test_reshape_keeps_the_batch_and_the_order_of_each_samples_values():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    for layer, shape in ((nn.Reshape((4, -1)), (2, 4, 6)), (nn.Reshape((6, 4)), (2, 6, 4)),
                         (nn.Flatten(), (2, 24))):
        y = layer.forward(x)
        np.testing.assert_array_equal(y, x.reshape(shape))
        np.testing.assert_array_equal(layer.backward(y), x)


def test_maxpool_on_distinct_values_picks_the_window_max():
    x = distinct_values((1, 1, 4, 4), np.random.default_rng(0))
    y = nn.MaxPool2D(2).forward(x)
    windows = x.reshape(1, 1, 2, 2, 2, 2)  # (n, c, row block, row, column block, column)
    np.testing.assert_array_equal(y, windows.max(axis=(3, 5)))


def test_residual_and_skipconcat_accumulate_both_paths():
    x = np.ones((1, 2, 3, 3))
    res = nn.Residual(nn.Sequential(nn.LeakyReLU(2.0)))  # body(x) = x for x > 0
    np.testing.assert_array_equal(res.forward(x), 2 * x)
    np.testing.assert_array_equal(res.backward(np.ones_like(x)), 2 * x)
    skip = nn.SkipConcat(nn.Conv2D(2, 1, 1, bias=False, dtype=np.float64))
    skip.body.params["W"][...] = 3.0
    y = skip.forward(x)
    assert y.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(y[:, 2], 6.0)
    dx = skip.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, 1 + 3.0)


@pytest.mark.parametrize("layer,shape", _layers(), ids=lambda v: type(v).__name__)
def test_backward_before_forward_says_so(layer, shape):
    dout = np.ones(shape, np.float32)
    with pytest.raises(RuntimeError, match=r"\.backward was called before forward"):
        layer.backward(dout)


@pytest.mark.parametrize("layer,shape", _layers(), ids=lambda v: type(v).__name__)
def test_backward_refuses_a_gradient_that_is_not_the_output_shape(layer, shape):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    y = layer.forward(x)
    # (..., 1) broadcasts against y in NumPy, so without the check many layers would return
    # a wrong gradient of some shape instead of failing
    wrong = np.ones(y.shape[:-1] + (1,), np.float32)
    with pytest.raises(ValueError, match=r"backward got dL/dy of shape .*forward returned"):
        layer.backward(wrong)
    assert layer.backward(np.ones_like(y)).shape == x.shape


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Conv2D(1, 2, 3, padding="same"), "padding must be a whole number"),
    (lambda: nn.Conv2D(1, 2, 3, stride=0), "stride must be a whole number of at least 1"),
    (lambda: nn.Conv2D(0, 2, 3), "Conv2D needs in_channels"),
    (lambda: nn.ConvTranspose2D(2, 2, 2.5), "kernel_size must be a whole number"),
    (lambda: nn.Conv2D(1, 2, True), "kernel_size must be a whole number"),
    (lambda: nn.Dense(np.True_, 3), "Dense needs in_features"),
    (lambda: nn.ConvTranspose2D(1, 1, 3, stride=2, output_padding=2),
     "output_padding must be smaller than the stride"),
    (lambda: nn.ConvTranspose2D(1, 1, 3, stride=(2, 1), output_padding=(1, 1)),
     "output_padding must be smaller than the stride"),
    (lambda: nn.Conv2D(3, 2, 3).forward(np.zeros((1, 4, 8, 8), np.float32)),
     r"Conv2D expects \(N, 3, H, W\), got \(1, 4, 8, 8\)"),
    (lambda: nn.Conv2D(2, 2, 1).forward(np.zeros((1, 4, 2, 2), np.float32)),
     r"Conv2D expects \(N, 2, H, W\), got \(1, 4, 2, 2\)"),
    (lambda: nn.Dense(2.5, 3), "Dense needs in_features"),
    (lambda: nn.MaxPool2D((2, 2, 2)), "kernel_size must be"),
    (lambda: nn.MaxPool2D(2).forward(np.zeros((2, 8, 8))), r"MaxPool2D expects \(N, C, H, W\)"),
    (lambda: nn.Upsample2D(2).forward(np.zeros((8, 8))), r"Upsample2D expects \(N, C, H, W\)"),
    (lambda: nn.Dense(64, 3).forward(np.zeros((2, 1, 8, 8))), "needs nn.Flatten"),
    (lambda: nn.Upsample2D(1.5), "Upsample2D needs scale to be a whole number"),
    (lambda: nn.Softmax().forward(np.zeros(5)), r"Softmax\(axis=1\) needs an input with that axis"),
    (lambda: nn.BatchNorm2D(2.5), "BatchNorm2D needs channels to be a whole number"),
    (lambda: nn.BatchNorm2D(0), "BatchNorm2D needs channels to be a whole number of at least 1"),
    (lambda: nn.Reshape((5, -1)).forward(np.zeros((2, 3, 4))), r"cannot turn samples of shape \(3, 4\)"),
    (lambda: nn.Reshape((0, -1)).forward(np.zeros((2, 3))), r"cannot turn samples of shape \(3,\)"),
])
def test_bad_sizes_and_shapes_are_named_where_they_are_given(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_sizes_given_as_numpy_integers_or_whole_floats_are_accepted():
    layer = nn.Conv2D(np.int64(2), 3, 3.0, stride=(1, np.int32(2)))
    assert layer.kernel_size == (3, 3) and layer.stride == (1, 2) and layer.in_channels == 2


@pytest.mark.parametrize("layer,shape", _layers() + [(nn.Reshape((3, -1)), (2, 3, 8, 8))],
                         ids=lambda v: type(v).__name__)
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(layer, shape):
    layer.train()
    if isinstance(layer, nn.BatchNorm2D):
        layer.eval()  # training mode needs two values per channel, and says so
    x = np.zeros((0,) + shape[1:], np.float32)
    y = layer.forward(x)
    assert y.shape[0] == 0
    assert layer.backward(np.zeros_like(y)).shape == x.shape
    for name, _, grad in layer.parameters():
        assert not np.any(grad), name


def _unit_weights(layer):
    layer.params["W"][...] = 1
    return layer


@pytest.mark.parametrize("layer, x, expected", [
    (nn.BatchNorm2D(1), np.array([[1], [2], [3], [4]]), (np.arange(1, 5) - 2.5) / np.sqrt(1.25 + 1e-5)),
    (nn.Sigmoid(), np.array([0, 1, 255], np.uint8), 1 / (1 + np.exp(-np.array([0.0, 1.0, 255.0])))),
    (nn.LeakyReLU(0.5), np.array([-2, 4]), np.array([-1.0, 4.0])),
    # uint8 x - max(x) would wrap around; tanh of uint8 would be float16
    (nn.Softmax(), np.array([[0, 1, 2]], np.uint8),
     np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()),
    (nn.Tanh(), np.array([0, 1, 3], np.uint8), np.tanh([0.0, 1.0, 3.0])),
    (_unit_weights(nn.ConvTranspose2D(1, 1, 1, bias=False)), np.array([[[[2, 200]]]], np.uint8),
     np.array([2.0, 200.0])),
], ids=["BatchNorm2D", "Sigmoid", "LeakyReLU", "Softmax", "Tanh", "ConvTranspose2D"])
def test_integer_input_is_computed_in_floating_point(layer, x, expected):
    y = layer.forward(x)
    assert y.dtype.kind == "f" and y.dtype.itemsize >= 4
    np.testing.assert_allclose(y.ravel(), expected, rtol=1e-5)


def test_training_dropout_and_strided_pointwise_conv_take_integer_and_half_input():
    drop = nn.Dropout(0.5, seed=0)
    assert drop.forward(np.ones((4, 5), np.uint8)).dtype == np.float32
    assert drop.forward(np.ones((4, 5), np.float16)).dtype == np.float16
    conv = nn.Conv2D(1, 1, 1, stride=2, bias=False)
    conv.params["W"][:] = -0.5
    y = conv.forward(np.full((1, 1, 4, 4), 100, np.uint8))
    dx = conv.backward(np.ones(y.shape, np.float32))
    # the gradient is -0.5 where the stride samples, 0 between: not cast back to uint8
    assert dx.dtype == np.float32 and dx[0, 0, 0, 0] == -0.5 and dx[0, 0, 1, 1] == 0


@pytest.mark.parametrize("layer", [nn.Conv2D(1, 1, 3), nn.ConvTranspose2D(1, 1, 3), nn.Dense(3, 2),
                                   nn.BatchNorm2D(1), nn.Softmax(), nn.MaxPool2D(2)],
                         ids=lambda layer: type(layer).__name__)
def test_a_list_for_an_array_is_refused_with_the_expected_shape(layer):
    with pytest.raises(ValueError, match="got (shape )?list"):
        layer.forward([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("shape", [(2, 3, 6, 1), (4, 8, 16, 1), (2, 3, 1, 5), (2, 3, 6, 7), (1, 1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_upsample_backward_has_the_bits_of_the_block_sum(shape, dtype):
    layer = nn.Upsample2D(2)
    n, c, h, w = shape
    layer.forward(np.zeros(shape, dtype))
    rng = np.random.default_rng(0)
    dout = (rng.standard_normal((n, c, 2 * h, 2 * w)) * 10.0 ** rng.integers(-3, 4, (n, c, 2 * h, 2 * w))).astype(dtype)
    expected = dout.reshape(n, c, h, 2, w, 2).sum(axis=(3, 5))
    got = layer.backward(dout)
    assert got.dtype == dtype and np.array_equal(got, expected)
    wider = np.zeros((n, 2 * c) + dout.shape[2:], dtype)
    wider[:, ::2] = dout
    sliced = wider[:, ::2]  # a channel slice, as the U-Net's skips hand it on
    assert np.array_equal(layer.backward(sliced), sliced.reshape(n, c, h, 2, w, 2).sum(axis=(3, 5)))


def test_relu_and_leaky_relu_gradients_at_the_kink_and_the_default_slope():
    x = np.array([[-2.0, 0.0, 3.0]], np.float32)
    relu = nn.ReLU()
    np.testing.assert_array_equal(relu.forward(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), [[0.0, 0.0, 1.0]])  # as PyTorch
    leaky = nn.LeakyReLU()
    assert leaky.negative_slope == 0.01  # PyTorch's default
    np.testing.assert_allclose(leaky.forward(x), [[-0.02, 0.0, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(leaky.backward(np.ones_like(x)), [[0.01, 0.01, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 2, -1])
def test_softmax_along_another_axis_sums_to_one_and_passes_the_gradient_check(axis):
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    y = nn.Softmax(axis=axis).forward(x)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)
    assert check_layer(nn.Softmax(axis=axis), x)["x"] < TOLERANCE


def test_dense_weights_default_to_he_normal():
    from nn.init import he_normal

    layer = nn.Dense(50, 40, rng=7)
    np.testing.assert_array_equal(layer.params["W"], he_normal((50, 40), 50, rng=7))
    np.testing.assert_array_equal(layer.params["b"], np.zeros(40, np.float32))


def test_dropout_mask_is_the_documented_draw_of_the_seeded_generator():
    # mask = [u >= p] with u from NumPy's PCG64 seeded with ``seed``: the masks of a seed
    # (and so training runs) stay reproducible across versions
    x = np.ones((6, 7))
    y = nn.Dropout(0.3, seed=9).forward(x)
    keep = np.random.default_rng(9).random((6, 7)) >= 0.3
    np.testing.assert_allclose(y, keep / 0.7, rtol=1e-15)


def test_kept_columns_give_the_same_outputs_and_gradients_bit_for_bit():
    rng = np.random.default_rng(3)
    plain, kept = (nn.Conv2D(3, 4, 3, padding=2, dilation=2, rng=np.random.default_rng(0),
                             keep_columns=keep) for keep in (False, True))
    other = nn.Conv2D(3, 5, 3, padding=1, rng=rng)
    x = rng.standard_normal((3, 2, 3, 9, 7)).astype(np.float32)
    dout = rng.standard_normal((2, 4, 9, 7)).astype(np.float32)
    assert "keep_columns=True" in repr(kept) and "keep_columns" not in repr(plain)
    for step in range(2):  # the second step reuses the kept buffer
        results = []
        for layer in (plain, kept):
            layer.forward(x[0])
            y = layer.forward(x[1 + step])  # backward belongs to the latest forward
            # another layer's forward fills the shared column scratch in between, as the next
            # layer of a network does
            other.forward(rng.standard_normal((2, 3, 11, 11)).astype(np.float32))
            dx = layer.backward(dout)
            results.append([y, dx, layer.grads["W"].copy(), layer.grads["b"].copy()])
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)
    assert kept._kept is not None
    kept.eval()
    kept.forward(x[0])
    assert kept._kept is None  # eval mode keeps nothing ...
    plain.eval()
    plain.forward(x[0])
    # ... and backward then rebuilds the columns of that forward's input
    np.testing.assert_array_equal(kept.backward(dout), plain.backward(dout))


def test_kept_columns_spare_backward_its_im2col_in_training_only(monkeypatch):
    import nn.layers.conv as conv

    calls = []
    im2col = conv.im2col
    monkeypatch.setattr(conv, "im2col", lambda *a, **k: calls.append(1) or im2col(*a, **k))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    dout = np.ones((2, 4, 8, 8), np.float32)
    for keep, training, expected in ((False, True, 2), (True, True, 1), (True, False, 2)):
        layer = nn.Conv2D(3, 4, 3, padding=1, rng=np.random.default_rng(0), keep_columns=keep)
        layer.train(training)
        calls.clear()
        layer.forward(x)
        layer.backward(dout)
        assert len(calls) == expected, (keep, training)


def test_conv_layers_without_bias_have_no_bias_parameter():
    for layer in (nn.Conv2D(2, 3, 3, bias=False), nn.ConvTranspose2D(2, 3, 3, bias=False)):
        assert list(layer.params) == ["W"]
        layer.forward(np.ones((1, 2, 5, 5), np.float32))
        assert list(layer.grads) == [] and layer.num_parameters() == 2 * 3 * 9


def test_transposed_conv_he_init_uses_the_fan_in_divided_by_both_strides():
    # each output pixel sees about C_in * kh * kw / (sh * sw) inputs: 64 * 9 // 2 = 288
    layer = nn.ConvTranspose2D(64, 64, 3, stride=(1, 2), rng=0)
    assert layer.params["W"].std() == pytest.approx(np.sqrt(2 / 288), rel=0.03)
