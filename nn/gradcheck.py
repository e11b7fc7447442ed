"""Numerical gradient checks: centred differences in float64.

For a layer, the scalar checked is ``f = sum(forward(x) * G)`` with a fixed random upstream
gradient ``G``, so ``backward(G)`` must equal ``df/dx`` and ``grads[k] = df/dparams[k]``. Each
entry is perturbed by ``+-h`` and ``+-2h``, and the five-point centred difference is compared
with the analytic value by the relative error (the form of CS231n's assignment code; its
lecture notes divide by ``max(|a|, |n|)``, which gives about twice this)::

    rel = max over entries of |a - n| / max(1e-8, |a| + |n|)

Layers are cast to float64 in place for the check (call it on a throw-away layer). Random
layers (dropout) are re-seeded before every forward through ``reset_rng()``, so every
evaluation sees the same mask. ``python -m nn.gradcheck`` prints the worst error of every
layer, container and loss on small inputs built away from kinks, marks each against
``TOLERANCE`` and exits with status 1 if any check fails.

Reading the errors of your own layer or model (``check_layer``, ``check_model``): an error
above ``TOLERANCE`` usually means a wrong backward, but two cases give large errors with a
correct one.

- A kink within ``2h`` of an input: ReLU at 0, two values of a max-pool window closer than
  ``4h``, L1 at a zero difference. The stencil then straddles the kink and measures neither
  side. Build inputs with :func:`distinct_values` and :func:`away_from_zero`, or pass a
  smaller ``h`` (1e-5) and look again.
- A gradient that is exactly 0 in theory, such as the bias of a layer followed by batch-norm
  (the normalisation removes any constant). Both values are then rounding noise, and the
  ``1e-8`` floor of the relative error turns noise of 1e-13 into 1e-5. Compare the absolute
  values there.
"""

import time

import numpy as np

from nn.backend import to_numpy
from nn.cli import OneLineParser, non_negative_int, run_command


def relative_error(analytic, numeric):
    """``max |a - n| / max(1e-8, |a| + |n|)`` over all entries (0.0 for empty arrays; infinity
    when either holds a NaN or an infinity, which no correct gradient of a finite check has,
    and which every comparison with a tolerance would otherwise pass as not too large)."""
    a = to_numpy(analytic).astype(np.float64)
    n = to_numpy(numeric).astype(np.float64)
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(n).all()):
        return float("inf")
    return float(np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))))


# Five-point centred stencil: f'(x) = (f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h + O(h^4).
# Its small truncation error allows h = 1e-3, so the rounding noise of f is divided by 1e-3
# rather than 1e-6; a two-point stencil with h = 1e-6 leaves about 1e-10 of absolute noise,
# enough to push the relative error of a gradient entry that happens to be near 0 above 1e-6.
# Differences are taken pairwise first, so an output that a perturbation does not reach gives
# exactly 0 (a weighted sum 1 - 8 + 8 - 1 of equal values would leave rounding residue).
_STEPS = (1, -1, 2, -2)

TOLERANCE = 1e-6
"""A correct backward of a smooth piece agrees with the stencil to better than this: over the
seeds 0-199 the worst case is 2.4e-7 (seed 88, the soft-target cross-entropy, an entry of
4e-7 whose two values differ by 2e-13), the next 8.7e-8, and for the default seed 7e-10; a
wrong one is off by about 5e-3 or more (a single entry 1 % off gives 5e-3)."""


