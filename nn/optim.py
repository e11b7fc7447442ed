"""Optimizers (SGD with momentum / Nesterov, Adam) and learning-rate schedules.

An optimizer takes the model (anything whose ``parameters()`` yields ``(name, param, grad)``)
and, in ``step()``, walks it again, so it always sees the gradients of the latest backward.
Parameters are updated in place (their identity is kept) and the optimizer state is keyed by
parameter name; a parameter whose grad is None is skipped, as in PyTorch. The update rules are
those of ``torch.optim.SGD`` and ``torch.optim.Adam`` (amsgrad off, maximize off), to the letter:
weight decay is L2 style, added to the gradient (``g = grad + wd * p``) before anything else.

Schedules change ``optimizer.lr`` once per epoch: ``schedule.step(metric)`` (the metric is
used by ReduceLROnPlateau and ignored by the others).

:class:`WeightAverage` keeps an exponential moving average of the parameters next to the
optimizer's steps, for evaluating (and keeping) the averaged weights rather than the last ones.
"""

import math
import numbers
from contextlib import contextmanager

from nn.backend import as_real_number, get_array_module, is_whole_number


def _checked(owner, name, value, rule, ok):
    """``value`` as a float when it is one real number with ``ok(value)``, else ValueError
    ``"<owner> <name> must be <rule>, got <value>"``: a bad setting is refused when the
    optimizer or schedule is made, not at a later step (an Adam beta of 1 divides by zero
    there, after some parameters were already updated)."""
    number = None if isinstance(value, str) else as_real_number(value)
    if number is None or not ok(number):
        raise ValueError(f"{owner} {name} must be {rule}, got {value!r}")
    return number


def _finite_at_least_0(owner, name, value):
    """:func:`_checked` for the most common rule: a finite number of at least 0."""
    return _checked(owner, name, value, "a finite number of at least 0",
                    lambda v: 0 <= v < math.inf)


def _whole_at_least(owner, name, value, low):
    """``value`` as an int when it is a whole number >= ``low``, else ValueError (a fractional
    epoch count would otherwise be cut silently by ``int``)."""
    if not (is_whole_number(value) and value >= low):
        raise ValueError(f"{owner} {name} must be a whole number of at least {low}, got {value!r}")
    return int(value)


def _like(state, param):
    """``state`` moved to ``param``'s library when the model moved device after the first step."""
    xp = get_array_module(param)
    if get_array_module(state) is xp:
        return state
    return xp.asarray(state.get() if hasattr(state, "get") else state)


class Optimizer:
    """Shared bookkeeping: the model, the learning rate, per-name state."""

    def __init__(self, model, lr, weight_decay=0.0):
        if not callable(getattr(model, "parameters", None)):
            # PyTorch's habit, optimizer(model.parameters()), would fail only at the first step
            raise TypeError(f"{type(self).__name__} takes the model itself (a Layer or "
                            f"Sequential), not {type(model).__name__}: pass model, not "
                            "model.parameters()")
        for name, value in (("learning rate", lr), ("weight_decay", weight_decay)):
            if getattr(value, "ndim", None) == 0 and getattr(value, "dtype", None) is not None:
                value = value.item()  # a 0-d array, np.array(0.01)
            if isinstance(value, (bool, str)) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        self.model, self.lr, self.weight_decay = model, float(lr), float(weight_decay)
        self.state = {}

    def _gradients(self):
        for name, param, grad in self.model.parameters():
            if grad is None:
                continue
            if self.weight_decay:
                grad = grad + self.weight_decay * param
            yield name, param, grad

    def step(self):
        raise NotImplementedError


