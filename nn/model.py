"""Containers: a chain of layers, a residual (add) block and a concatenating skip block.

Nested, they build more than chains: a U-Net level is
``SkipConcat(Sequential(MaxPool2D(2), ..., Upsample2D(2)))`` inside a ``Sequential``; a
ResNet block is ``Residual(Sequential(Conv2D, BatchNorm2D, ReLU, Conv2D))``. Where one tensor
feeds two paths, backward adds the two gradients (the multivariate chain rule).
"""

import copy

import numpy as np

from nn.backend import array_module_for, get_array_module
from nn.errors import saved_by_forward
from nn.layers.base import Layer


def _shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def walk(layer):
    """``layer`` and every layer below it, depth first."""
    yield layer
    for _, child in layer.children():
        yield from walk(child)


def _refuse_reused(owner, layers):
    """TypeError unless ``layers`` are Layers; ValueError if one layer object occurs twice in
    them or below them. A layer keeps what its last forward saved for backward, so a second
    use overwrites the first use's values and its gradients come out wrong, silently."""
    seen = set()
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner} takes layers, got {type(layer).__name__}")
        for part in walk(layer):
            if id(part) in seen:
                raise ValueError(f"{owner} got the same {type(part).__name__} object twice: a layer "
                                 "keeps what its forward saved for backward, so each use needs its "
                                 f"own instance (write {type(part).__name__}(...) again); weights "
                                 "shared between two places are not supported")
            seen.add(id(part))


class Sequential(Layer):
    """``y = layers[-1](...layers[0](x))``; backward runs the layers in reverse.

    Parameters are named ``"<index>.<name>"`` (``"0.W"``, ``"3.gamma"``). Each layer object
    may occur once in a model (a layer keeps what forward saved for backward): ``ReLU()`` used
    in three places is three ``ReLU()`` objects.
    """

    def __init__(self, *layers):
        super().__init__()
        _refuse_reused("Sequential", layers)
        self.layers = list(layers)

    def children(self):
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __repr__(self):
        body = "\n".join(f"  ({i}) {layer!r}".replace("\n", "\n  ")
                         for i, layer in enumerate(self.layers))
        return f"Sequential(\n{body}\n)"

    def forward(self, x):
        # unset until every layer has run: after a failed forward, backward says "before
        # forward" instead of running on what the layers saved from two different calls
        self._out_shape = None
        for layer in self.layers:
            x = layer.forward(x)
        self._out_shape = x.shape
        return x

    def backward(self, dout):
        """``dL/dy -> dL/dx`` through the layers in reverse. ``dout`` must have the shape of
        forward's output: broadcasting a wrong one (a loss value, a missing axis) would give
        gradients of the wrong size deep inside, or none of the right meaning."""
        expected = saved_by_forward(self, "_out_shape")
        if getattr(dout, "shape", None) != expected:
            raise ValueError(f"Sequential.backward needs dout of shape {expected} (forward's "
                             f"output), got {getattr(dout, 'shape', type(dout).__name__)}; "
                             "pass loss.backward(), not the loss")
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def _probe_copy(self):
        """A copy with the weights but without what the layers saved for backward (their
        private arrays, by the engine's convention ``self._x`` and the like), which after a
        training forward can be hundreds of times larger than the weights."""
        saved = {id(value): None for layer in self._self_and_descendants()
                 for name, value in vars(layer).items()
                 if name.startswith("_") and hasattr(value, "nbytes")}
        # Nor Dropout's random streams: a copy of a cupy.random.RandomState shares its cuRAND
        # handle, which the copy destroys when it is collected; the probe runs in eval mode
        # and draws nothing
        saved.update({id(layer._rngs): {} for layer in self._self_and_descendants()
                      if isinstance(getattr(layer, "_rngs", None), dict)})
        return copy.deepcopy(self, saved)

    def summary(self, input_shape=None, dtype=np.float32):
        """A Keras-like table: layer, output shape, parameter count; and the totals.

        With ``input_shape`` (per sample, without the batch axis, e.g. ``(1, 64, 64)``) the
        output shapes are found by running one zero sample through a copy of the model in eval
        mode, so the model itself is not touched (its modes, its running statistics, and what
        a forward saved for the next backward all stay); without it the shape column is left
        out.
        """
        rows = []
        x = None
        probe = self
        if input_shape is not None:
            probe = self._probe_copy().eval()
            if isinstance(input_shape, (int, np.integer)):
                input_shape = (input_shape,)  # summary(4) for a model of 4 input features
            x = self._zeros((1,) + tuple(input_shape), dtype)
        for i, layer in enumerate(probe.layers):
            shape = ""
            if x is not None:
                x = layer.forward(x)
                shape = _shape_str(("N",) + tuple(x.shape[1:]))
            rows.append((f"{i}: {type(layer).__name__}", shape, layer.num_parameters()))
        rows.append(("total", "", self.num_parameters()))
        w0 = max(len("layer"), *(len(r[0]) for r in rows))
        w1 = max(len("output shape"), *(len(r[1]) for r in rows))
        lines = [f"{'layer':<{w0}}  {'output shape':<{w1}}  {'params':>10}",
                 "-" * (w0 + w1 + 14)]
        for name, shape, count in rows[:-1]:
            lines.append(f"{name:<{w0}}  {shape:<{w1}}  {count:>10,}")
        lines.append("-" * (w0 + w1 + 14))
        lines.append(f"{'total':<{w0}}  {'':<{w1}}  {rows[-1][2]:>10,}")
        return "\n".join(lines)

    def _zeros(self, shape, dtype):
        return array_module_for(self.device).zeros(shape, dtype=dtype)


