"""The fit loop: learning, determinism, early stopping, divergence, augmentation."""

import numpy as np
import pytest

import nn


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (np.tanh(x @ np.array([[1.0, -2.0], [0.5, 1.0], [-1.5, 0.3]])) * 0.8).astype(np.float32)
    return x, y


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Dense(3, 32, rng=rng), nn.Tanh(), nn.Dense(32, 2, init="xavier", rng=rng))


def test_a_small_network_overfits_a_tiny_dataset():
    x, y = _data(32)
    model = _mlp()
    history = nn.fit(model, nn.MSELoss(), nn.Adam(model, lr=1e-2), x, y, epochs=300,
                     batch_size=8, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0] / 100
    assert history["epochs_run"] == 300 and not history["stopped_early"]


def test_a_small_conv_net_overfits_a_segmentation_toy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Conv2D(1, 8, 3, padding=1, rng=rng), nn.ReLU(),
                          nn.Conv2D(8, 2, 1, rng=rng))
    history = nn.fit(model, nn.SoftmaxCrossEntropyLoss(), nn.Adam(model, lr=2e-2), x, y,
                     epochs=300, batch_size=4, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0] / 100


def test_same_seed_same_run_different_seed_different_order():
    x, y = _data()
    runs = []
    for seed in (3, 3, 4):
        model = _mlp()
        h = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.1, momentum=0.9), x, y, epochs=3,
                   batch_size=10, seed=seed, progress=False)
        runs.append((h["train_loss"], model.state_dict()["0.W"]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_early_stopping_restores_the_best_weights():
    x, y = _data(64)
    x_val, y_val = x[:16], -y[:16]  # a validation set that training makes worse
    model = _mlp()
    best = {}

    class Spy(nn.StepLR):
        def step(self, metric=None):
            best.setdefault("states", []).append(model.state_dict())
            super().step(metric)

    opt = nn.Adam(model, lr=1e-2)
    history = nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=50, batch_size=16,
                     x_val=x_val, y_val=y_val, patience=3, schedule=Spy(opt, step_size=1000),
                     progress=False)
    assert history["stopped_early"]
    assert history["epochs_run"] == history["best_epoch"] + 4
    assert history["best_loss"] == min(history["val_loss"])
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, best["states"][history["best_epoch"]][name], err_msg=name)
    assert nn.train.evaluate(model, nn.MSELoss(), x_val, y_val, 16) == pytest.approx(
        history["best_loss"], rel=1e-5)


def test_divergence_raises_a_clear_error():
    x, y = _data()
    model = _mlp()
    model.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(nn.TrainingDivergedError,
                       match="in epoch 1: the train loss became nan.*lower than 0.01"):
        nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=2, batch_size=8,
               progress=False)


def test_augment_sees_every_batch_with_a_seeded_generator():
    x, y = _data(20)
    calls = []

    def augment(xb, yb, rng):
        calls.append((len(xb), rng.random()))
        return xb, yb

    for _ in range(2):
        model = _mlp()
        nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=2, batch_size=8,
               augment=augment, progress=False)
    assert [c[0] for c in calls[:6]] == [8, 8, 4, 8, 8, 4]
    assert calls[:6] == calls[6:]


def test_schedule_changes_the_learning_rate_per_epoch():
    x, y = _data()
    model = _mlp()
    opt = nn.SGD(model, lr=0.1)
    history = nn.fit(model, nn.MSELoss(), opt, x, y, epochs=4, batch_size=32,
                     schedule=nn.StepLR(opt, step_size=2, gamma=0.5), progress=False)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05]


