"""The layer contract and the parameter tree shared by layers and containers.

A layer is a forward/backward pair (the CS231n contract, as a class):

- ``forward(x) -> y`` computes the output and caches what ``backward`` needs;
- ``backward(dout) -> dx`` takes ``dL/dy`` (same shape as ``y``), returns ``dL/dx`` and
  *overwrites* ``self.grads[name] = dL/dparams[name]`` for every parameter; it never mutates
  ``dout`` and keeps the dtype (float32 in, float32 out; float64 for gradient checks);
- ``params`` and ``grads`` are dicts; ``grads`` is empty until the first backward, which
  fills it with the keys of ``params`` (``parameters()`` yields ``None`` as the gradient until
  then, and the optimizers skip it); ``buffers`` holds state that is saved but not trained
  (batch-norm running statistics);
- ``training`` switches train / eval behaviour (dropout, batch-norm); ``train()`` / ``eval()``
  set it recursively.

Writing a layer: call ``super().__init__()`` first (it creates ``params``, ``grads``,
``buffers`` and ``training``); parameters are arrays (0-d allowed), float32 by default; use
``xp = get_array_module(x)`` rather than ``np`` so the layer also runs on CuPy; a layer that
draws random numbers overrides ``reset_rng`` (gradient checks need every forward to draw the
same). :func:`nn.errors.saved_by_forward` and :func:`nn.errors.checked_upstream` give clear
errors for a backward called before forward or with a ``dout`` of the wrong shape.
:func:`nn.gradcheck.check_layer` checks a new layer against this contract and its gradients
against centred differences.

Containers are layers whose ``children()`` are other layers; names compose with dots, so the
weight of the first layer inside the body of the third layer of a Sequential is
``"2.body.0.W"``. ``parameters()`` walks that tree and yields ``(name, param, grad)``, reading
``grads`` at the time of the walk, so an optimizer that walks it in ``step()`` always sees the
gradients of the latest ``backward``.
"""

import contextlib
import errno
import os
import tempfile
import zipfile

import numpy as np

from nn.backend import get_array_module, is_whole_number, to_device, to_numpy
from nn.errors import StateDictError, first_line


def positive_sizes(owner, **sizes):
    """The ``sizes`` (channels, features) as ints, or ValueError naming ``owner`` and the size
    that is not a whole number of at least 1."""
    out = []
    for name, value in sizes.items():
        if not (is_whole_number(value) and value >= 1):
            raise ValueError(f"{owner} needs {name} to be a whole number of at least 1, got {value!r}")
        out.append(int(value))
    return tuple(out)


def floating(x):
    """``x`` in a floating-point dtype: integer or bool input is converted the way NumPy
    promotes it against float32 (uint8 -> float32, int64 -> float64), as the products of Dense
    and Conv2D do; float input is returned as is. Layers whose arithmetic would stay in an
    integer dtype (a slope of 0.01, 1 / std, -|x| of an unsigned value) call this first."""
    if x.dtype.kind in "fc":
        return x
    return x.astype(np.promote_types(x.dtype, np.float32))


def shape_of(x):
    """``x``'s shape, or the name of its type when it has none (a list given for an array), for
    the error messages of layers."""
    return getattr(x, "shape", type(x).__name__)


def require_nchw(owner, x):
    """ValueError naming ``owner`` unless ``x`` is a 4-D (N, C, H, W) batch."""
    if getattr(x, "ndim", None) != 4:
        raise ValueError(f"{owner} expects (N, C, H, W), got {shape_of(x)}")