def numerical_gradient(f, array, h=1e-3):
    """``df/darray`` by centred differences; ``array`` is perturbed in place and restored.

    ``f()`` returns a scalar, or an array ``out`` together with the upstream gradient ``G`` as
    ``(out, G)``: then the stencil is combined output by output before the sum with ``G``, so
    the outputs a perturbation does not reach cancel exactly instead of adding the rounding
    noise of a large sum (CS231n's ``eval_numerical_gradient_array``).
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    for i in range(flat.size):
        old = float(flat[i])
        values = []
        for step in _STEPS:
            flat[i] = old + step * h
            value = f()
            values.append(np.array(value[0], dtype=np.float64) if isinstance(value, tuple)
                          else value)
        flat[i] = old
        near, far = values[0] - values[1], values[2] - values[3]
        combined = 8.0 * near - far
        if isinstance(value, tuple):
            combined = np.sum(combined * value[1])
        grad.reshape(-1)[i] = combined / (12 * h)
    return grad


def _analytic_gradients(layer, x, dx):
    """``{param name: float64 copy of its gradient}`` after a backward, refusing (ValueError)
    a missing gradient or one whose shape is not its parameter's (or dx's shape not x's): the
    optimizers need both, and a relative error would hide a wrong shape by broadcasting."""
    if dx is None or np.shape(dx) != x.shape:
        got = None if dx is None else np.shape(dx)
        raise ValueError(f"backward returned dx of shape {got}, but the input has shape {x.shape}")
    analytic = {}
    for name, param, grad in layer.parameters():
        if grad is None:
            raise ValueError(f"backward did not fill the gradient of parameter {name!r} "
                             "(set grads[key] for every key of params)")
        if np.shape(grad) != param.shape:
            raise ValueError(f"the gradient of parameter {name!r} has shape {np.shape(grad)}, "
                             f"but the parameter has shape {param.shape}")
        analytic[name] = np.array(grad, dtype=np.float64)
    return analytic


def check_layer(layer, x, seed=0, h=1e-3):
    """Worst relative error of ``backward`` for the input and every parameter.

    Returns ``{"x": err, "<param name>": err, ...}``. ``x`` is copied to float64; the layer
    (and its sub-layers) are cast to float64 in place. Before the numbers, the layer contract
    of :mod:`nn.layers.base` is checked, since the stencil cannot see a breach of it: raises
    ValueError when backward leaves a parameter's gradient unset or of another shape than the
    parameter, returns a dx of another shape than x, changes ``dout`` in place, adds to
    ``grads`` instead of overwriting them (a second backward gives other gradients), or, for a
    layer with float32 parameters (the default), turns float32 input into another dtype.
    """
    _check_keeps_float32(layer, x)
    layer.astype(np.float64)
    x = np.array(x, dtype=np.float64)
    # A stream of its own ([seed, 1], not seed): with the plain seed, an input drawn first from
    # default_rng(seed) by the caller would equal the upstream gradient, and batch-norm's input
    # gradient, which removes the part of G along its input, would vanish (found with
    # ``python -m nn.gradcheck --seed 0``).
    rng = np.random.default_rng([seed, 1])
    layer.reset_rng()
    upstream = rng.standard_normal(layer.forward(x).shape)

    def f():
        layer.reset_rng()
        return np.array(layer.forward(x), dtype=np.float64), upstream

    analytic = None
    for attempt in ("first", "second"):
        layer.reset_rng()
        layer.forward(x)
        sent = upstream.copy()
        dx = layer.backward(sent)
        if not np.array_equal(sent, upstream):
            raise ValueError("backward changed dout in place; it must leave the upstream "
                             "gradient as it was (another layer may still read it)")
        gradients = _analytic_gradients(layer, x, dx)
        if analytic is not None:
            for name, grad in gradients.items():
                if not np.allclose(grad, analytic[name], rtol=1e-9, atol=0.0):
                    raise ValueError(f"a second backward gave another gradient of {name!r}: "
                                     "backward must overwrite grads, not add to them")
        analytic = gradients
    errors = {"x": relative_error(dx, numerical_gradient(f, x, h))}
    for name, param, _ in layer.parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(f, param, h))
    return errors


def _check_keeps_float32(layer, x):
    """ValueError if a layer with float32 parameters (or none) gives float32 input another
    dtype in forward, dx or a gradient (NumPy 2 promotes float32 * a float64 scalar to
    float64, which would then spread through a whole network)."""
    if any(np.asarray(param).dtype != np.float32 for _, param, _ in layer.parameters()):
        return
    x32 = np.asarray(x).astype(np.float32)
    layer.reset_rng()
    y = layer.forward(x32)
    dx = layer.backward(np.ones(np.shape(y), dtype=np.float32))
    found = [("forward's output", np.asarray(y).dtype), ("dx", np.asarray(dx).dtype)]
    found += [(f"the gradient of {name!r}", np.asarray(grad).dtype)
              for name, _, grad in layer.parameters() if grad is not None]
    for what, dtype in found:
        if dtype != np.float32:
            raise ValueError(f"float32 input gave {what} of dtype {dtype}; a layer keeps its "
                             "input's dtype (cast float64 constants with x.dtype)")


def check_loss(loss, pred, target, h=1e-3):
    """Relative error of ``loss.backward()`` against centred differences of ``loss.forward``."""
    pred = np.array(pred, dtype=np.float64)
    loss.forward(pred, target)
    analytic = np.array(loss.backward())
    numeric = numerical_gradient(lambda: float(loss.forward(pred, target)), pred, h)
    return relative_error(analytic, numeric)


def check_model(model, loss, x, y, h=1e-3):
    """Errors of a whole model trained through ``loss``: ``{"x": err, "<param>": err, ...}``.

    The model is cast to float64 in place. Max-pools and ReLUs inside make the check sensitive
    to kinks, and a bias before batch-norm has a zero gradient: see the module docstring for
    how to read errors above ``TOLERANCE`` in those cases.
    """
    model.astype(np.float64)
    x = np.array(x, dtype=np.float64)

    def f():
        model.reset_rng()
        return float(loss.forward(model.forward(x), y))

    f()
    dx = model.backward(loss.backward())
    analytic = _analytic_gradients(model, x, dx)
    errors = {"x": relative_error(dx, numerical_gradient(f, x, h))}
    for name, param, _ in model.parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(f, param, h))
    return errors


def distinct_values(shape, rng, spacing=0.05):
    """An array of ``shape`` whose entries are all different (a shuffled grid, centred),
    for max-pool checks: no ties, so a small perturbation never changes the winner."""
    size = int(np.prod(shape))
    values = (np.arange(size) - size / 2) * spacing
    return rng.permutation(values).reshape(shape)


def away_from_zero(shape, rng, margin=0.1):
    """Standard normal entries pushed at least ``margin`` away from 0 (ReLU / L1 kinks)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def cases(rng):
    """``(layers, losses)``: lists of ``(label, object, inputs)`` for every layer, container
    and loss of the engine, built from ``rng``; a loss's inputs are ``(pred, target)``."""
    import nn

    r = rng
    img = r.standard_normal((2, 3, 6, 6))
    layers = [
        ("Dense", nn.Dense(5, 4, rng=r), r.standard_normal((3, 5))),
        ("Conv2D k3 p1", nn.Conv2D(3, 4, 3, padding=1, rng=r), img),
        ("Conv2D k3 s2 p1 d2", nn.Conv2D(3, 2, 3, stride=2, padding=1, dilation=2, rng=r), img),
        ("Conv2D 1x1", nn.Conv2D(3, 4, 1, rng=r), img),
        ("Conv2D 1x1 s2", nn.Conv2D(3, 2, 1, stride=2, rng=r), img),
        ("ConvTranspose2D k3 s2 p1", nn.ConvTranspose2D(3, 2, 3, stride=2, padding=1, rng=r), img),
        ("ConvTranspose2D k4 s2 p1", nn.ConvTranspose2D(3, 2, 4, stride=2, padding=1, rng=r), img),
        ("MaxPool2D 2", nn.MaxPool2D(2), distinct_values((2, 3, 6, 6), r)),
        ("MaxPool2D 3 s2", nn.MaxPool2D(3, stride=2), distinct_values((2, 3, 7, 7), r)),
        ("Upsample2D 2", nn.Upsample2D(2), img),
        ("BatchNorm2D train", nn.BatchNorm2D(3), img),
        ("BatchNorm2D eval", _eval_batchnorm(r), img),
        ("Dropout 0.3", nn.Dropout(0.3, seed=1), img),
        ("ReLU", nn.ReLU(), away_from_zero((2, 3, 4, 4), r)),
        ("LeakyReLU", nn.LeakyReLU(0.1), away_from_zero((2, 3, 4, 4), r)),
        ("Tanh", nn.Tanh(), img),
        ("Sigmoid", nn.Sigmoid(), img),
        ("Softmax", nn.Softmax(axis=1), img),
        ("Flatten", nn.Flatten(), img),
        ("Reshape", nn.Reshape((6, 18)), img),
        ("Sequential", nn.Sequential(nn.Conv2D(3, 4, 3, padding=1, rng=r), nn.Tanh(),
                                     nn.Flatten(), nn.Dense(144, 3, rng=r)), img),
        ("Residual", nn.Residual(nn.Sequential(nn.Conv2D(3, 3, 3, padding=1, rng=r), nn.Tanh())), img),
        ("Residual + 1x1 shortcut", nn.Residual(nn.Conv2D(3, 4, 3, padding=1, rng=r),
                                                shortcut=nn.Conv2D(3, 4, 1, rng=r)), img),
        ("SkipConcat (U-Net level)", nn.SkipConcat(nn.Sequential(
            nn.MaxPool2D(2), nn.Conv2D(3, 2, 3, padding=1, rng=r), nn.Sigmoid(),
            nn.Upsample2D(2))), distinct_values(img.shape, r)),
    ]
    logits = r.standard_normal((2, 4, 3, 3))
    soft = r.random((2, 4, 3, 3))
    soft /= soft.sum(axis=1, keepdims=True)
    labels = r.integers(0, 4, size=(2, 3, 3))
    weights = np.array([0.5, 2.0, 1.0, 3.0])
    pred, target = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    losses = [
        ("MSELoss", nn.MSELoss(), (pred, target)),
        ("L1Loss", nn.L1Loss(), (pred, pred - away_from_zero(pred.shape, r))),
        ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.5), (pred, pred - _away_from(pred.shape, r, 0.5))),
        ("SoftmaxCrossEntropyLoss int", nn.SoftmaxCrossEntropyLoss(), (logits, labels)),
        ("SoftmaxCrossEntropyLoss int weighted", nn.SoftmaxCrossEntropyLoss(weights), (logits, labels)),
        ("SoftmaxCrossEntropyLoss soft", nn.SoftmaxCrossEntropyLoss(), (logits, soft)),
        ("SoftmaxCrossEntropyLoss soft weighted", nn.SoftmaxCrossEntropyLoss(weights), (logits, soft)),
        ("SoftmaxCrossEntropyLoss sparse weighted", nn.SoftmaxCrossEntropyLoss(weights),
         (logits, (r.integers(0, 4, size=(2, 2, 3, 3)), r.random((2, 2, 3, 3))))),
        ("SoftmaxCrossEntropyLoss (N, C)", nn.SoftmaxCrossEntropyLoss(), (r.standard_normal((5, 3)),
                                                                          r.integers(0, 3, size=5))),
    ]
    return layers, losses