def test_bad_arguments_are_rejected():
    x, y = _data()
    model = _mlp()
    with pytest.raises(ValueError, match="same non-zero number"):
        nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.1), x, y[:5], epochs=1, batch_size=4)
    bad_calls = [
        (dict(x_val=x[:4]), ValueError, "give both x_val and y_val"),
        (dict(y_val=y[:4]), ValueError, "give both x_val and y_val"),
        (dict(x_val=x[:10], y_val=y[:3]), ValueError, "x_val and y_val must hold the same"),
        (dict(x_val=x[:0], y_val=y[:0]), ValueError, "x_val and y_val must hold the same non-zero"),
        (dict(batch_size=4.5), ValueError, "batch_size must be a whole number"),
        (dict(epochs=-1), ValueError, "epochs must be a whole number"),
        (dict(epochs=2.5), ValueError, "epochs must be a whole number"),
        (dict(x_train=np.array(3.0), y_train=np.array(1.0)), ValueError, "single number; fit needs a sample axis"),
        (dict(patience=1.5), ValueError, "patience must be None or a whole number"),
        (dict(x_train=x.tolist()), TypeError, "x_train is list: convert it with np.asarray"),
        (dict(seed=None), ValueError, "seed must be a whole number of at least 0"),
        (dict(log_every=0), ValueError, "log_every must be a whole number of at least 1"),
        (dict(min_delta=float("nan")), ValueError, "min_delta must be a finite number"),
        (dict(augment=lambda xb, yb, rng: None), TypeError, "augment must return"),
    ]
    for extra, error, message in bad_calls:
        model = _mlp()
        before = model.state_dict()
        kwargs = dict(x_train=x, y_train=y, epochs=1, batch_size=4, progress=False) | extra
        with pytest.raises(error, match=message):
            nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.1), **kwargs)
        for name, value in model.state_dict().items():  # refused before any step
            np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_an_optimizer_of_another_model_is_refused_but_one_of_a_part_trains_that_part():
    x, y = _data()
    model, other = _mlp(), _mlp()
    with pytest.raises(ValueError, match="optimizer was built for a model that is not this one"):
        nn.fit(model, nn.MSELoss(), nn.Adam(other), x, y, epochs=1, batch_size=8, progress=False)
    before = model.state_dict()
    nn.fit(model, nn.MSELoss(), nn.Adam(model.layers[2]), x, y, epochs=1, batch_size=8,
           progress=False)  # fine-tuning the head alone: the rest stays frozen
    after = model.state_dict()
    assert np.array_equal(after["0.W"], before["0.W"]) and not np.array_equal(after["2.W"], before["2.W"])


def test_fit_switches_on_training_mode_only_where_the_optimizer_trains():
    x, y = _data()
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.BatchNorm2D(4), nn.ReLU(),
                          nn.Dense(4, 2, rng=rng))
    frozen = model.layers[1].eval()  # fine-tuning the head with the batch-norm frozen
    before = model.state_dict()
    nn.fit(model, nn.MSELoss(), nn.Adam(model.layers[3]), x, y, epochs=1, batch_size=8,
           progress=False)
    after = model.state_dict()
    assert not frozen.training and model.layers[3].training
    for name in ("1.running_mean", "1.running_var"):
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    # an optimizer of the whole model trains it all in training mode, after an eval()
    model.eval()
    nn.fit(model, nn.MSELoss(), nn.Adam(model), x, y, epochs=1, batch_size=8, progress=False)
    assert frozen.training and not np.array_equal(model.state_dict()["1.running_mean"],
                                                  after["1.running_mean"])


def test_whole_number_floats_are_accepted_for_epochs_and_batch_size():
    x, y = _data(20)
    model = _mlp()
    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=2.0, batch_size=8.0,
                     progress=False)
    assert history["epochs_run"] == 2


@pytest.mark.parametrize("patience", [0, 1])
def test_patience_stops_only_after_an_epoch_without_improvement(patience):
    x, y = _data()
    model = _mlp()
    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=5, batch_size=8,
                     patience=patience, progress=False)
    losses = history["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # this toy keeps improving
    assert history["epochs_run"] == 5 and not history["stopped_early"]


def test_divergence_restores_the_best_weights_and_keeps_the_history():
    x, y = _data()
    model = _mlp()
    opt = nn.SGD(model, lr=0.01)

    class Explode:  # a schedule that sends the learning rate sky-high after two epochs
        def step(self, metric):
            opt.lr = 0.01 if len(seen) < 2 else 1e6
            seen.append(metric)

    seen = []
    with np.errstate(all="ignore"), pytest.raises(nn.TrainingDivergedError) as info:
        nn.fit(model, nn.MSELoss(), opt, x, y, epochs=20, batch_size=8, x_val=x, y_val=y,
               schedule=Explode(), progress=False)
    history = info.value.history
    assert history["best_epoch"] >= 1 and len(history["val_loss"]) == history["epochs_run"]
    assert 0 < history["seconds"] < 60  # timed up to the divergence, as a finished run is
    assert f"the weights of epoch {history['best_epoch'] + 1}, the best validation loss, were " \
           "restored" in str(info.value)
    assert all(np.isfinite(p).all() for _, p, _ in model.parameters())
    best = nn.train.evaluate(model, nn.MSELoss(), x, y, 16)
    assert best == pytest.approx(history["best_loss"], rel=1e-5)


def test_a_validation_loss_that_is_not_a_number_is_an_error_not_a_silent_stall():
    x, y = _data()
    y_val = y.copy()
    y_val[3, 0] = np.nan
    model = _mlp()
    with pytest.raises(nn.TrainingDivergedError, match="the val loss became nan.*y_val") as info:
        nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=3, batch_size=8,
               x_val=x, y_val=y_val, progress=False)
    history = info.value.history  # only complete epochs: none here
    assert history["epochs_run"] == 0 and history["train_loss"] == history["val_loss"] == []


