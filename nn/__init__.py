"""The neural-network engine: layers with hand-written forward and backward passes.

Everything here works on arrays (NumPy on the CPU, CuPy on an NVIDIA GPU) and knows nothing
about images: layers, losses, optimizers, the Sequential container, the training loop and the
numerical gradient check. There is no automatic differentiation: every ``backward`` is written
out by hand next to its ``forward`` and checked against centred finite differences.
"""

from nn.backend import DeviceError
from nn.errors import NNError, StateDictError, TrainingDivergedError
from nn.layers import (BatchNorm2D, Conv2D, ConvTranspose2D, Dense, Dropout, Flatten, Layer,
                       LeakyReLU, MaxPool2D, ReLU, Reshape, Sigmoid, Softmax, Tanh, Upsample2D)
from nn.losses import L1Loss, MSELoss, SmoothL1Loss, SoftmaxCrossEntropyLoss
from nn.model import Residual, Sequential, SkipConcat
from nn.optim import SGD, Adam, CosineLR, ReduceLROnPlateau, StepLR, WeightAverage
from nn.train import fit

__all__ = [
    "Layer", "Dense", "Conv2D", "ConvTranspose2D", "MaxPool2D", "Upsample2D", "BatchNorm2D",
    "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Flatten", "Reshape",
    "Sequential", "Residual", "SkipConcat",
    "MSELoss", "L1Loss", "SmoothL1Loss", "SoftmaxCrossEntropyLoss",
    "SGD", "Adam", "StepLR", "CosineLR", "ReduceLROnPlateau", "WeightAverage",
    "fit", "NNError", "DeviceError", "StateDictError", "TrainingDivergedError",
]
