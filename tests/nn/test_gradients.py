"""Numerical gradient checks (float64, five-point centred differences) of every layer,
container and loss; smooth pieces must agree to better than 1e-6."""

import numpy as np
import pytest

import nn
from nn.gradcheck import (
    SEED,
    TOLERANCE,
    cases,
    check_layer,
    check_loss,
    check_model,
    relative_error,
    table_rows,
)

LAYERS, LOSSES = cases(np.random.default_rng(SEED))


@pytest.mark.parametrize("label,layer,x", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_gradients(label, layer, x):
    errors = check_layer(layer, x, seed=1)
    assert set(errors) == {"x"} | {name for name, _, _ in layer.parameters()}
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("label,loss,data", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_gradients(label, loss, data):
    pred, target = data
    assert check_loss(loss, pred, target) < TOLERANCE


def test_whole_model_gradients_through_a_loss():
    # No bias before batch-norm: its gradient is exactly 0 and only rounding noise remains.
    rng = np.random.default_rng(5)
    model = nn.Sequential(
        nn.Conv2D(2, 4, 3, padding=1, bias=False, rng=rng), nn.BatchNorm2D(4), nn.LeakyReLU(0.1),
        nn.SkipConcat(nn.Sequential(nn.MaxPool2D(2), nn.Conv2D(4, 4, 3, padding=1, rng=rng),
                                    nn.Tanh(), nn.ConvTranspose2D(4, 2, 2, stride=2, rng=rng))),
        nn.Residual(nn.Sequential(nn.Conv2D(6, 6, 3, padding=2, dilation=2, rng=rng), nn.Sigmoid())),
        nn.Conv2D(6, 3, 1, rng=rng),
    )
    x = rng.standard_normal((2, 2, 4, 4))
    y = rng.integers(0, 3, size=(2, 4, 4))
    errors = check_model(model, nn.SoftmaxCrossEntropyLoss(weights=[1.0, 2.0, 0.5]), x, y)
    assert len(errors) == 1 + len(list(model.parameters()))
    assert max(errors.values()) < TOLERANCE, errors


def test_relative_error_is_the_cs231n_formula():
    a, n = np.array([1.0, 0.0, -2.0]), np.array([1.1, 0.0, -2.0])
    assert relative_error(a, n) == pytest.approx(0.1 / 2.1)
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


def test_a_gradient_that_is_not_a_number_fails_every_tolerance(monkeypatch, capsys):
    assert relative_error(np.array([1.0, np.nan]), np.array([1.0, 0.5])) == np.inf
    assert relative_error(np.array([1.0, 2.0]), np.array([np.inf, 2.0])) == np.inf
    from nn import gradcheck

    backward = nn.Conv2D.backward

    def nan_backward(self, dout):
        dx = backward(self, dout)
        dx[0] = np.nan
        return dx

    monkeypatch.setattr(nn.Conv2D, "backward", nan_backward)
    assert gradcheck.main([]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_gradcheck_catches_a_wrong_backward():
    class WrongTanh(nn.Tanh):
        def backward(self, dout):
            return dout * (1 - self._y)  # deliberately wrong

    x = np.random.default_rng(0).standard_normal((3, 4))
    assert check_layer(WrongTanh(), x)["x"] > 1e-2


def test_printed_table_has_one_row_per_case_and_names_its_worst_entry():
    rows = table_rows()
    assert [r[0] for r in rows] == [c[0] for c in LAYERS] + [c[0] for c in LOSSES]
    for (label, layer, _), (_, where, err) in zip(LAYERS, rows):
        assert where in {"x"} | {name for name, _, _ in layer.parameters()}
        assert 0 <= err < TOLERANCE, (label, where, err)


def test_command_marks_each_check_and_fails_with_status_1_when_one_is_off(monkeypatch, capsys):
    from nn import gradcheck

    assert gradcheck.main([]) == 0
    assert "checks, all pass (tolerance 1e-06)" in capsys.readouterr().out
    monkeypatch.setattr(gradcheck, "table_rows",
                        lambda seed: [("Good", "x", 1e-12), ("Bad", "W", 0.5)])
    assert gradcheck.main([]) == 1
    out = capsys.readouterr().out
    assert "Good" in out and "ok" in out and "Bad" in out and "FAIL" in out
    assert "2 checks, 1 FAIL" in out


def test_command_takes_a_seed_and_refuses_a_bad_one_in_one_line(capsys):
    from nn import gradcheck

    assert gradcheck.main(["--seed", "7"]) == 0
    assert "checks, all pass" in capsys.readouterr().out
    assert gradcheck.main(["--seed", "-1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: argument --seed") and captured.err.count("\n") == 1


@pytest.mark.parametrize("seed", [0, 1, 3, 88])
def test_every_check_passes_with_other_seeds(seed):
    # seed 0 drew an input equal to the upstream gradient (batch-norm's input gradient then
    # vanished); seeds 1 and 3 put near-ties in the U-Net level's max-pool; seed 88 gives the
    # worst error of the seeds 0-199 (2.4e-7), above the old tolerance of 1e-7
    assert max(err for _, _, err in table_rows(seed)) < TOLERANCE


class _Scale(nn.Layer):
    """y = a * x with a per-feature scale ``a`` (d,), written as a student would, with a
    deliberate defect chosen by ``mistake``."""

    def __init__(self, d, mistake=None):
        super().__init__()
        self.params = {"a": np.linspace(0.5, 1.5, d)}
        self.grads = {"a": None}  # "None before backward", as Layer.parameters says
        self.mistake = mistake

    def forward(self, x):
        self._x = x
        return x * self.params["a"]

    def backward(self, dout):
        grad = (dout * self._x).sum(axis=0)
        if self.mistake == "keepdims":
            grad = grad[None, :]
        if self.mistake != "forgotten":
            self.grads["a"] = grad
        return dout * self.params["a"]


def test_a_student_layer_with_none_gradients_is_checked():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer(_Scale(3), x)
    assert max(errors.values()) < TOLERANCE


@pytest.mark.parametrize("mistake, message", [
    ("keepdims", "has shape (1, 3), but the parameter has shape (3,)"),
    ("forgotten", "did not fill the gradient of parameter 'a'")])
def test_gradient_check_refuses_a_missing_or_misshapen_gradient(mistake, message):
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_layer(_Scale(3, mistake), x)


class _TimesA(nn.Layer):
    """y = a x with a trainable (1,) a; the variants below break the contract one way each."""

    def __init__(self):
        super().__init__()
        self.params["a"] = np.array([1.5], dtype=np.float32)

    def forward(self, x):
        self._x = x
        return x * self.params["a"]

    def backward(self, dout):
        self.grads["a"] = np.array([(dout * self._x).sum()], dtype=dout.dtype)
        return dout * self.params["a"]


class _MutatesDout(_TimesA):
    def backward(self, dout):
        self.grads["a"] = np.array([(dout * self._x).sum()], dtype=dout.dtype)
        dout *= self.params["a"]
        return dout


class _AddsToGrads(_TimesA):
    def backward(self, dout):
        previous = self.grads.get("a", 0)
        self.grads["a"] = previous + np.array([(dout * self._x).sum()], dtype=dout.dtype)
        return dout * self.params["a"]


class _UpcastsToFloat64(_TimesA):
    def forward(self, x):
        self._x = x
        return x * self.params["a"] * np.ones(1)  # a float64 array: float64 on any NumPy


def test_check_layer_catches_breaches_of_the_contract_that_the_stencil_cannot_see():
    x = np.random.default_rng(0).standard_normal((3, 4))
    errors = check_layer(_TimesA(), x)
    assert max(errors.values()) < TOLERANCE
    for layer, fragment in ((_MutatesDout(), "changed dout in place"),
                            (_AddsToGrads(), "overwrite grads, not add"),
                            (_UpcastsToFloat64(), "output of dtype float64")):
        with pytest.raises(ValueError, match=fragment):
            check_layer(layer, x)


@pytest.mark.parametrize("kw", [dict(dilation=2), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=2, padding=1, dilation=2, output_padding=1)],
                         ids=["d2", "s2 p1 op1", "s2 p1 d2 op1"])
def test_transposed_conv_dilation_and_output_padding_gradients(kw):
    rng = np.random.default_rng(0)
    layer = nn.ConvTranspose2D(3, 2, 3, rng=rng, **kw)
    errors = check_layer(layer, rng.standard_normal((2, 3, 5, 5)))
    assert max(errors.values()) < TOLERANCE, errors


def test_relative_error_floor_only_guards_against_zero():
    # |a - n| / (|a| + |n|): small gradients are compared relatively too; the 1e-8 floor
    # only matters when both are (nearly) zero
    assert relative_error(np.array([1e-6]), np.array([2e-6])) == pytest.approx(1 / 3)
    assert relative_error(np.array([0.0]), np.array([1e-12])) == pytest.approx(1e-4)


def test_command_fails_a_check_that_reaches_the_tolerance(monkeypatch, capsys):
    from nn import gradcheck

    monkeypatch.setattr(gradcheck, "table_rows", lambda seed: [("Edge", "x", TOLERANCE)])
    assert gradcheck.main([]) == 1
    monkeypatch.setattr(gradcheck, "table_rows", lambda seed: [("Near", "x", 2 * TOLERANCE)])
    assert gradcheck.main([]) == 1
    assert "1 FAIL" in capsys.readouterr().out


def test_the_cases_cover_every_layer_and_loss_the_package_exports():
    exported = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)}
    layers = {name for name in exported
              if issubclass(getattr(nn, name), nn.Layer) and name != "Layer"}
    losses = {name for name in exported if name.endswith("Loss")}
    assert layers == {type(layer).__name__ for _, layer, _ in LAYERS}
    assert losses == {type(loss).__name__ for _, loss, _ in LOSSES}


def test_whole_model_check_replays_the_dropout_mask():
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Dense(4, 6, rng=rng), nn.Tanh(), nn.Dropout(0.5, seed=2),
                          nn.Dense(6, 2, rng=rng))
    errors = check_model(model, nn.MSELoss(), rng.standard_normal((5, 4)),
                         rng.standard_normal((5, 2)))
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("layer", [
    nn.Conv2D(3, 2, 1, stride=(1, 2), rng=0),
    nn.Conv2D(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), rng=1),
    nn.ConvTranspose2D(3, 2, (2, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1),
                       output_padding=(0, 1), rng=2),
], ids=["Conv2D 1x1 s(1,2)", "Conv2D k(3,2) s(2,1) p(1,0) d(1,2)", "ConvTranspose2D unequal"])
def test_conv_gradients_with_unequal_height_and_width_settings(layer):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5))
    errors = check_layer(layer, x)
    assert max(errors.values()) < TOLERANCE, errors
