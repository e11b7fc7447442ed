"""Optimizer maths against scalar loops of PyTorch's documented update rules (always), against
torch.optim itself (when importable), and by hand."""

import math

import numpy as np
import pytest

import nn
from tests.nn.reference import adam_loops, sgd_loops


def _model_and_grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(4, 3, rng=rng, dtype=np.float64), nn.Tanh(),
                          nn.Dense(3, 2, rng=rng, dtype=np.float64))
    grads = [{k: rng.standard_normal(v.shape) * scale for k, v in layer.params.items()}
             for layer in model.layers]
    return model, grads


def _run(model, optimizer, grad_steps):
    """Apply optimizer steps with the given per-step gradients (set directly)."""
    for grads_at_step in grad_steps:
        for layer, grads in zip(model.layers, grads_at_step):
            layer.grads.update({k: g.copy() for k, g in grads.items()})
        optimizer.step()


def _torch_run(torch, model, make_opt, grad_steps):
    params = [torch.tensor(p.copy(), requires_grad=True) for _, p, _ in model.parameters()]
    opt = make_opt(params)
    for grads_at_step in grad_steps:
        flat = [g for grads in grads_at_step for g in grads.values()]
        for p, g in zip(params, flat):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]


OPTIMIZERS = [
    ("sgd", dict(lr=0.1), dict(lr=0.1)),
    ("sgd", dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
     dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.5, dampening=0.3), dict(lr=0.05, momentum=0.5, dampening=0.3)),
    ("adam", dict(lr=1e-2), dict(lr=1e-2)),
    ("adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
     dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]


@pytest.mark.parametrize("kind,ours_kw,torch_kw", OPTIMIZERS)
def test_optimizers_match_torch_optim(kind, ours_kw, torch_kw):
    torch = pytest.importorskip("torch")
    model, _ = _model_and_grads()
    rng = np.random.default_rng(9)
    steps = [[{k: rng.standard_normal(v.shape) for k, v in layer.params.items()}
              for layer in model.layers] for _ in range(5)]
    cls, torch_cls = (nn.SGD, torch.optim.SGD) if kind == "sgd" else (nn.Adam, torch.optim.Adam)
    expected = _torch_run(torch, model, lambda ps: torch_cls(ps, **torch_kw), steps)
    _run(model, cls(model, **ours_kw), steps)
    for (name, p, _), e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p, e, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("kind,ours_kw,_", OPTIMIZERS)
def test_optimizers_follow_the_documented_update_rules(kind, ours_kw, _):
    model, _grads = _model_and_grads()
    rng = np.random.default_rng(9)
    steps = [[{k: rng.standard_normal(v.shape) for k, v in layer.params.items()}
              for layer in model.layers] for _ in range(5)]
    start = np.concatenate([p.ravel() for _, p, _ in model.parameters()])
    flat_steps = [np.concatenate([g.ravel() for grads in step for g in grads.values()])
                  for step in steps]
    reference = sgd_loops if kind == "sgd" else adam_loops
    expected = reference(start, flat_steps, **ours_kw)
    _run(model, (nn.SGD if kind == "sgd" else nn.Adam)(model, **ours_kw), steps)
    got = np.concatenate([p.ravel() for _, p, _ in model.parameters()])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_adam_first_step_is_about_lr_whatever_the_gradient_scale(scale):
    model, grads = _model_and_grads(scale=scale)
    # Entries at least 0.1 * scale in size, so eps = 1e-8 is negligible next to |g|.
    grads = [{k: np.where(g >= 0, g + 0.1 * scale, g - 0.1 * scale) for k, g in d.items()}
             for d in grads]
    before = [p.copy() for _, p, _ in model.parameters()]
    _run(model, nn.Adam(model, lr=1e-3), [grads])
    for b, (_, p, _) in zip(before, model.parameters()):
        np.testing.assert_allclose(np.abs(p - b), 1e-3, rtol=1e-4)


