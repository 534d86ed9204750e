"""Merge layers: where a network stops being a chain (`.Add`, `.Concatenate`).

A merge takes the outputs of several earlier layers, named in its ``inputs``
(``"input"`` is the network's input), e.g. a residual block::

    Conv(16, 3, padding=1, name="a"),
    Conv(16, 3, padding=1, neurons=False, name="b"),
    Add(("b", "pool1"), neurons=True),

In nengo, an `.Add` is several connections into the same target (nengo sums what
arrives), and a `.Concatenate` is connections into slices of its target; the
target is a passthrough node, or, with ``neurons=True``, a layer of neurons that
receive the merged values as their input (``J = gain * merged + bias``). Merges
have no weights: their connections have no transform, and the spiking network
filters each path once, on the connection that leaves neurons.
"""

import dataclasses
from typing import ClassVar

import nengo
import numpy as np

from nengo_softlif.network.layers import (
    BuiltLayer,
    check_inputs,
    layer_target,
    register_layer,
)

__all__ = ["Add", "Concatenate", "is_merge", "concatenate_indices"]


def _check_merge(spec):
    check_inputs(spec)
    if spec.inputs is None or len(spec.inputs) < 2:
        raise ValueError(
            f"{type(spec).__name__} needs the names of two or more earlier layers "
            f"in inputs (e.g. {type(spec).__name__}(('conv2', 'pool1'))), got "
            f"{spec.inputs!r}"
        )
    if not isinstance(spec.neurons, (bool, np.bool_)):
        raise ValueError(
            f"{type(spec).__name__} neurons must be True or False, got "
            f"{spec.neurons!r}"
        )
    if spec.name is not None and not isinstance(spec.name, str):
        raise ValueError(
            f"{type(spec).__name__} name must be a string or None, got {spec.name!r}"
        )


@dataclasses.dataclass(frozen=True)
class Add:
    """Elementwise sum of layers of the same shape, optionally into neurons.

    Parameters
    ----------
    inputs : tuple of str
        Names of two or more earlier layers (``"input"``: the network's input).
    neurons : bool
        Whether the sum drives a layer of neurons (its output is their activity,
        as ``Add`` then ``ReLU`` in Keras); otherwise the output is the sum.
    name : str, optional
    """

    inputs: tuple
    neurons: bool = False
    name: str | None = None
    merges: ClassVar[bool] = True

    def __post_init__(self):
        _check_merge(self)


@dataclasses.dataclass(frozen=True)
class Concatenate:
    """Concatenation along the channels (the last axis), optionally into neurons.

    Images must have the same height and width; flat layers are joined end to
    end. Parameters as for `.Add`.
    """

    inputs: tuple
    neurons: bool = False
    name: str | None = None
    merges: ClassVar[bool] = True
    default_name: ClassVar[str] = "concat"

    def __post_init__(self):
        _check_merge(self)


def is_merge(spec):
    """Whether a layer spec takes several inputs (a merge layer)."""
    return bool(getattr(type(spec), "merges", False))


def _shapes_error(spec, name, ctx, what):
    shapes = ", ".join(f"{b.name} {tuple(b.shape)}" for b in ctx.inputs)
    return ValueError(
        f"{type(spec).__name__} layer {name!r} {what}; its inputs have shapes "
        f"{shapes}. Merge layers of matching shapes (pool or project the larger "
        "one first, e.g. a 1x1 Conv with stride)"
    )


def concatenate_indices(shapes):
    """Where each input's values go in the channels-last concatenation.

    Parameters
    ----------
    shapes : list of tuple
        Input shapes, all ``(n,)`` or all ``(height, width, channels)`` with the
        same height and width.

    Returns
    -------
    list of ndarray
        Per input, the flat output index of each of its values.
    """
    channels = [s[-1] for s in shapes]
    total, offset, indices = sum(channels), 0, []
    pixels = int(np.prod(shapes[0][:-1]))
    for c in channels:
        idx = np.arange(pixels)[:, None] * total + offset + np.arange(c)[None, :]
        indices.append(idx.ravel())
        offset += c
    return indices


def _merged(spec, name, ctx, shape, slices):
    """Connect every input into the merge's target (a slice of it, or all)."""
    target, ens, _ = layer_target(
        name, int(np.prod(shape)), ctx, neurons=spec.neurons, bias=False
    )
    for k, (built, index) in enumerate(zip(ctx.inputs, slices, strict=True)):
        post = target if index is None else target[index]
        nengo.Connection(built.output, post, synapse=None, label=f"{name}.input{k}")
    return BuiltLayer(name, target, shape, ensemble=ens)


@register_layer(Add)
def build_add(spec, name, ctx):
    """Build an `.Add` layer: identity connections into one target."""
    shapes = {tuple(b.shape) for b in ctx.inputs}
    if len(shapes) != 1:
        raise _shapes_error(spec, name, ctx, "adds layers of different shapes")
    return _merged(
        spec, name, ctx, tuple(ctx.inputs[0].shape), [None] * len(ctx.inputs)
    )


@register_layer(Concatenate)
def build_concatenate(spec, name, ctx):
    """Build a `.Concatenate` layer: connections into slices of one target."""
    shapes = [tuple(b.shape) for b in ctx.inputs]
    if len({len(s) for s in shapes}) != 1 or len({s[:-1] for s in shapes}) != 1:
        raise _shapes_error(
            spec,
            name,
            ctx,
            "joins layers whose shapes differ in more than the last axis",
        )
    shape = (*shapes[0][:-1], sum(s[-1] for s in shapes))
    return _merged(spec, name, ctx, shape, concatenate_indices(shapes))
