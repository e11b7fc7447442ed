"""Exceptions of the engine that a user may see; each carries one clear sentence.

``DeviceError`` (a device that is not there) lives with the device code in ``nn.backend``, and
``UsageError`` (a bad command-line argument) with the command-line plumbing in ``nn.cli``.
"""


class NNError(Exception):
    """Base class of the engine's user-facing errors (the CLI prints ``error: <message>``)."""


class StateDictError(NNError, ValueError):
    """A state dict or a saved model does not match the model (keys, shapes, dtypes, file)."""


class TrainingDivergedError(NNError, RuntimeError):
    """The training loss became NaN or infinite."""


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
