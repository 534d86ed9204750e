"""Checks of the image and label arrays given to training and evaluation.

Networks are trained and evaluated on preprocessed floats: pixels on a 0-1
scale (:func:`~nengo_softlif.data.to_float`), minus the mean training image for
the CIFAR-10 and image-folder tasks, so every value lies in [-1, 1]. Arrays
that cannot come from that preprocessing (raw 8-bit pixels, 0-255 values in
any dtype, complex numbers, NaN) would give wrong results without an error;
these checks refuse them with a message that says how to fix them.
"""

import numpy as np

__all__ = ["IMAGE_VALUE_LIMIT", "checked_images", "checked_labels"]

#: Largest magnitude accepted in preprocessed images. The package's
#: preprocessing gives values in [-1, 1]; the margin leaves room for a user's
#: own scaling (standardised pixels rarely pass 5), while batches of 0-255
#: pixel values are far outside it.
IMAGE_VALUE_LIMIT = 8.0

_PREPROCESS_HINT = (
    "scale pixels to 0-1 (divide by 255; nengo_softlif.data.to_float does it for "
    "uint8 images) and preprocess them as in training (e.g. "
    "Task.preprocessor(dataset)[1](images): crop, subtract the mean image)"
)


def _squeezed(shape):
    return tuple(d for d in shape if d != 1)


def checked_images(images, input_shape, what="images"):
    """Preprocessed images as float32 of shape ``(n, prod(input_shape))``.

    Parameters
    ----------
    images : array_like
        A batch of images, ``(n, *input_shape)`` or flattened ``(n, size)``.
    input_shape : tuple of int
        Shape of one image as the network takes it (e.g. ``(24, 24, 3)``); a
        batch of images of another shape with as many values (say channels
        first) is refused. ``(size,)`` accepts any shape of ``size`` values.
    what : str
        Name of the argument, for messages.

    Returns
    -------
    ndarray of float32, shape (n, size)

    Raises
    ------
    ValueError
        For raw uint8 pixels, values outside ``±IMAGE_VALUE_LIMIT`` (such as
        0-255 pixels), NaN or inf, a single image without its batch axis, an
        empty batch, or images of another size than the network's input.
    TypeError
        For complex or non-numeric (strings, objects) dtypes.
    """
    input_shape = tuple(int(s) for s in input_shape)
    size = int(np.prod(input_shape))
    expected = f"(n_images, {', '.join(map(str, input_shape))}) or (n_images, {size})"
    try:
        images = np.asarray(images)
    except ValueError as err:  # ragged nested lists
        raise ValueError(
            f"{what} must be one array of shape {expected}; got a ragged sequence "
            f"({err})"
        ) from None
    kind = images.dtype.kind
    if kind == "c":
        raise TypeError(
            f"{what} are complex ({images.dtype}); pass real pixel values "
            "(e.g. np.abs or .real of them, if that is what you mean)"
        )
    if kind not in "fiub":
        raise TypeError(
            f"{what} must be numbers, got dtype {images.dtype}; pass a numeric "
            f"array of shape {expected}"
        )
    if images.dtype == np.uint8:
        raise ValueError(
            f"{what} are raw 8-bit pixels (uint8, 0-255); {_PREPROCESS_HINT}"
        )
    if images.ndim < 2 or (images.shape == input_shape and input_shape[0] != 1):
        got = (
            f"one image of shape {images.shape}: add the batch axis ({what}[None])"
            if images.size == size
            else f"shape {images.shape}"
        )
        raise ValueError(f"{what} must be a batch of shape {expected}; got {got}")
    if images.shape[0] == 0:
        raise ValueError(f"{what} is empty: pass at least one image")
    flat = images.reshape(images.shape[0], -1)
    if flat.shape[1] != size:
        raise ValueError(
            f"each of the {what} has {flat.shape[1]} values (shape "
            f"{images.shape[1:]}) but the network input has {size} ({expected}); crop "
            "or resize the images to the network's input shape (e.g. the 24x24 "
            "centre crop for CIFAR-10)"
        )
    if (
        images.ndim > 2
        and len(input_shape) > 1  # an image shape to compare with
        and _squeezed(images.shape[1:]) != _squeezed(input_shape)
    ):
        fix = "reshape them to the network's input shape"
        if sorted(images.shape[1:]) == sorted(input_shape):
            fix = (
                "images are channels last (n_images, height, width, channels): "
                "transpose them (e.g. images.transpose(0, 2, 3, 1))"
            )
        raise ValueError(
            f"{what} have shape {images.shape}, but the network takes {expected}; "
            f"{fix}"
        )
    flat = flat.astype(np.float32)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{what} contain NaN or inf; clean the data first")
    low, high = float(flat.min()), float(flat.max())
    if high > IMAGE_VALUE_LIMIT or low < -IMAGE_VALUE_LIMIT:
        raise ValueError(
            f"{what} hold values from {low:g} to {high:g}, beyond "
            f"+-{IMAGE_VALUE_LIMIT:g}, but the package's networks take preprocessed "
            f"pixels in -1 to 1 (a 0-1 scale, minus the mean image for CIFAR-10): "
            f"these look like 0-255 pixel values; {_PREPROCESS_HINT}"
        )
    return flat


def checked_labels(labels, n_images, n_classes=None, what="labels"):
    """Class labels as int64 of shape ``(n_images,)``.

    Whole-number floats are accepted; fractions, NaN, complex or other dtypes
    and labels outside ``range(n_classes)`` are refused.

    Raises
    ------
    ValueError
        For fractional labels, labels outside the classes, or a shape other
        than ``(n_images,)``.
    TypeError
        For non-numeric labels.
    """
    try:
        labels = np.asarray(labels)
    except ValueError as err:
        raise ValueError(f"{what} must be a 1-D array of classes ({err})") from None
    kind = labels.dtype.kind
    if kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if np.any(bad):
            raise ValueError(
                f"{what} must be whole class numbers; got non-integer values such "
                f"as {labels[bad][:3].tolist()}"
            )
    elif kind not in "iub":
        raise TypeError(
            f"{what} must be integers (class numbers), got dtype {labels.dtype}"
        )
    if labels.shape != (n_images,):
        raise ValueError(
            f"{what} must have shape ({n_images},), one class per image; got "
            f"{labels.shape}"
        )
    labels = labels.astype(np.int64)
    if n_classes is not None and labels.size:
        bad = labels[(labels < 0) | (labels >= n_classes)]
        if bad.size:
            raise ValueError(
                f"{what} must be classes 0-{n_classes - 1} of the network's "
                f"{n_classes} outputs; got {sorted(set(bad.tolist()))[:5]}"
            )
    return labels
