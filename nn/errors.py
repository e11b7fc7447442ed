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