class Residual(Layer):
    """``y = shortcut(x) + body(x)``, with ``shortcut`` the identity by default.

    Backward: ``dx = shortcut'(dout) + body'(dout)``. A non-identity shortcut (for example a
    1x1 Conv2D) matches channel counts when the body changes them. Names: ``"body.*"``,
    ``"shortcut.*"``.
    """

    def __init__(self, body, shortcut=None):
        super().__init__()
        _refuse_reused("Residual", [body] if shortcut is None else [body, shortcut])
        self.body, self.shortcut = body, shortcut

    def children(self):
        kids = [("body", self.body)]
        if self.shortcut is not None:
            kids.append(("shortcut", self.shortcut))
        return kids

    def __repr__(self):
        return f"Residual(body={self.body!r}, shortcut={self.shortcut!r})"

    def forward(self, x):
        y = self.body.forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != skip.shape:
            raise ValueError(f"Residual body gives {y.shape} but the shortcut gives {skip.shape}")
        return skip + y

    def backward(self, dout):
        dx = self.body.backward(dout)
        if self.shortcut is None:
            return dx + dout
        return dx + self.shortcut.backward(dout)


class SkipConcat(Layer):
    """``y = concatenate([x, body(x)], axis)`` (channels by default): a U-Net skip.

    x: (N, C, H, W), body(x): (N, C', H, W) -> y: (N, C + C', H, W). Backward splits ``dout``
    along ``axis`` and adds the direct part to the body's input gradient. Names: ``"body.*"``.
    """

    def __init__(self, body, axis=1):
        super().__init__()
        _refuse_reused("SkipConcat", [body])
        self.body, self.axis = body, int(axis)

    def children(self):
        return [("body", self.body)]

    def __repr__(self):
        return f"SkipConcat(body={self.body!r}, axis={self.axis})"

    def forward(self, x):
        y = self.body.forward(x)
        self._split = x.shape[self.axis]
        return get_array_module(x).concatenate([x, y], axis=self.axis)

    def backward(self, dout):
        split = saved_by_forward(self, "_split")
        index = [slice(None)] * dout.ndim
        index[self.axis] = slice(None, split)
        direct = dout[tuple(index)]
        index[self.axis] = slice(split, None)
        return direct + self.body.backward(dout[tuple(index)])