def test_sgd_step_by_hand_and_parameters_updated_in_place():
    model, grads = _model_and_grads()
    w = model.layers[0].params["W"]
    expected = w - 0.5 * grads[0]["W"]
    _run(model, nn.SGD(model, lr=0.5), [grads])
    assert model.layers[0].params["W"] is w
    np.testing.assert_allclose(w, expected)


def test_optimizer_skips_parameters_without_gradients_and_keeps_dtype():
    model = nn.Sequential(nn.Dense(2, 2, rng=0))
    w = model.layers[0].params["W"].copy()
    nn.Adam(model).step()
    np.testing.assert_array_equal(model.layers[0].params["W"], w)
    model.forward(np.ones((1, 2), np.float32))
    model.backward(np.ones((1, 2), np.float32))
    nn.Adam(model, weight_decay=0.1).step()
    assert model.layers[0].params["W"].dtype == np.float32


class _FakeOpt:
    def __init__(self, lr):
        self.lr = lr


def test_step_and_cosine_schedules_match_torch():
    torch = pytest.importorskip("torch")
    p = [torch.zeros(1, requires_grad=True)]
    for ours_cls, torch_cls, kw, tkw in [
        (nn.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5),
         dict(step_size=3, gamma=0.5)),
        (nn.CosineLR, torch.optim.lr_scheduler.CosineAnnealingLR, dict(t_max=7, eta_min=0.01),
         dict(T_max=7, eta_min=0.01)),
    ]:
        opt = torch.optim.SGD(p, lr=0.2)
        ref = torch_cls(opt, **tkw)
        ours = ours_cls(_FakeOpt(0.2), **kw)
        for _ in range(7):
            opt.step()
            ref.step()
            ours.step()
            assert ours.lr == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)