class SGD(Optimizer):
    """``torch.optim.SGD``: with ``g = grad + wd p``,

    momentum ``mu``: ``b = g`` on the first step, then ``b = mu b + (1 - dampening) g``;
    ``g = g + mu b`` (PyTorch's Nesterov variant, based on Sutskever et al. 2013 but with lr
    applied outside the buffer) or ``g = b``; then ``p -= lr g``. Why ``g + mu b`` is
    Nesterov: rewritten so that the stored parameters are the look-ahead point (Bengio et al.
    2013), the gradient at ``p + mu v`` is the gradient at the stored ``p``.
    """

    def __init__(self, model, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
        super().__init__(model, lr, weight_decay)
        momentum = _finite_at_least_0("SGD", "momentum", momentum)
        dampening = _checked("SGD", "dampening", dampening, "a finite number", math.isfinite)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and zero dampening")
        self.momentum, self.nesterov, self.dampening = momentum, bool(nesterov), dampening

    def step(self):
        mu = self.momentum
        for name, param, g in self._gradients():
            if mu:
                buf = self.state.get(name)
                if buf is None:
                    buf = g.copy()
                else:
                    buf = _like(buf, param)
                    buf *= mu
                    buf += (1 - self.dampening) * g
                self.state[name] = buf
                g = g + mu * buf if self.nesterov else buf
            param -= self.lr * g


class Adam(Optimizer):
    """``torch.optim.Adam`` (Kingma and Ba 2015, with bias correction): with ``g = grad + wd p``,

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, step ``t`` from 1,
    ``p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    The first step is ``lr * sign(g)`` up to eps, whatever the gradient's scale.
    """

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr, weight_decay)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam betas must be a pair (b1, b2), got {betas!r}") from None
        # b = 1 would divide by zero in the bias correction, b > 1 take the root of a negative
        self.betas = tuple(_checked("Adam", name, b, "a number in [0, 1)", lambda b: 0 <= b < 1)
                           for name, b in (("b1", b1), ("b2", b2)))
        self.eps = _finite_at_least_0("Adam", "eps", eps)

    def step(self):
        b1, b2 = self.betas
        for name, param, g in self._gradients():
            xp = get_array_module(param)
            if name not in self.state:
                self.state[name] = {"t": 0, "m": xp.zeros_like(param), "v": xp.zeros_like(param)}
            st = self.state[name]
            st["m"], st["v"] = _like(st["m"], param), _like(st["v"], param)
            st["t"] += 1
            m, v, t = st["m"], st["v"], st["t"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            step_size = self.lr / (1 - b1 ** t)
            denom = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
            param -= step_size * (m / denom)


class WeightAverage:
    """Exponential moving average of a model's parameters (Polyak averaging).

    ``update()``, called after each optimizer step ``t = 1, 2, ...``, folds the parameters
    ``p`` into the average, ``a = d_t a + (1 - d_t) p`` from ``a = 0``, with
    ``d_t = min(decay, (1 + t) / (10 + t))``; the average is read bias-corrected,
    ``a / (1 - d_1 d_2 ... d_t)``, as Adam corrects its moments, so that it is a weighted mean
    of the parameter values seen so far, not pulled toward 0. ``decay``, in [0, 1), sets how
    far back the average reaches: about ``1 / (1 - decay)`` steps (0 keeps the last parameters
    only). The smaller ``d_t`` of the first steps (the warm-up TensorFlow's moving average
    also uses) keeps a short run's average to its last tenth or so: with the plain ``decay``
    0.95 the first, untrained weights of a run of 24 steps would still weigh 0.31 of its last.

    Why: a minibatch optimizer's steps keep jittering around a minimum, the more so the
    larger the learning rate, and their recent average usually lies closer to its centre, so
    it scores better on held-out data than the last step does. Buffers (batch-norm running
    statistics) are not averaged, so the averaged weights are evaluated with the statistics of
    the live weights' activations, a small mismatch at a window of a few dozen steps
    (PyTorch's SWA recomputes them in an extra pass, ``update_bn``; some libraries average
    them like the weights).

    ``swapped_in()`` puts the averaged weights into the model for a ``with`` block (to
    evaluate or copy them) and the live ones back after it, so training goes on from where
    it was.
    """

    def __init__(self, model, decay):
        if not callable(getattr(model, "parameters", None)):
            raise TypeError(f"WeightAverage takes the model itself (a Layer or Sequential), "
                            f"not {type(model).__name__}")
        if getattr(decay, "ndim", None) == 0 and getattr(decay, "dtype", None) is not None:
            decay = decay.item()  # a 0-d array, np.array(0.9)
        if (isinstance(decay, (bool, str)) or not isinstance(decay, numbers.Real)
                or not 0 <= decay < 1):
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.model, self.decay, self.updates = model, float(decay), 0
        self.kept = 1.0  # d_1 d_2 ... d_t: the weight the zero start still has
        self.average = {}

    def update(self):
        """Fold the model's current parameters into the average."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.kept *= d
        for name, param, _ in self.model.parameters():
            avg = self.average.get(name)
            if avg is None:
                avg = get_array_module(param).zeros_like(param)
            else:
                avg = _like(avg, param)
                avg *= d
            avg += (1 - d) * param
            self.average[name] = avg

    @contextmanager
    def swapped_in(self):
        """The bias-corrected averaged weights in the model for the block; the live weights
        are put back after it, also when it raises. Before the first update the model keeps
        its own weights."""
        if not self.updates:
            yield self.model
            return
        scale = 1.0 / (1.0 - self.kept)
        live = {}
        try:
            for name, param, _ in self.model.parameters():
                live[name] = param.copy()
                param[...] = _like(self.average[name], param) * param.dtype.type(scale)
            yield self.model
        finally:
            # only those swapped so far, should a copy fail (out of memory) part way
            for name, param, _ in self.model.parameters():
                if name in live:
                    param[...] = live[name]


class Schedule:
    """Base of the learning-rate schedules: ``step(metric=None)`` once per epoch. ``base_lr``
    is the optimizer's rate when the schedule is made."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    @property
    def lr(self):
        return self.optimizer.lr

    def step(self, metric=None):
        self.epoch += 1
        self.optimizer.lr = self._lr_at(self.epoch)

    def _lr_at(self, epoch):
        raise NotImplementedError


class StepLR(Schedule):
    """``lr = base_lr * gamma ** (epoch // step_size)`` (``torch.optim.lr_scheduler.StepLR``),
    ``epoch`` = the number of completed ``step()`` calls (the first epoch trains at base_lr)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size = _whole_at_least("StepLR", "step_size", step_size, 1)
        self.gamma = _finite_at_least_0("StepLR", "gamma", gamma)

    def _lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(Schedule):
    """``lr = eta_min + (base_lr - eta_min) (1 + cos(pi min(epoch, T) / T)) / 2`` with
    ``T = t_max`` (cosine annealing, Loshchilov and Hutter 2017; the closed form of
    ``torch.optim.lr_scheduler.CosineAnnealingLR``, held at ``eta_min`` after T, where PyTorch's
    scheduler rises again with period 2T)."""

    def __init__(self, optimizer, t_max, eta_min=0.0):
        super().__init__(optimizer)
        self.t_max = _whole_at_least("CosineLR", "t_max", t_max, 1)
        self.eta_min = _finite_at_least_0("CosineLR", "eta_min", eta_min)

    def _lr_at(self, epoch):
        e = min(epoch, self.t_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2


class ReduceLROnPlateau(Schedule):
    """Multiply lr by ``factor`` on the ``patience + 1``-th epoch in a row without improvement
    (PyTorch's rule; :func:`nn.fit`'s ``patience`` stops after ``patience`` such epochs).

    Improvement (mode min, relative threshold, as PyTorch's defaults):
    ``metric < best * (1 - threshold)``. After a cut, ``cooldown`` epochs pass before counting
    again; lr never goes below ``min_lr``, and a cut that would change it by less than
    ``EPS`` (or raise it, when it is already below ``min_lr``) leaves it alone, as PyTorch does.
    """

    EPS = 1e-8

    def __init__(self, optimizer, factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(optimizer)
        owner = "ReduceLROnPlateau"
        self.factor = _checked(owner, "factor", factor, "a number in (0, 1)", lambda f: 0 < f < 1)
        self.patience = _whole_at_least(owner, "patience", patience, 0)
        self.threshold = _checked(owner, "threshold", threshold, "a number in [0, 1)",
                                  lambda t: 0 <= t < 1)
        self.cooldown = _whole_at_least(owner, "cooldown", cooldown, 0)
        self.min_lr = _finite_at_least_0(owner, "min_lr", min_lr)
        self.best, self.bad_epochs, self.cooldown_left = math.inf, 0, 0

    def step(self, metric=None):
        if metric is None:
            raise ValueError("ReduceLROnPlateau.step needs the monitored metric")
        self.epoch += 1
        metric = float(metric)
        if metric < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            lowered = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - lowered > self.EPS:
                self.optimizer.lr = lowered
            self.cooldown_left, self.bad_epochs = self.cooldown, 0
