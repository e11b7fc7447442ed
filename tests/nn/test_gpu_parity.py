"""NumPy / CuPy parity of every layer, loss and optimizer step (skipped without a GPU)."""

import numpy as np
import pytest

import nn
from nn.backend import to_device, to_numpy

pytestmark = pytest.mark.gpu


def _layers():
    rng = np.random.default_rng(0)
    return [
        nn.Dense(12, 5, rng=rng),
        nn.Conv2D(3, 4, 3, padding=1, rng=rng),
        nn.Conv2D(3, 4, 3, padding=1, rng=rng, keep_columns=True),
        nn.Conv2D(3, 4, 3, stride=2, padding=2, dilation=2, rng=rng),
        nn.Conv2D(3, 4, 1, rng=rng),
        nn.Conv2D(3, 4, 1, stride=2, rng=rng),
        nn.ConvTranspose2D(3, 2, 4, stride=2, padding=1, rng=rng),
        nn.MaxPool2D(2), nn.MaxPool2D(3, stride=2), nn.Upsample2D(2), nn.BatchNorm2D(3),
        nn.ReLU(), nn.LeakyReLU(), nn.Tanh(), nn.Sigmoid(), nn.Softmax(), nn.Flatten(),
        nn.Reshape((3, 64)),
        nn.Residual(nn.Conv2D(3, 3, 3, padding=1, rng=rng)),
        nn.SkipConcat(nn.Sequential(nn.MaxPool2D(2), nn.Conv2D(3, 2, 3, padding=1, rng=rng),
                                    nn.Upsample2D(2))),
    ]


@pytest.mark.parametrize("layer", _layers(), ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("training", [True, False])
def test_layer_forward_backward_parity(layer, training):
    rng = np.random.default_rng(1)
    shape = (4, 12) if isinstance(layer, nn.Dense) else (2, 3, 8, 8)
    x = rng.standard_normal(shape).astype(np.float32)
    cpu = layer.train(training)
    y_cpu = cpu.forward(x)
    dout = rng.standard_normal(y_cpu.shape).astype(np.float32)
    dx_cpu = cpu.backward(dout)
    grads_cpu = {name: np.array(g) for name, _, g in cpu.parameters()}
    gpu = layer.to("gpu")
    try:
        y_gpu = gpu.forward(to_device(x, "gpu"))
        dx_gpu = gpu.backward(to_device(dout, "gpu"))
        assert y_gpu.dtype == np.float32 and dx_gpu.dtype == np.float32
        np.testing.assert_allclose(to_numpy(y_gpu), y_cpu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(to_numpy(dx_gpu), dx_cpu, rtol=1e-4, atol=1e-5)
        for name, _, g in gpu.parameters():
            np.testing.assert_allclose(to_numpy(g), grads_cpu[name], rtol=1e-4, atol=1e-4,
                                       err_msg=name)
    finally:
        # the layer object is shared by the next parametrization: a failure here must not
        # leave it on the GPU, where that case would fail for this one's reason
        layer.to("cpu")


def test_dropout_on_gpu_is_seeded_and_inverted():
    x = to_device(np.ones((100, 100), np.float32), "gpu")
    a, b = nn.Dropout(0.25, seed=2), nn.Dropout(0.25, seed=2)
    ya = a.forward(x)
    np.testing.assert_array_equal(to_numpy(ya), to_numpy(b.forward(x)))
    kept = to_numpy(ya) != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(to_numpy(ya)[kept], 1 / 0.75, rtol=1e-6)


@pytest.mark.parametrize("loss,target_kind", [
    (nn.MSELoss(), "real"), (nn.L1Loss(), "real"), (nn.SmoothL1Loss(0.5), "real"),
    (nn.SoftmaxCrossEntropyLoss(), "int"), (nn.SoftmaxCrossEntropyLoss([1.0, 2.0, 0.5]), "int"),
    (nn.SoftmaxCrossEntropyLoss([1.0, 2.0, 0.5]), "soft"),
    (nn.SoftmaxCrossEntropyLoss([1.0, 2.0, 0.5]), "sparse"),
])
def test_loss_parity(loss, target_kind):
    rng = np.random.default_rng(3)
    pred = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    if target_kind == "int":
        target = rng.integers(0, 3, size=(2, 4, 4))
    elif target_kind == "soft":
        target = rng.random((2, 3, 4, 4)).astype(np.float32)
        target /= target.sum(axis=1, keepdims=True)
    elif target_kind == "sparse":  # two classes per pixel, the second slot sometimes repeats
        target = (rng.integers(0, 3, size=(2, 2, 4, 4)), rng.random((2, 2, 4, 4)).astype(np.float32))
    else:
        target = rng.standard_normal(pred.shape).astype(np.float32)
    value_cpu, grad_cpu = float(loss.forward(pred, target)), loss.backward()
    on_gpu = (tuple(to_device(t, "gpu") for t in target) if target_kind == "sparse"
              else to_device(target, "gpu"))
    value_gpu = loss.forward(to_device(pred, "gpu"), on_gpu)
    grad_gpu = loss.backward()
    assert float(value_gpu) == pytest.approx(value_cpu, rel=1e-5)
    np.testing.assert_allclose(to_numpy(grad_gpu), grad_cpu, rtol=1e-4, atol=1e-7)


def _tanh_toy(seed, n=32):
    """(n, 1, 8, 8) float32 inputs and their tanh: a small regression to fit on both devices."""
    x = np.random.default_rng(seed).standard_normal((n, 1, 8, 8)).astype(np.float32)
    return x, np.tanh(x).astype(np.float32)


def test_fit_on_gpu_matches_cpu_losses():
    x, y = _tanh_toy(4)
    histories = []
    for device in ("cpu", "gpu"):
        model = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1, rng=0), nn.Tanh(),
                              nn.Conv2D(4, 1, 1, rng=1)).to(device)
        histories.append(nn.fit(model, nn.MSELoss(), nn.Adam(model, 1e-2), x, y, epochs=3,
                                batch_size=8, x_val=x[:8], y_val=y[:8], progress=False))
    np.testing.assert_allclose(histories[1]["train_loss"], histories[0]["train_loss"], rtol=1e-3)


