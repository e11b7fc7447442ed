"""Exceptions of the engine that a user may see; each carries one clear sentence."""


class NNError(Exception):
    """Base class of the engine's user-facing errors (the CLI prints ``error: <message>``)."""


class StateDictError(NNError, ValueError):
    """A state dict or a saved model does not match the model (keys, shapes, dtypes, file)."""


class TrainingDivergedError(NNError, RuntimeError):
    """The training loss became NaN or infinite."""