def test_a_last_batch_of_one_joins_the_one_before_so_batch_norm_can_train():
    x, y = _data(9)
    model = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm2D(4), nn.Dense(4, 2))
    sizes = []

    def augment(xb, yb, rng):
        sizes.append(len(xb))
        return xb, yb

    nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=1, batch_size=4,
           augment=augment, progress=False)  # 4 + 4 + 1 used to fail in BatchNorm2D
    assert sizes == [4, 5]


class _Recording(nn.SGD):
    """SGD that keeps a copy of the parameters after every step."""

    def __init__(self, model, lr):
        super().__init__(model, lr)
        self.trajectory = []

    def step(self):
        super().step()
        self.trajectory.append(self.model.state_dict())


def _ema(states, decay):
    """Bias-corrected exponential moving average of every entry of ``states``, by definition:
    step i (from 1) has decay d_i = min(decay, (1 + i) / (10 + i)) and weight
    (1 - d_i) d_(i+1) ... d_t, and the weights are scaled to sum to 1."""
    d = [min(decay, (1 + i) / (10 + i)) for i in range(1, len(states) + 1)]
    weights = np.array([(1 - d[i]) * np.prod(d[i + 1:]) for i in range(len(states))])
    weights /= weights.sum()
    return {k: sum(w * s[k].astype(np.float64) for w, s in zip(weights, states)) for k in states[0]}


def test_a_weight_average_ends_training_with_the_averaged_weights():
    x, y = _data(64)
    model = _mlp()
    opt = _Recording(model, lr=0.1)
    nn.fit(model, nn.MSELoss(), opt, x, y, epochs=3, batch_size=16, progress=False, ema_decay=0.8)
    expected = _ema(opt.trajectory, 0.8)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_with_a_weight_average_the_best_epoch_is_that_of_the_averaged_weights():
    x, y = _data(64)
    x_val, y_val = x[:16], -y[:16]
    model = _mlp()
    opt = _Recording(model, lr=0.05)
    history = nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=12, batch_size=16,
                     x_val=x_val, y_val=y_val, progress=False, ema_decay=0.9)
    steps_per_epoch = 3
    averaged = [_ema(opt.trajectory[:steps_per_epoch * (e + 1)], 0.9) for e in range(12)]
    val = [float(((_forward(a, x_val) - y_val) ** 2).mean()) for a in averaged]
    np.testing.assert_allclose(history["val_loss"], val, rtol=1e-4)
    best = int(np.argmin(val))
    assert history["best_epoch"] == best
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, averaged[best][name], rtol=1e-5, atol=1e-6, err_msg=name)
    # training itself went on from the live weights: the steps are those of a run without
    # the average
    plain = _mlp()
    plain_opt = _Recording(plain, lr=0.05)
    nn.fit(plain, nn.MSELoss(), plain_opt, x[16:], y[16:], epochs=12, batch_size=16,
           x_val=x_val, y_val=y_val, progress=False)
    for ours, theirs in zip(opt.trajectory, plain_opt.trajectory):
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def _forward(state, x):
    model = _mlp()
    model.load_state_dict({k: v.astype(np.float32) for k, v in state.items()})
    return model.forward(x)


