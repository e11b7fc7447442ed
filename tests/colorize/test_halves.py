"""colorize.halves: the left/right protocol split, composition and size check."""

import numpy as np
import pytest

from colorize.color import rgb_to_gray
from colorize.io import resize_to
from colorize.halves import (
    MIN_HEIGHT,
    MIN_WIDTH,
    ProtocolError,
    check_protocol_size,
    compose_halves,
    left_slice,
    protocol_inputs,
    resize_halves,
    right_slice,
    split_halves,
)


@pytest.mark.parametrize("w", [8, 9, 10, 11, 257])
def test_split_columns_and_compose_inverse(w):
    img = np.random.default_rng(w).integers(0, 256, (8, w, 3), dtype=np.uint8)
    left, right = split_halves(img)
    assert left.shape[1] == w // 2 and right.shape[1] == w - w // 2
    np.testing.assert_array_equal(left, img[:, : w // 2])
    np.testing.assert_array_equal(right, img[:, w // 2 :])
    np.testing.assert_array_equal(compose_halves(left, right), img)
    assert right_slice(w) == slice(w // 2, w) and left_slice(w) == slice(0, w // 2)
    gray = rgb_to_gray(img)
    gl, gr = split_halves(gray)
    assert gl.shape == (8, w // 2) and gr.shape == (8, w - w // 2)


def test_compose_refuses_mismatched_halves():
    with pytest.raises(ValueError):
        compose_halves(np.zeros((8, 4, 3)), np.zeros((7, 4, 3)))


def test_minimum_size():
    assert (MIN_WIDTH, MIN_HEIGHT) == (8, 8)
    check_protocol_size((8, 8))
    check_protocol_size((8, 8, 3))
    for shape in [(7, 8), (8, 7), (1, 1), (100, 5, 3)]:
        with pytest.raises(ProtocolError) as info:
            check_protocol_size(shape)
        msg = str(info.value)
        assert "8 x 8" in msg and f"{shape[1]} x {shape[0]}" in msg and "\n" not in msg


def test_protocol_inputs():
    rgb = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    left, right_gray, right = protocol_inputs(rgb)
    np.testing.assert_array_equal(left, rgb[:, :5])
    np.testing.assert_array_equal(right, rgb[:, 5:])
    np.testing.assert_allclose(right_gray, rgb_to_gray(rgb[:, 5:]))
    with pytest.raises(ProtocolError):
        protocol_inputs(rgb[:, :7])
    with pytest.raises(ValueError, match="multiply a 0..1 image by 255"):
        protocol_inputs(rgb / 255.0)


def test_left_half_is_gray_looks_at_the_training_half_only():
    from colorize.halves import left_half_is_gray

    rgb = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    assert not left_half_is_gray(rgb)
    rgb[:, :3] = rgb[:, :3, :1]
    assert left_half_is_gray(rgb)
    assert not left_half_is_gray(rgb[:, :1])  # an empty left half is a size error, not gray


def test_protocol_inputs_names_the_shape_of_the_photo_it_was_given():
    with pytest.raises(ValueError, match=r"got shape \(8, 9\)"):
        protocol_inputs(np.full((8, 9), 5.0))


@pytest.mark.parametrize("width, target", [(40, 20), (41, 20), (41, 21), (64, 17), (30, 30)])
def test_resize_halves_resizes_each_half_on_its_own(width, target):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (24, width, 3), dtype=np.uint8)
    other = photo.copy()
    other[:, width // 2:] = rng.integers(0, 256, other[:, width // 2:].shape, dtype=np.uint8)
    small, small_other = resize_halves(photo, (12, target)), resize_halves(other, (12, target))
    assert small.shape == (12, target, 3) and small.dtype == np.uint8
    left, right = split_halves(small)
    assert left.shape[1] == target // 2 and right.shape[1] == target - target // 2
    assert np.array_equal(left, resize_to(split_halves(photo)[0], (12, target // 2)))
    # another right half changes nothing on the left, which resizing the whole photo would
    assert np.array_equal(split_halves(small_other)[0], left)
    whole = resize_to(photo, (12, target)), resize_to(other, (12, target))
    if target < width:
        assert not np.array_equal(split_halves(whole[0])[0], split_halves(whole[1])[0])


def test_resize_halves_refuses_fewer_than_two_columns():
    with pytest.raises(ValueError, match="at least 2 columns"):
        resize_halves(np.zeros((8, 8, 3), np.uint8), (8, 1))


def test_split_and_compose_refuse_one_dimensional_arrays_in_one_sentence():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        split_halves(np.zeros(8))
    with pytest.raises(ValueError, match="halves do not fit together"):
        compose_halves(np.zeros(4), np.zeros(4))