class Layer:
    """Base class of every layer: holds ``params`` and ``grads`` (empty here); subclasses
    implement ``forward`` and ``backward``."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True

    def forward(self, x):
        """``x -> y``; it saves on the layer what ``backward`` needs (in either mode)."""
        raise NotImplementedError

    def backward(self, dout):
        """``dout = dL/dy`` (the shape of the latest ``forward``'s output) -> ``dL/dx``. Uses
        what that forward saved (read through :func:`nn.errors.saved_by_forward`, which says
        clearly when no forward has run) and refuses a ``dout`` of another shape
        (:func:`nn.errors.checked_upstream`), fills ``self.grads`` (one entry per parameter,
        overwritten, not accumulated) and never changes ``dout``."""
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def children(self):
        """``[(name, layer), ...]`` of direct sub-layers (empty for a plain layer)."""
        return []

    def extra_repr(self):
        """Arguments shown by ``repr`` and ``summary``."""
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    # -- modes -----------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this layer and every sub-layer; returns ``self``."""
        self.training = bool(mode)
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode (dropout off, batch-norm uses running statistics); returns ``self``."""
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self):
        """``with layer.evaluating():`` evaluation mode for the block; afterwards every layer
        has its own flag back (``train(was_training)`` would instead give all of them the
        top's, undoing a batch-norm frozen in eval mode while the rest trains)."""
        modes = [(layer, layer.training) for layer in self._self_and_descendants()]
        self.eval()
        try:
            yield self
        finally:
            for layer, mode in modes:
                layer.training = mode

    def _self_and_descendants(self):
        yield self
        for _, child in self.children():
            yield from child._self_and_descendants()

    def reset_rng(self):
        """Restart every random stream from its seed (dropout); used by gradient checks."""
        for _, child in self.children():
            child.reset_rng()

    # -- the parameter tree ----------------------------------------------------------------
    def parameters(self, prefix=""):
        """Yield ``(name, param, grad)`` for every parameter; ``grad`` is None before backward."""
        for key, value in self.params.items():
            yield prefix + key, value, self.grads.get(key)
        for name, child in self.children():
            yield from child.parameters(f"{prefix}{name}.")

    def named_buffers(self, prefix=""):
        """Yield ``(name, buffer)`` for every buffer (saved, not trained)."""
        for key, value in self.buffers.items():
            yield prefix + key, value
        for name, child in self.children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def num_parameters(self):
        """Total number of trainable scalars."""
        return sum(int(p.size) for _, p, _ in self.parameters())

    def _slots(self, prefix=""):
        """Yield ``(name, dict, key)`` for every parameter and buffer, for in-place updates."""
        for key in self.params:
            yield prefix + key, self.params, key
        for key in self.buffers:
            yield prefix + key, self.buffers, key
        for name, child in self.children():
            yield from child._slots(f"{prefix}{name}.")

    def _grad_dicts(self):
        yield self.grads
        for _, child in self.children():
            yield from child._grad_dicts()

    def state_dict(self):
        """``{name: copy}`` of every parameter and buffer, in tree order.

        Copies, not views: a saved state dict is not changed by later optimizer steps, which
        is what early stopping needs when it keeps the best weights.
        """
        return {name: d[key].copy() for name, d, key in self._slots()}

    def load_state_dict(self, state):
        """Copy ``state`` into the parameters and buffers in place (strict).

        Keys must match exactly, and every array must have the same shape and dtype; arrays
        may live on either device and are moved to the model's. In-place copies keep the
        arrays' identity, so an optimizer built before the load keeps working.
        """
        slots = {name: (d, key) for name, d, key in self._slots()}
        missing = [k for k in slots if k not in state]
        unexpected = [k for k in state if k not in slots]
        if missing or unexpected:
            raise StateDictError(f"state dict does not match the model: missing "
                                 f"{_some(missing)}, unexpected {_some(unexpected)}")
        for name, (d, key) in slots.items():
            target, value = d[key], state[name]
            if not hasattr(value, "shape"):
                raise StateDictError(f"state dict entry {name!r} is {type(value).__name__}, "
                                     "not an array")
            if tuple(value.shape) != tuple(target.shape) or value.dtype != target.dtype:
                raise StateDictError(
                    f"state dict entry {name!r} has shape {tuple(value.shape)} and dtype "
                    f"{value.dtype}, the model expects {tuple(target.shape)} and {target.dtype}"
                )
        for name, (d, key) in slots.items():
            target = d[key]
            xp = get_array_module(target)
            target[...] = to_numpy(state[name]) if xp is np else xp.asarray(state[name])

    def save(self, path):
        """Write the state dict to ``path`` as ``.npz`` (host arrays), atomically."""
        return save_npz(path, {name: to_numpy(value) for name, value in self.state_dict().items()})

    def load(self, path):
        """Load a state dict saved by :meth:`save` (strict); returns ``self``."""
        try:
            state = load_npz(path)
        except StateDictError as exc:
            raise StateDictError(f"cannot read model file {os.fspath(path)!r}: {exc}") from None
        self.load_state_dict(state)
        return self

    # -- placement -------------------------------------------------------------------------
    def to(self, device):
        """Move parameters, gradients and buffers to ``"cpu"``, ``"gpu"`` or ``"auto"``."""
        for _, d, key in self._slots():
            d[key] = to_device(d[key], device)
        for grads in self._grad_dicts():
            for key in grads:
                if grads[key] is not None:  # a gradient not computed yet
                    grads[key] = to_device(grads[key], device)
        return self

    def astype(self, dtype):
        """Cast parameters, gradients and buffers to ``dtype`` (float64 for gradient checks)."""
        for _, d, key in self._slots():
            d[key] = d[key].astype(dtype)
        for grads in self._grad_dicts():
            for key in grads:
                if grads[key] is not None:  # a gradient not computed yet
                    grads[key] = grads[key].astype(dtype)
        return self

    @property
    def device(self):
        """``"gpu"`` when the parameters are CuPy arrays, else ``"cpu"``."""
        for _, p, _ in self.parameters():
            return "gpu" if type(p).__module__.startswith("cupy") else "cpu"
        for _, b in self.named_buffers():
            return "gpu" if type(b).__module__.startswith("cupy") else "cpu"
        return "cpu"


def load_npz(path):
    """The dict of host arrays in the ``.npz`` file ``path`` (as :func:`save_npz` writes it).

    Raises StateDictError with a short reason (the caller names the file): the file is
    missing or unreadable, not an .npz archive, a single .npy array, corrupt, or holds Python
    objects, which are never loaded (``allow_pickle=False``: loading them runs code).
    """
    try:
        data = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # NumPy's ValueError for a file it does not recognise advises loading it with pickle,
        # which is not advice to pass on
        raise StateDictError("not an .npz archive" if isinstance(exc, ValueError)
                             else first_line(exc)) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise StateDictError("a single .npy array, not an .npz archive")
    try:
        with data:
            return {key: data[key] for key in data.files}
    except ValueError as exc:
        raise StateDictError("it holds Python objects, which are not loaded" if "pickle" in str(exc)
                             else first_line(exc)) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise StateDictError(first_line(exc)) from None


def save_npz(path, arrays):
    """Write a dict of host arrays to ``path`` as ``.npz``, atomically (a temporary file in
    the same folder, then a rename), so an interrupted save never leaves half a file.

    Returns ``path``; OSError when the folder cannot take the temporary file, or when ``path``
    exists and is not a regular file (a folder, a device, a pipe).
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path):
        # the rename below would put the file in place of a device or a pipe (/dev/null, say)
        raise FileExistsError(errno.EEXIST, "Not a regular file, so it is not replaced", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        # named here: mkstemp's error would name the hidden temporary file instead
        raise FileNotFoundError(errno.ENOENT, "No such folder", folder)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".npz.tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would have given
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        # gone already when the interrupt came right after the rename: the save succeeded
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _some(keys, shown=4):
    """The first ``shown`` of ``keys`` and how many more: a model's keys can run to hundreds."""
    if not keys:
        return "nothing"
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{keys[:shown]}{more}"