def test_a_weight_average_of_decay_zero_is_the_plain_run():
    x, y = _data(64)
    runs = []
    for decay in (None, 0.0):
        model = _mlp()
        nn.fit(model, nn.MSELoss(), nn.Adam(model, lr=1e-2), x[16:], y[16:], epochs=4,
               batch_size=16, x_val=x[:16], y_val=y[:16], progress=False, ema_decay=decay)
        runs.append(model.state_dict())
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name], err_msg=name)


def test_early_stopping_restores_the_best_weights_of_a_later_epoch():
    x, y = _data(64)
    x_val, y_val = x[:16], 0.5 * y[:16]  # improves for a few epochs, then gets worse
    model = _mlp()
    states = []

    class Spy(nn.StepLR):
        def step(self, metric=None):
            states.append(model.state_dict())
            super().step(metric)

    opt = nn.Adam(model, lr=1e-2)
    history = nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=50, batch_size=16,
                     x_val=x_val, y_val=y_val, patience=3, schedule=Spy(opt, step_size=1000),
                     progress=False)
    assert history["stopped_early"] and history["best_epoch"] >= 2
    assert history["epochs_run"] == history["best_epoch"] + 4
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, states[history["best_epoch"]][name], err_msg=name)
    assert nn.train.evaluate(model, nn.MSELoss(), x_val, y_val, 16) == pytest.approx(
        history["best_loss"], rel=1e-5)


def test_a_validation_loss_that_only_equals_the_best_is_no_improvement():
    # lr 0: the weights never change, so every epoch's validation loss is exactly the first
    x, y = _data(32)
    model = _mlp()
    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.0), x[8:], y[8:], epochs=6,
                     batch_size=8, x_val=x[:8], y_val=y[:8], patience=2, progress=False)
    assert history["val_loss"] == [history["val_loss"][0]] * 3
    assert history["stopped_early"] and history["epochs_run"] == 3 and history["best_epoch"] == 0


def test_evaluate_weights_each_batch_by_its_number_of_samples():
    x, y = _data(10)
    model = _mlp()
    whole = nn.train.evaluate(model, nn.MSELoss(), x, y, 10)
    # batches of 4, 4 and 2: the mean of the three batch means would be another number
    assert nn.train.evaluate(model, nn.MSELoss(), x, y, 4) == pytest.approx(whole, rel=1e-6)


def test_evaluate_uses_eval_mode_and_leaves_the_running_statistics_alone():
    x, y = _data(16)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(3, 8, rng=rng), nn.BatchNorm2D(8), nn.Tanh(),
                          nn.Dense(8, 2, rng=rng))
    model.train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    value = nn.train.evaluate(model, nn.MSELoss(), x, y, 5)
    assert model.training and model.layers[1].training
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)
    model.eval()
    assert value == pytest.approx(float(nn.MSELoss().forward(model.forward(x), y)), rel=1e-6)


def _batch_orders(n, epochs, batch_size, **options):
    """The sample numbers of every batch ``fit`` trains on (one list per batch, in order)."""
    x, y = _data(n)
    x[:, 0] = np.arange(n)
    seen = []

    def augment(xb, yb, rng):
        seen.append(xb[:, 0].astype(int).tolist())
        return xb, yb

    model = _mlp()
    nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.0), x, y, epochs=epochs,
           batch_size=batch_size, augment=augment, progress=False, **options)
    return seen


def test_each_epoch_visits_the_samples_in_a_new_order():
    seen = _batch_orders(20, epochs=3, batch_size=20)
    assert all(sorted(order) == list(range(20)) for order in seen)
    assert seen[0] != seen[1] and seen[1] != seen[2] and seen[0] != seen[2]


def test_a_single_sample_is_one_batch_and_trains():
    x, y = _data(1)
    model = _mlp()
    before = model.state_dict()
    sizes = []

    def augment(xb, yb, rng):
        sizes.append(len(xb))
        return xb, yb

    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.1), x, y, epochs=2, batch_size=4,
                     augment=augment, progress=False)
    assert sizes == [1, 1] and history["train_loss"][0] > 0
    assert not np.array_equal(model.state_dict()["0.W"], before["0.W"])


