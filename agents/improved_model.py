"""The improved agent's networks: small fully convolutional nets built from ``nn`` layers.

The training data is one half photo, so the nets are small (16-64 channels at the default
width) and get their context from structure rather than size:

- ``unet``: a U-Net (Ronneberger et al. 2015) with two 2x downsamplings. Level 0 works at
  full resolution (``width`` channels), level 1 at 1/2 (``2 width``), level 2 at 1/4
  (``4 width``, with dilations 1, 2, 4 for a wide view); nearest upsampling and concatenating
  skips bring the context back to every pixel. Receptive field about 75 px (one changed
  input pixel changes a 74 x 74 block of the output).
- ``dilated``: a plain stack of 3x3 convolutions with dilations 1, 2, 4, 8, 16, 1 (Yu and
  Koltun 2016) at full resolution: receptive field 65 px without any downsampling, but every
  layer pays full-resolution cost.

Every 3x3 convolution is followed by batch-norm and ReLU; the head is a 1x1 convolution to
``out_channels`` (2 chroma values for regression, Q class scores for classification).

Shapes: (N, C_in, H, W) -> (N, C_out, H, W). The U-Net needs H and W divisible by 4;
:func:`predict` pads by edge replication and crops back, so any size goes in.
"""

import numpy as np

from nn import BatchNorm2D, Conv2D, MaxPool2D, ReLU, Sequential, SkipConcat, Upsample2D
from nn.backend import get_array_module

ARCHITECTURES = ("unet", "dilated")
DILATIONS = (1, 2, 4, 8, 16, 1)
CONTEXT_MARGIN = 48
"""Pixels of context that a crop keeps around the pixels whose prediction must equal the whole
image's: more than either network's reach (no output depends on an input more than 38 pixels
away for the U-Net, 32 for the dilated stack; see the receptive fields above)."""


def _conv_block(cin, cout, rng, dilation=1):
    """3x3 convolution (same size) + batch-norm + ReLU. The convolution keeps its columns
    from forward to backward (``keep_columns``): on the training crops that costs 66 MiB for
    the default U-Net and saves an im2col per layer and step (astronaut at 256 px, one BLAS
    thread: training 54.6 s -> 48.7 s, the same weights bit for bit)."""
    return [Conv2D(cin, cout, 3, padding=dilation, dilation=dilation, rng=rng, keep_columns=True),
            BatchNorm2D(cout), ReLU()]


def build_unet(in_channels, out_channels, width, rng):
    """U-Net with two downsamplings; see the module docstring."""
    w = width
    level2 = Sequential(
        MaxPool2D(2),
        *_conv_block(2 * w, 4 * w, rng),
        *_conv_block(4 * w, 4 * w, rng, dilation=2),
        *_conv_block(4 * w, 4 * w, rng, dilation=4),
        Upsample2D(2),
    )
    level1 = Sequential(
        MaxPool2D(2),
        *_conv_block(w, 2 * w, rng),
        SkipConcat(level2),
        *_conv_block(6 * w, 2 * w, rng),
        Upsample2D(2),
    )
    return Sequential(
        *_conv_block(in_channels, w, rng),
        *_conv_block(w, w, rng),
        SkipConcat(level1),
        *_conv_block(3 * w, w, rng),
        Conv2D(w, out_channels, 1, rng=rng, init="xavier"),
    )


def build_dilated(in_channels, out_channels, width, rng):
    """Stack of dilated 3x3 convolutions at full resolution; see the module docstring."""
    layers, c = [], in_channels
    for d in DILATIONS:
        layers += _conv_block(c, width, rng, dilation=d)
        c = width
    layers.append(Conv2D(width, out_channels, 1, rng=rng, init="xavier"))
    return Sequential(*layers)


def build_model(arch, in_channels, out_channels, width, seed):
    """The network ``arch`` (one of ``ARCHITECTURES``) with weights drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    if arch == "unet":
        return build_unet(in_channels, out_channels, width, rng)
    if arch == "dilated":
        return build_dilated(in_channels, out_channels, width, rng)
    raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def size_multiple(arch):
    """Height and width of the input must be multiples of this (the U-Net pools twice)."""
    return 4 if arch == "unet" else 1


def pad_to_multiple(x, multiple):
    """Edge-replicate (N, C, H, W) ``x`` at the bottom and right to multiples of ``multiple``."""
    xp = get_array_module(x)
    h, w = x.shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return xp.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")


def predict(model, x, multiple):
    """Eval-mode output of ``model`` for (N, C, H, W) ``x`` of any size (padded and cropped)."""
    with model.evaluating():
        h, w = x.shape[2:]
        return model.forward(pad_to_multiple(x, multiple))[:, :, :h, :w]


def crop_start(position, multiple, margin=CONTEXT_MARGIN):
    """Where a crop must start (row or column) for its outputs from ``position`` on to equal
    the whole image's: ``margin`` pixels earlier, rounded down to a multiple of ``multiple``
    (the pooling grid: a crop that starts off it pools other 2x2 cells than the image)."""
    return max(0, position - margin) // multiple * multiple


def predict_tiled(model, x, multiple, tile=256, margin=CONTEXT_MARGIN):
    """Eval-mode output for a large (N, C, H, W) ``x`` (the agent passes one image, N = 1),
    computed tile by tile.

    Each ``tile`` x ``tile`` block is predicted with ``margin`` pixels of context on every
    side (cut away afterwards), so memory stays bounded by one tile's activations whatever
    the image size. Tiles start on the pooling grid and share the image's own borders, so
    with a margin at least the network's reach (the U-Net's: 38 pixels) the result equals
    the whole-image prediction everywhere, up to float rounding. Small inputs go through
    whole.
    """
    xp = get_array_module(x)
    h, w = x.shape[2:]
    if h <= tile + 2 * margin and w <= tile + 2 * margin:
        return predict(model, x, multiple)
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            y0, x0 = crop_start(top, multiple, margin), crop_start(left, multiple, margin)
            y1, x1 = min(h, top + tile + margin), min(w, left + tile + margin)
            part = predict(model, x[:, :, y0:y1, x0:x1], multiple)
            if out is None:
                out = xp.empty((x.shape[0], part.shape[1], h, w), dtype=part.dtype)
            bottom, right = min(h, top + tile), min(w, left + tile)
            out[:, :, top:bottom, left:right] = part[:, :, top - y0:bottom - y0, left - x0:right - x0]
    return out
