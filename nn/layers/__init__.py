"""Layers, one module per family: dense, conv, pool, activations, norm, dropout, shape.

``base`` holds what every layer shares (the forward/backward contract, the parameter tree,
state dicts, save and load); the containers (Sequential, Residual, SkipConcat) are in
``nn.model``.
"""

from nn.layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nn.layers.base import Layer
from nn.layers.conv import Conv2D, ConvTranspose2D
from nn.layers.dense import Dense
from nn.layers.dropout import Dropout
from nn.layers.norm import BatchNorm2D
from nn.layers.pool import MaxPool2D, Upsample2D
from nn.layers.shape import Flatten, Reshape

__all__ = [
    "Layer", "Dense", "Conv2D", "ConvTranspose2D", "MaxPool2D", "Upsample2D", "BatchNorm2D",
    "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Flatten", "Reshape",
]
