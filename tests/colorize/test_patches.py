"""colorize.patches: extract_patches against an obvious loop reference."""

import numpy as np
import pytest

from colorize.patches import extract_patches, patch_view


def _reference(gray, size):
    h, w = gray.shape
    r = size // 2
    out = np.empty((h, w, size * size), gray.dtype)
    for i in range(h):
        for j in range(w):
            k = 0
            for di in range(-r, r + 1):
                for dj in range(-r, r + 1):
                    ii = min(max(i + di, 0), h - 1)
                    jj = min(max(j + dj, 0), w - 1)
                    out[i, j, k] = gray[ii, jj]
                    k += 1
    return out


@pytest.mark.parametrize("size", [1, 3, 5, 7])
@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (9, 4), (13, 17)])
def test_matches_loop_reference(size, shape):
    gray = np.random.default_rng(size).random(shape).astype(np.float32) * 255
    out = extract_patches(gray, size)
    assert out.shape == shape + (size * size,) and out.dtype == np.float32
    np.testing.assert_array_equal(out, _reference(gray, size))


def test_centre_is_the_pixel_and_row_major_order():
    gray = np.arange(12, dtype=np.float64).reshape(3, 4)
    p = extract_patches(gray)
    np.testing.assert_array_equal(p[..., 4], gray)
    np.testing.assert_array_equal(p[1, 1], [0, 1, 2, 4, 5, 6, 8, 9, 10])
    np.testing.assert_array_equal(p[0, 0], [0, 0, 1, 0, 0, 1, 4, 4, 5])


def test_view_shares_memory_with_padded_image():
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    v = patch_view(gray, 3)
    assert v.shape == (4, 5, 3, 3) and not v.flags.owndata
    assert np.shares_memory(v[0, 0], v[0, 1])


@pytest.mark.parametrize("size", [0, 2, 4, -3, 3.0, True])
def test_bad_sizes_refused(size):
    with pytest.raises(ValueError):
        extract_patches(np.zeros((5, 5)), size)


@pytest.mark.parametrize("size", [2, 4])
def test_even_sizes_are_refused_with_our_message_by_the_view_too(size):
    # an even window has no centre pixel: patch_view would return (H + 1, W + 1) windows
    for function in (extract_patches, patch_view):
        with pytest.raises(ValueError, match="positive odd integer"):
            function(np.zeros((5, 5)), size)


def test_needs_2d():
    with pytest.raises(ValueError):
        extract_patches(np.zeros((5, 5, 3)))


def test_numpy_integer_sizes_work_and_empty_images_get_our_message():
    g = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(extract_patches(g, np.int64(3)), extract_patches(g, 3))
    with pytest.raises(ValueError, match="non-empty"):
        extract_patches(np.zeros((0, 5)))


@pytest.mark.gpu
def test_cupy_matches_numpy():
    import cupy

    gray = np.random.default_rng(0).random((11, 7)).astype(np.float32)
    out = extract_patches(cupy.asarray(gray), 3)
    np.testing.assert_array_equal(out.get(), extract_patches(gray, 3))


@pytest.mark.parametrize("shape, size", [((5, 1), 3), ((2, 3), 1), ((1, 1), 5), ((4, 6), 3)])
def test_patches_are_always_a_writable_contiguous_array_of_their_own(shape, size):
    gray = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    patches = extract_patches(gray, size)
    assert patches.flags.c_contiguous and patches.flags.writeable
    patches -= 1  # the size-1 and 1-column cases used to be read-only views
    assert np.array_equal(gray, np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
