"""Preprocessing on numpy arrays: scaling, mean image, centre and random crops."""

import numpy as np


def _check_images(images):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (N, H, W, C) (channels last), got {images.shape}"
        )
    return images


def to_float(images):
    """Convert images to float32 on a 0-1 scale.

    Parameters
    ----------
    images : ndarray
        uint8 images (scaled by 1/255), or floating-point images (assumed to
        be on a 0-1 scale already; only cast to float32).

    Returns
    -------
    ndarray of float32
        Same shape as ``images``.

    Raises
    ------
    TypeError
        For integer dtypes other than uint8.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out /= 255.0
        return out
    if np.issubdtype(images.dtype, np.floating):
        return images.astype(np.float32, copy=False)
    raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")


def mean_image(images):
    """Mean image over a set, on the scale of :func:`to_float`.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.

    Returns
    -------
    ndarray of float32, shape (H, W, C)
        Mean image (0-1 scale for uint8 input). Accumulated in float64.
    """
    images = _check_images(images)
    if images.shape[0] == 0:
        raise ValueError("cannot take the mean of an empty image set")
    mean = images.mean(axis=0, dtype=np.float64)
    if images.dtype == np.uint8:
        mean /= 255.0
    elif not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")
    return mean.astype(np.float32)


def _crop_size(images, size):
    _, height, width, _ = images.shape
    if size is None:
        return height, width
    if np.isscalar(size):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(
            f"crop size must be an int or (height, width), got {size!r}"
        ) from None
    if (h, w) != tuple(size) or h <= 0 or w <= 0:
        raise ValueError(f"crop size must be positive integers, got {size!r}")
    if h > height or w > width:
        raise ValueError(
            f"crop size {h}x{w} (height x width) is larger than the images, which "
            f"are {height}x{width}; choose a crop size of at most {height}x{width}"
        )
    return h, w


def center_crop(images, size):
    """Crop the centre of each image.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.
    size : int or (int, int)
        Crop height and width (an int means a square crop). When ``H - h`` is
        odd, the crop starts at row ``(H - h) // 2`` (same for columns).

    Returns
    -------
    ndarray of float32, shape (N, h, w, C)
        Cropped images, converted with :func:`to_float`.

    Raises
    ------
    ValueError
        If the crop is larger than the images.
    """
    images = _check_images(images)
    h, w = _crop_size(images, size)
    y = (images.shape[1] - h) // 2
    x = (images.shape[2] - w) // 2
    return to_float(images[:, y : y + h, x : x + w])


def random_crop_flip(images, size, rng, flip=True):
    """Randomly crop and horizontally flip each image (data augmentation).

    Each image gets its own uniformly random crop position and, if ``flip``,
    is mirrored left-right with probability 1/2. Vectorised over images.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.
    size : int or (int, int) or None
        Crop height and width (an int means a square crop). None keeps the
        full image (only flips).
    rng : numpy.random.Generator or numpy.random.RandomState or int or None
        Random number source; an int or None seeds a new Generator.
    flip : bool
        Whether to apply random horizontal flips.

    Returns
    -------
    ndarray of float32, shape (N, h, w, C)
        Augmented images, converted with :func:`to_float`.

    Raises
    ------
    ValueError
        If the crop is larger than the images.
    """
    images = _check_images(images)
    h, w = _crop_size(images, size)
    n, height, width, _ = images.shape
    if isinstance(rng, np.random.RandomState):
        integers, uniform = rng.randint, rng.random_sample
    else:
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        integers, uniform = rng.integers, rng.random
    ys = integers(0, height - h + 1, size=n)
    xs = integers(0, width - w + 1, size=n)
    flips = uniform(n) < 0.5 if flip else np.zeros(n, dtype=bool)

    # All crop windows as a strided view (no copy), axes (n, y, x, h, w, C); one
    # fancy-indexing gather then copies each image's window into (n, h, w, C).
    windows = np.lib.stride_tricks.sliding_window_view(images, (h, w), axis=(1, 2))
    windows = windows.transpose(0, 1, 2, 4, 5, 3)
    out = windows[np.arange(n), ys, xs]
    if flips.any():
        out[flips] = out[flips, :, ::-1]
    return to_float(out)


def cutout(images, size, rng):
    """Set a random square of each image to zero (cutout augmentation).

    The square's centre is uniform over the image, so that it may lie partly
    outside (DeVries and Taylor, 2017). On mean-subtracted images zero is the
    mean image.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        Floating-point images (not changed).
    size : int
        Side of the square in pixels (0: no change).
    rng : numpy.random.Generator
        Random number source.

    Returns
    -------
    ndarray, shape (N, H, W, C)
        A copy of ``images`` with the squares zeroed.
    """
    images = np.array(images, copy=True)
    if size <= 0:
        return images
    n, height, width = images.shape[:3]
    top = rng.integers(0, height, size=n) - size // 2
    left = rng.integers(0, width, size=n) - size // 2
    rows = np.arange(height)[None, :] - top[:, None]
    cols = np.arange(width)[None, :] - left[:, None]
    in_rows = (rows >= 0) & (rows < size)
    in_cols = (cols >= 0) & (cols < size)
    images[in_rows[:, :, None] & in_cols[:, None, :]] = 0
    return images
