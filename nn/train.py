"""The fit loop: shuffled minibatches, validation, early stopping, best-weights restore,
and optionally a moving average of the weights.

Shuffling is done on the host with a seeded ``numpy.random.Generator``, so the CPU and the GPU
visit the samples in the same order. Data may be NumPy or CuPy arrays; each batch is moved to
the model's device. Losses are summed on the device and read back once per epoch (and, for
the progress bar only, every ``log_every`` steps), so the GPU is not stalled every step.
"""

import math
import time
from contextlib import nullcontext

import numpy as np

from nn.backend import get_array_module, is_real_number, is_whole_number, to_device
from nn.errors import TrainingDivergedError
from nn.model import walk
from nn.optim import WeightAverage
from nn.progress import progress_bar


def _take(data, idx):
    """Rows ``idx`` (a host int array) of ``data``, indexed where ``data`` lives."""
    xp = get_array_module(data)
    return data[idx] if xp is np else data[xp.asarray(idx)]


def _check_data(x, y, which):
    """ValueError/TypeError unless ``x`` and ``y`` are arrays holding the same non-zero number
    of samples; ``which`` names them in the message ("train", "val")."""
    for name, data in ((f"x_{which}", x), (f"y_{which}", y)):
        if not hasattr(data, "shape"):
            raise TypeError(f"fit takes NumPy or CuPy arrays with a sample axis; {name} is "
                            f"{type(data).__name__}: convert it with np.asarray first")
        if len(data.shape) == 0:
            raise ValueError(f"{name} is a single number; fit needs a sample axis first "
                             "(shape (n, ...)), e.g. x[None] for one sample")
    if len(x) == 0 or len(y) != len(x):
        raise ValueError(f"x_{which} and y_{which} must hold the same non-zero number of samples, "
                         f"got {len(x)} and {len(y)}")


def _whole(name, value, minimum, or_else=""):
    """``value`` as an int, or ValueError unless it is a whole number of at least ``minimum``
    (``or_else``: the other values the message names, such as ``"None or "``)."""
    if not (is_whole_number(value) and value >= minimum):
        raise ValueError(f"{name} must be {or_else}a whole number of at least {minimum}, "
                         f"got {value!r}")
    return int(value)


def _check_finite(value, epoch, lr, which="train"):
    """TrainingDivergedError when the ``which`` loss of ``epoch`` (0-based) is NaN or
    infinite."""
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch + 1}: the {which} loss became {value}; check "
            f"x_{which} and y_{which} for NaN or infinity, or try a learning rate lower than "
            f"{lr:g}"
        )


def _batch_bounds(n, batch_size):
    """Start and end of each batch of ``n`` samples: ``[0, b, 2b, ..., n]``. A last batch of
    one sample joins the batch before, since batch-norm cannot normalise a single sample."""
    bounds = list(range(0, n, batch_size)) + [n]
    if n > batch_size and n % batch_size == 1:
        del bounds[-2]
    return bounds