def _eval_batchnorm(rng):
    import nn

    bn = nn.BatchNorm2D(3)
    bn.forward(rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 2 + 1)
    bn.params["gamma"][:] = rng.uniform(0.5, 1.5, 3)
    bn.params["beta"][:] = rng.standard_normal(3)
    return bn.eval()


def _away_from(shape, rng, kink):
    """Differences whose magnitudes stay at least 0.1 away from ``kink`` (and from 0)."""
    d = rng.uniform(0.1, 2 * kink - 0.1, size=shape) if kink > 0.2 else rng.uniform(0.1, 1, size=shape)
    d = np.where(np.abs(d - kink) < 0.1, d + 0.2, d)
    return d * rng.choice([-1.0, 1.0], size=shape)


SEED = 2024
"""The seed ``python -m nn.gradcheck`` builds its cases with (the report uses it too)."""


def table_rows(seed=SEED):
    """``[(label, worst input or parameter, max relative error)]`` for every layer and loss."""
    layers, losses = cases(np.random.default_rng(seed))
    rows = []
    for label, layer, x in layers:
        errors = check_layer(layer, x)
        worst = max(errors, key=errors.get)
        rows.append((label, worst, errors[worst]))
    for label, loss, (pred, target) in losses:
        rows.append((label, "pred", check_loss(loss, pred, target)))
    return rows