def test_without_shuffling_every_epoch_keeps_the_sample_order():
    seen = _batch_orders(10, epochs=2, batch_size=4, shuffle=False)
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_min_delta_counts_only_improvements_larger_than_it():
    x, y = _data()
    runs = {}
    for min_delta in (0.0, 1.0):
        model = _mlp()
        runs[min_delta] = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.01), x, y, epochs=5,
                                 batch_size=8, patience=2, min_delta=min_delta, progress=False)
    losses = runs[0.0]["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[0] - losses[-1] < 1.0
    assert runs[0.0]["epochs_run"] == 5 and runs[0.0]["best_epoch"] == 4
    # improving, but by less than 1.0: the first epoch stays the best, and patience stops the run
    stopped = runs[1.0]
    assert stopped["stopped_early"] and stopped["epochs_run"] == 3 and stopped["best_epoch"] == 0
    assert stopped["best_loss"] == stopped["train_loss"][0]


def test_without_restore_best_the_model_keeps_the_last_weights():
    x, y = _data(64)
    x_val, y_val = x[:16], -y[:16]  # a validation set that training makes worse
    model = _mlp()
    opt = _Recording(model, lr=0.1)
    history = nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=4, batch_size=16,
                     x_val=x_val, y_val=y_val, restore_best=False, progress=False)
    assert history["best_epoch"] < 3
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, opt.trajectory[-1][name], err_msg=name)


def test_without_a_validation_set_the_model_keeps_the_last_weights():
    x, y = _data(64)
    epoch = []

    def augment(xb, yb, rng):  # the last epoch's (augmented) training loss is the worst
        epoch.append(None)
        return xb, (yb * 10 if len(epoch) > 8 else yb)

    model = _mlp()
    opt = _Recording(model, lr=0.01)
    history = nn.fit(model, nn.MSELoss(), opt, x, y, epochs=3, batch_size=16, augment=augment,
                     progress=False)
    assert history["best_epoch"] == 1 and history["train_loss"][2] > history["best_loss"]
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, opt.trajectory[-1][name], err_msg=name)


def test_the_schedule_is_stepped_every_epoch_with_the_validation_loss():
    x, y = _data(64)
    metrics = []

    class Spy(nn.StepLR):
        def step(self, metric=None):
            metrics.append(metric)
            super().step(metric)

    model = _mlp()
    opt = nn.SGD(model, lr=0.05)
    history = nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=4, batch_size=16,
                     x_val=x[:16], y_val=-y[:16], schedule=Spy(opt, step_size=1000),
                     progress=False)
    assert metrics == history["val_loss"] and metrics != history["train_loss"]


def test_an_improvement_resets_the_patience_count():
    # lr 0 and a whole-set batch: the training loss of each epoch is set by the offset the
    # augment hook adds to the targets, far (worse) or near (better)
    x, y = _data(16)
    offsets = iter([5.0, 10.0, 1.0, 10.0, 10.0, 10.0, 10.0])

    def augment(xb, yb, rng):
        return xb, yb + next(offsets)

    model = _mlp()
    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.0), x, y, epochs=7, batch_size=16,
                     patience=2, augment=augment, progress=False)
    assert history["best_epoch"] == 2
    assert history["stopped_early"] and history["epochs_run"] == 5


def test_the_augment_generator_follows_the_seed():
    x, y = _data(8)
    draws = []

    def augment(xb, yb, rng):
        draws.append(rng.random())
        return xb, yb

    for seed in (0, 1, 0):
        model = _mlp()
        nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.0), x, y, epochs=1, batch_size=8,
               seed=seed, augment=augment, progress=False)
    assert draws[0] == draws[2] and draws[0] != draws[1]


def test_the_training_loss_weights_each_batch_by_its_number_of_samples():
    x, y = _data(20)
    model = _mlp()
    whole = nn.train.evaluate(model, nn.MSELoss(), x, y, 20)
    # lr 0, batches of 8, 8 and 4: the mean of the three batch means would be another number
    history = nn.fit(model, nn.MSELoss(), nn.SGD(model, lr=0.0), x, y, epochs=1, batch_size=8,
                     progress=False)
    assert history["train_loss"][0] == pytest.approx(whole, rel=1e-6)


def test_a_weight_average_without_restore_best_ends_with_the_last_average():
    x, y = _data(64)
    model = _mlp()
    opt = _Recording(model, lr=0.1)
    nn.fit(model, nn.MSELoss(), opt, x[16:], y[16:], epochs=2, batch_size=16, x_val=x[:16],
           y_val=-y[:16], restore_best=False, progress=False, ema_decay=0.8)
    expected = _ema(opt.trajectory, 0.8)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