def _augmented(result):
    """The ``(x_batch, y_batch)`` an augment hook returned, or TypeError saying what it must
    return (a hook that edits the batch in place and returns nothing is a common slip)."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"augment must return (x_batch, y_batch), got {type(result).__name__}")
    return result


def evaluate(model, loss, x, y, batch_size):
    """Mean loss of ``model`` on ``(x, y)`` in eval mode (the training flag is restored).

    Each batch's loss counts with its number of samples. For a loss that is a mean over
    samples (all of ``nn.losses`` without class weights) that is the loss of the whole set. A
    class-weighted cross-entropy with integer targets divides each batch by that batch's sum of
    weights, so there the result moves a little with ``batch_size``; with the whole set in one
    batch it is exact.
    """
    device = model.device
    total, count = 0.0, 0
    with model.evaluating():
        for start in range(0, len(x), batch_size):
            idx = np.arange(start, min(start + batch_size, len(x)))
            xb, yb = to_device(_take(x, idx), device), to_device(_take(y, idx), device)
            total = total + loss.forward(model.forward(xb), yb) * len(idx)
            count += len(idx)
    return float(total) / count


def fit(model, loss, optimizer, x_train, y_train, *, epochs, batch_size, x_val=None, y_val=None,
        patience=None, min_delta=0.0, restore_best=True, seed=0, shuffle=True, schedule=None,
        augment=None, progress=True, log_every=20, ema_decay=None):
    """Train ``model`` with minibatches; return a history dict.

    x_train: (n, ...), y_train: (n, ...) (NumPy or CuPy). Each epoch visits every sample once
    in a seeded random order (``seed``, a whole number >= 0; ``shuffle=False`` keeps the
    order); the last batch may be smaller, and a last batch of one sample joins the batch
    before it. ``augment(x_batch, y_batch, rng) -> (x_batch, y_batch)``, if given, is
    applied to each training batch on the model's device; ``rng`` is a
    ``numpy.random.Generator`` derived from ``seed``, so augmentations repeat exactly.

    The monitored loss is the validation loss when ``x_val``/``y_val`` are given, else the
    training loss. ``patience``: stop after that many epochs in a row without an improvement
    larger than ``min_delta`` (0 stops at the first such epoch, as 1 does). With a validation
    set and ``restore_best`` the weights of the best epoch are restored at the end (whether
    or not training stopped early, and before a divergence is raised). ``schedule`` is
    stepped once per epoch with the monitored loss. The progress bar (tqdm, on stderr) shows
    the running loss; it is off with ``progress=False`` or when stderr is not a terminal.

    ``ema_decay`` (a number in [0, 1), or None): keep an exponential moving average of the
    weights the optimizer trains (:class:`nn.WeightAverage`, updated after every step); the
    validation loss, and so early stopping, the schedule and the best weights kept, are then
    those of the averaged weights, and the model ends with averaged weights (the best
    epoch's with a validation set and ``restore_best``, else the last). Training itself goes
    on from the live weights.

    Raises ``TrainingDivergedError`` when the training or the validation loss becomes NaN or
    infinite; its ``history`` holds the epochs run until then.

    History: ``train_loss``, ``val_loss`` (lists, one value per epoch, averaged over the batches
    as :func:`evaluate` does; ``val_loss`` empty without a validation set), ``lr`` (per epoch,
    the rate used), ``best_epoch`` (0-based index into those lists), ``best_loss``,
    ``epochs_run``, ``stopped_early``, ``seconds``.

    Training mode is switched on for the layers the optimizer trains (the whole model for
    ``Adam(model)``); the other layers keep their own mode, so a part frozen for fine-tuning
    can be put in eval mode first and its batch-norm statistics stay as they are. The trained
    layers are left in training mode: call ``model.eval()`` before predicting, or batch-norm
    normalizes with each batch's own statistics and dropout keeps dropping (``evaluate`` does
    this by itself).
    """
    _check_data(x_train, y_train, "train")
    n = len(x_train)
    batch_size = _whole("batch_size", batch_size, 1)
    epochs = _whole("epochs", epochs, 0)
    if patience is not None:
        _whole("patience", patience, 0, "None or ")
    seed = _whole("seed", seed, 0)
    log_every = _whole("log_every", log_every, 1)
    if not (is_real_number(min_delta) and math.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta must be a finite number of at least 0, got {min_delta!r}")
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither (only one of them was given)")
    has_val = x_val is not None
    if has_val:
        _check_data(x_val, y_val, "val")
    trained = getattr(optimizer, "model", model)
    if not any(trained is part for part in walk(model)):
        raise ValueError("the optimizer was built for a model that is not this one nor part of "
                         "it: make it with this one, e.g. Adam(model), or its steps would train "
                         "the other model")
    # the layers the optimizer trains: the others do not change, and stay as they are
    average = None if ema_decay is None else WeightAverage(trained, ema_decay)
    device = model.device
    order_rng = np.random.default_rng(seed)
    augment_rng = np.random.default_rng([seed, 1])
    bounds = _batch_bounds(n, batch_size)
    steps = len(bounds) - 1
    history = {"train_loss": [], "val_loss": [], "lr": [], "best_epoch": None,
               "best_loss": math.inf, "epochs_run": 0, "stopped_early": False, "seconds": 0.0}
    best_state, waited = None, 0
    bar = progress_bar(progress, total=epochs * steps, unit="step")
    started = time.perf_counter()
    trained.train()
    try:
        for epoch in range(epochs):
            order = order_rng.permutation(n) if shuffle else np.arange(n)
            total = 0.0
            for step in range(steps):
                idx = order[bounds[step]:bounds[step + 1]]
                xb, yb = to_device(_take(x_train, idx), device), to_device(_take(y_train, idx), device)
                if augment is not None:
                    xb, yb = _augmented(augment(xb, yb, augment_rng))
                value = loss.forward(model.forward(xb), yb)
                model.backward(loss.backward())
                optimizer.step()
                if average is not None:
                    average.update()
                total = total + value * len(idx)
                if bar is not None:
                    bar.update(1)
                    if (step + 1) % log_every == 0 or step + 1 == steps:
                        running = float(total) / bounds[step + 1]
                        _check_finite(running, epoch, optimizer.lr)
                        bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {running:.4g}")
            train_loss = float(total) / n
            _check_finite(train_loss, epoch, optimizer.lr)
            monitored = train_loss
            with _averaged_weights(average):
                if has_val:
                    monitored = evaluate(model, loss, x_val, y_val, batch_size)
                    _check_finite(monitored, epoch, optimizer.lr, "val")
                improved = monitored < history["best_loss"] - min_delta
                if improved and has_val and restore_best:
                    best_state = model.state_dict()
            # only complete epochs enter the history (a divergence raises before this)
            history["train_loss"].append(train_loss)
            history["lr"].append(optimizer.lr)
            if has_val:
                history["val_loss"].append(monitored)
                if bar is not None:
                    bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {train_loss:.4g} "
                                        f"val {monitored:.4g}")
            history["epochs_run"] = epoch + 1
            if improved:
                history["best_loss"], history["best_epoch"], waited = monitored, epoch, 0
            else:
                waited += 1
            if schedule is not None:
                schedule.step(monitored)
            if patience is not None and not improved and waited >= patience:
                history["stopped_early"] = True
                break
    except TrainingDivergedError as exc:
        restored = ""
        if best_state is not None:
            model.load_state_dict(best_state)
            restored = (f"; the weights of epoch {history['best_epoch'] + 1}, the best "
                        "validation loss, were restored")
        history["seconds"] = time.perf_counter() - started
        diverged = TrainingDivergedError(f"{exc}{restored}")
        diverged.history = history
        raise diverged from None
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    elif average is not None:
        with average.swapped_in():
            averaged = model.state_dict()
        model.load_state_dict(averaged)
    history["seconds"] = time.perf_counter() - started
    return history


def _averaged_weights(average):
    """The averaged weights in the model for a ``with`` block, or (no average) a block that
    changes nothing."""
    return nullcontext() if average is None else average.swapped_in()