def test_step_and_cosine_schedules_follow_their_formulas():
    step = nn.StepLR(_FakeOpt(0.2), step_size=3, gamma=0.5)
    cosine = nn.CosineLR(_FakeOpt(0.2), t_max=7, eta_min=0.01)
    for t in range(1, 8):
        step.step()
        cosine.step()
        assert step.lr == pytest.approx(0.2 * 0.5 ** (t // 3), rel=1e-12)
        assert cosine.lr == pytest.approx(0.01 + 0.19 * (1 + math.cos(math.pi * t / 7)) / 2, rel=1e-12)


def test_step_and_cosine_schedules_refuse_a_zero_period():
    with pytest.raises(ValueError, match="step_size"):
        nn.StepLR(_FakeOpt(0.2), step_size=0)
    with pytest.raises(ValueError, match="t_max"):
        nn.CosineLR(_FakeOpt(0.2), t_max=0)


@pytest.mark.parametrize("make, words", [
    (lambda m: nn.SGD(m, 0.1, momentum=-0.5), "SGD momentum must be a finite number of at least 0"),
    (lambda m: nn.SGD(m, 0.1, momentum=math.inf), "SGD momentum"),
    (lambda m: nn.SGD(m, 0.1, dampening=math.nan), "SGD dampening must be a finite number"),
    (lambda m: nn.Adam(m, 0.1, betas=(1.0, 0.999)), r"Adam b1 must be a number in \[0, 1\)"),
    (lambda m: nn.Adam(m, 0.1, betas=(0.9, 1.5)), "Adam b2"),
    (lambda m: nn.Adam(m, 0.1, betas=(-0.1, 0.9)), "Adam b1"),
    (lambda m: nn.Adam(m, 0.1, betas=0.9), r"Adam betas must be a pair \(b1, b2\)"),
    (lambda m: nn.Adam(m, 0.1, betas=(0.9, 0.99, 0.999)), "Adam betas must be a pair"),
    (lambda m: nn.Adam(m, 0.1, eps=-1.0), "Adam eps must be a finite number of at least 0"),
    (lambda m: nn.StepLR(nn.SGD(m, 0.1), step_size=1.5), "StepLR step_size must be a whole number"),
    (lambda m: nn.StepLR(nn.SGD(m, 0.1), step_size=2, gamma=-1), "StepLR gamma"),
    (lambda m: nn.CosineLR(nn.SGD(m, 0.1), t_max=2.5), "CosineLR t_max must be a whole number"),
    (lambda m: nn.ReduceLROnPlateau(nn.SGD(m, 0.1), patience=1.5),
     "ReduceLROnPlateau patience must be a whole number of at least 0"),
    (lambda m: nn.ReduceLROnPlateau(nn.SGD(m, 0.1), cooldown=-1), "ReduceLROnPlateau cooldown"),
    (lambda m: nn.ReduceLROnPlateau(nn.SGD(m, 0.1), factor=1), r"factor must be a number in \(0, 1\)"),
])
def test_bad_settings_are_refused_when_the_optimizer_or_schedule_is_made(make, words):
    # Adam's b1 = 1 used to divide by zero at the first step, b2 > 1 to fail there after
    # some parameters had been updated; a fractional period was cut by int() without a word
    model, _ = _model_and_grads()
    with pytest.raises(ValueError, match=words):
        make(model)


def test_settings_given_as_numpy_numbers_or_whole_floats_are_taken():
    model, _ = _model_and_grads()
    adam = nn.Adam(model, betas=(np.float32(0.5), np.array(0.9)), eps=np.float64(1e-6))
    assert adam.betas == (0.5, 0.9) and adam.eps == 1e-6
    assert nn.StepLR(nn.SGD(model, 0.1), step_size=3.0).step_size == 3
    assert nn.ReduceLROnPlateau(nn.SGD(model, 0.1), patience=np.int64(2)).patience == 2


def test_reduce_on_plateau_by_hand():
    # patience 2: the third epoch without a relative improvement of 1e-4 halves the rate;
    # cooldown 1: the epoch after a reduction is not counted; min_lr 0.1 is the floor.
    # 3.9999 is not better than 4 (it would need to be below 4 * (1 - 1e-4) = 3.9996).
    ours = nn.ReduceLROnPlateau(_FakeOpt(1.0), factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    metrics = [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    expected = [1, 1, 1, 1, .5, .5, .5, .5, .25, .25, .25, .25, .125, .125, .125, .125,
                .1, .1, .1, .1]
    rates = []
    for metric in metrics:
        ours.step(metric)
        rates.append(ours.lr)
    assert rates == pytest.approx(expected)


def test_reduce_on_plateau_never_raises_the_rate_nor_nudges_it_by_less_than_eps():
    below_floor = nn.ReduceLROnPlateau(_FakeOpt(0.001), factor=0.5, patience=0, min_lr=0.01)
    tiny = nn.ReduceLROnPlateau(_FakeOpt(1e-8), factor=0.25, patience=0)
    for metric in [1.0, 1.0, 1.0]:
        below_floor.step(metric)
        tiny.step(metric)
    assert below_floor.lr == 0.001  # max(lr * factor, min_lr) would have raised it to 0.01
    assert tiny.lr == 1e-8  # PyTorch ignores a change of at most 1e-8


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    p = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(p, lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    ours = nn.ReduceLROnPlateau(_FakeOpt(1.0), factor=0.5, patience=2, cooldown=1, min_lr=0.1)
    for metric in [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]:
        ref.step(metric)
        ours.step(metric)
        assert ours.lr == pytest.approx(opt.param_groups[0]["lr"])
    assert ours.lr == pytest.approx(0.1)  # held at min_lr


@pytest.mark.parametrize("optimizer", [lambda m: nn.SGD(m, lr=0.1), lambda m: nn.Adam(m)])
def test_optimizers_take_the_model_not_its_parameters(optimizer):
    model = nn.Sequential(nn.Dense(3, 2))
    with pytest.raises(TypeError, match="pass model, not model.parameters()"):
        optimizer(model.parameters())
    with pytest.raises(TypeError, match="not list"):
        optimizer([model])


@pytest.mark.parametrize("lr", ["0.01", -1, float("nan"), True, None, np.array([0.1])])
def test_a_learning_rate_that_is_not_a_non_negative_number_is_refused(lr):
    with pytest.raises(ValueError, match="learning rate must be a non-negative number"):
        nn.Adam(nn.Sequential(nn.Dense(2, 2)), lr)
    with pytest.raises(ValueError, match="weight_decay must be a non-negative number"):
        nn.SGD(nn.Sequential(nn.Dense(2, 2)), 0.1, weight_decay=lr)


def test_numpy_numbers_and_0d_arrays_are_learning_rates():
    for lr in (np.float32(0.5), np.array(0.5), 0.5):
        assert nn.Adam(nn.Sequential(nn.Dense(2, 2)), lr).lr == 0.5


def test_weight_average_swaps_the_average_in_and_puts_the_live_weights_back():
    layer = nn.Dense(2, 1, rng=np.random.default_rng(0))
    avg = nn.WeightAverage(layer, 0.5)
    first = layer.params["W"].copy()
    with avg.swapped_in():  # nothing averaged yet: the model's own weights
        np.testing.assert_array_equal(layer.params["W"], first)
    avg.update()
    layer.params["W"] += 1.0
    avg.update()
    # d_1 = 2 / 11 and d_2 = 3 / 12 (the warm-up, below 0.5):
    # (d_2 (1 - d_1) w + (1 - d_2) (w + 1)) / (1 - d_1 d_2) = w + (1 - d_2) / (1 - d_1 d_2)
    with pytest.raises(RuntimeError):
        with avg.swapped_in():
            np.testing.assert_allclose(layer.params["W"], first + 0.75 / (1 - 6 / 132), rtol=1e-6)
            raise RuntimeError("a failed evaluation")
    np.testing.assert_array_equal(layer.params["W"], first + 1.0)


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan"), True, "0.9"])
def test_weight_average_refuses_a_decay_outside_0_to_1(decay):
    with pytest.raises(ValueError, match="decay"):
        nn.WeightAverage(nn.Dense(2, 1), decay)


def test_cosine_schedule_holds_at_eta_min_after_t_max():
    # unlike PyTorch's scheduler, which rises again with period 2 t_max
    cosine = nn.CosineLR(_FakeOpt(0.2), t_max=3, eta_min=0.01)
    rates = []
    for _ in range(8):
        cosine.step()
        rates.append(cosine.lr)
    assert rates[0] > rates[1] > rates[2] == pytest.approx(0.01, rel=1e-12)
    assert rates[3:] == [rates[2]] * 5


def test_reduce_on_plateau_uses_its_relative_threshold():
    # threshold 0.1: 9.5 is not below 10 * 0.9, so it is no improvement; 8.9 is
    ours = nn.ReduceLROnPlateau(_FakeOpt(1.0), factor=0.5, patience=1, threshold=0.1)
    rates = []
    for metric in [10, 9.5, 9.2, 8.9, 8.5, 8.3]:
        ours.step(metric)
        rates.append(ours.lr)
    assert rates == pytest.approx([1, 1, .5, .5, .5, .25])
    assert ours.best == 8.9


def test_reduce_on_plateau_counts_a_long_patience_to_its_end():
    # patience 4: the fifth epoch in a row without improvement halves the rate, and the
    # count starts again from there
    ours = nn.ReduceLROnPlateau(_FakeOpt(1.0), factor=0.5, patience=4)
    rates = []
    for metric in [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2]:
        ours.step(metric)
        rates.append(ours.lr)
    assert rates == pytest.approx([1, 1, 1, 1, 1, .5, .5, .5, .5, .5, .25, .25, .25])


def test_reduce_on_plateau_waits_out_a_cooldown_of_several_epochs():
    ours = nn.ReduceLROnPlateau(_FakeOpt(1.0), factor=0.5, patience=0, cooldown=2)
    rates = []
    for _ in range(8):
        ours.step(1.0)
        rates.append(ours.lr)
    assert rates == pytest.approx([1, .5, .5, .5, .25, .25, .25, .125])