def _small_net(device):
    return nn.Sequential(nn.Conv2D(1, 4, 3, padding=1, rng=0), nn.BatchNorm2D(4), nn.Tanh(),
                         nn.Conv2D(4, 1, 1, rng=1)).to(device)


def test_nesterov_sgd_and_the_weight_average_train_on_gpu_like_on_cpu():
    x, y = _tanh_toy(5)
    runs = []
    for device in ("cpu", "gpu"):
        model = _small_net(device)
        history = nn.fit(model, nn.MSELoss(), nn.SGD(model, 0.05, momentum=0.9, nesterov=True),
                         x, y, epochs=3, batch_size=8, x_val=x[:8], y_val=y[:8],
                         progress=False, ema_decay=0.9)
        runs.append((history, {k: to_numpy(v) for k, v in model.state_dict().items()}))
    (cpu, cpu_state), (gpu, gpu_state) = runs
    np.testing.assert_allclose(gpu["train_loss"], cpu["train_loss"], rtol=1e-3)
    np.testing.assert_allclose(gpu["val_loss"], cpu["val_loss"], rtol=1e-3)
    for name in cpu_state:
        np.testing.assert_allclose(gpu_state[name], cpu_state[name], rtol=1e-3, atol=1e-5,
                                   err_msg=name)


def test_fit_takes_training_data_already_on_the_gpu():
    x, y = _tanh_toy(6, n=16)
    losses = []
    for data in ((x, y), (to_device(x, "gpu"), to_device(y, "gpu"))):
        model = _small_net("gpu")
        losses.append(nn.fit(model, nn.MSELoss(), nn.Adam(model, 1e-2), *data, epochs=2,
                             batch_size=4, progress=False)["train_loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_summary_of_a_model_on_the_gpu_leaves_it_there():
    model = _small_net("gpu")
    text = model.summary(input_shape=(1, 8, 8))
    assert "Conv2D" in text and model.device == "gpu"


def test_summary_leaves_dropout_drawing_on_the_gpu_as_before():
    # the probe copy used to share a cupy RandomState's cuRAND handle and destroy it when
    # collected, so the model's next draw used a dead generator
    x = to_device(np.ones((4, 2, 8, 8), np.float32), "gpu")
    draws = []
    for summarise in (False, True):
        model = nn.Sequential(nn.Conv2D(2, 3, 3, padding=1, rng=0), nn.Dropout(0.5, seed=3)).to("gpu")
        first = to_numpy(model.forward(x))
        if summarise:
            model.summary(input_shape=(2, 8, 8))
            import gc

            gc.collect()
        draws.append((first, to_numpy(model.forward(x))))
    np.testing.assert_array_equal(draws[1][0], draws[0][0])
    np.testing.assert_array_equal(draws[1][1], draws[0][1])
