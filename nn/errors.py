"""Exceptions of the engine that a user may see; each carries one clear sentence.

``DeviceError`` (a device that is not there; also an ``NNError``) lives with the device code
in ``nn.backend``, and ``UsageError`` (a bad command-line argument) with the command-line
plumbing in ``nn.cli``.
"""


class NNError(Exception):
    """Base class of the engine's user-facing errors (the CLI prints ``error: <message>``)."""


class StateDictError(NNError, ValueError):
    """A state dict or a saved model does not match the model (keys, shapes, dtypes, file)."""


class TrainingDivergedError(NNError, RuntimeError):
    """The training or the validation loss became NaN or infinite (:func:`nn.fit`)."""


def first_line(exc):
    """The first line of an exception's message (the rest, a library's advice or a dump, is
    not for an ``error:`` line), or its type's name when the message is empty."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def saved_by_forward(owner, name):
    """The value ``owner.forward`` saved as attribute ``name`` for ``backward``.

    Raises RuntimeError naming the layer or loss when no forward has run yet (a common slip:
    backward first), instead of an AttributeError about a private attribute.
    """
    value = getattr(owner, name, None)
    if value is None:
        raise RuntimeError(f"{type(owner).__name__}.backward was called before forward: "
                           "backward needs what forward saves")
    return value


def checked_upstream(owner, dout, shape):
    """``dout`` (dL/dy), once it has ``shape``, the shape of ``owner.forward``'s output y.

    Raises ValueError naming the layer and both shapes otherwise: NumPy would broadcast many
    wrong shapes (a (N, 1) gradient for a (N,) output, say) into a wrong gradient, silently.
    """
    if tuple(dout.shape) != tuple(shape):
        raise ValueError(f"{type(owner).__name__}.backward got dL/dy of shape {tuple(dout.shape)}; "
                         f"its forward returned {tuple(shape)}, and the two must match")
    return dout