def build_parser():
    parser = OneLineParser(
        prog="python -m nn.gradcheck",
        description="Check every layer's and loss's hand-written backward pass against "
                    "centred differences in float64; print the worst relative error of each, "
                    f"and exit with status 1 if any reaches {TOLERANCE:g}.")
    parser.add_argument("--seed", type=non_negative_int, default=SEED,
                        help=f"seed of the random inputs and weights (default: {SEED})")
    return parser


def report(seed):
    """Print the table for the cases built with ``seed``; return 0 if every check is within
    ``TOLERANCE``, else 1."""
    started = time.perf_counter()
    rows = table_rows(seed)
    width = max(len(r[0]) for r in rows)
    print(f"{'layer / loss':<{width}}  {'worst at':<12}  max relative error")
    print("-" * (width + 40))
    for label, where, err in rows:
        print(f"{label:<{width}}  {where:<12}  {err:.2e}  {'ok' if err < TOLERANCE else 'FAIL'}")
    worst = max(r[2] for r in rows)
    failed = sum(err >= TOLERANCE for _, _, err in rows)
    print("-" * (width + 40))
    verdict = "all pass" if not failed else f"{failed} FAIL"
    print(f"{len(rows)} checks, {verdict} (tolerance {TOLERANCE:g}), worst {worst:.2e}, "
          f"{time.perf_counter() - started:.1f} s (float64, centred differences)")
    return 1 if failed else 0


def main(argv=None):
    """``python -m nn.gradcheck [--seed N]``: the table; exit status 0 (all pass), 1 (a check
    failed) or 2 (bad arguments)."""
    return run_command(lambda: report(build_parser().parse_args(argv).seed))


if __name__ == "__main__":
    raise SystemExit(main())
