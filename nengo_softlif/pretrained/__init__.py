"""Trained networks shipped with nengo-softlif (package data).

Each network is a checkpoint (see :mod:`nengo_softlif.network.checkpoint`) with its
parameters stored as float16 and no optimizer state, plus a record of how it was
made (the command, the epochs, the training data's checksum) in its header's
``provenance``.

>>> from nengo_softlif.pretrained import load_pretrained
>>> net, meta = load_pretrained("cifar10")  # doctest: +SKIP
"""

import hashlib
import json
import os

import numpy as np

from nengo_softlif.atomic import atomic_open

__all__ = [
    "PRETRAINED",
    "pretrained_task",
    "pretrained_path",
    "load_pretrained",
    "pretrained_preprocessing",
    "export_pretrained",
    "file_md5",
]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: Name -> file name of the shipped networks (in this folder). A name is its
#: task's (the task's main network) or ``TASK-VARIANT``.
PRETRAINED = {
    "cifar10": "cifar10.npz",
    # fine-tuned from "cifar10" with padded pools (whose edges Loihi computes
    # exactly), for the Loihi backend
    "cifar10-loihi": "cifar10-loihi.npz",
}


def pretrained_task(name):
    """The task (``"cifar10"``) of the shipped network ``name``."""
    return name.split("-", 1)[0]


def pretrained_path(name, task=None):
    """Path of a shipped network's checkpoint.

    Parameters
    ----------
    name : str
        One of :data:`PRETRAINED`.
    task : str, optional
        The task the network must be for (e.g. the ``--task`` of a command).

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`PRETRAINED`, is for another ``task``, or
        its file is missing from this installation.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a string, one of {sorted(PRETRAINED)}; got a "
            f"{type(name).__name__} ({name!r})"
        )
    if name not in PRETRAINED:
        raise ValueError(
            f"No pretrained network {name!r}; shipped networks: {sorted(PRETRAINED)}. "
            "For another network, train one (`nengo-softlif train --task TASK --out "
            "DIR`) and pass its checkpoint (`--checkpoint DIR/checkpoint.npz`, or "
            "nengo_softlif.network.checkpoint.load_network in Python)"
        )
    if task is not None and pretrained_task(name) != task:
        raise ValueError(
            f"the pretrained network {name!r} is for --task {pretrained_task(name)}, "
            f"not {task}: pass --task {pretrained_task(name)}"
        )
    path = os.path.join(_HERE, PRETRAINED[name])
    if not os.path.exists(path):
        raise ValueError(
            f"The pretrained {name!r} network is missing from this installation "
            f"({path}); reinstall nengo-softlif"
        )
    return path


def load_pretrained(name, neuron_type=None):
    """The shipped trained network ``name``, ready to evaluate or convert.

    Parameters
    ----------
    name : str
        One of :data:`PRETRAINED` (``"cifar10"``).
    neuron_type : `nengo.neurons.NeuronType`, optional
        As for :func:`nengo_softlif.network.checkpoint.load_network`.

    Returns
    -------
    net : `.SoftLIFNetwork`
        The rate network (soft LIF); :func:`nengo_softlif.to_spiking` turns it
        into the spiking one.
    meta : dict
        The checkpoint header, with ``provenance``.
    """
    from nengo_softlif.network.checkpoint import load_network  # noqa: PLC0415

    return load_network(pretrained_path(name), neuron_type=neuron_type)


def file_md5(path, chunk=1 << 20):
    """MD5 of a file (the checksum recorded for training data)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pretrained_preprocessing(name):
    """Arrays the shipped network's inputs are prepared with (e.g. ``mean_image``).

    Returns
    -------
    dict of str -> ndarray
    """
    from nengo_softlif.network.checkpoint import load_preprocessing  # noqa: PLC0415

    return load_preprocessing(pretrained_path(name))


def export_pretrained(
    checkpoint, out, provenance, dtype=np.float16, preprocessing=None
):
    """Write a compact copy of a checkpoint for shipping.

    Parameters
    ----------
    checkpoint : str
        A training checkpoint.
    out : str
        Destination ``.npz`` (written atomically, compressed).
    provenance : dict
        JSON-serialisable record of how it was made (command, epochs, data
        checksum, measured errors).
    dtype : numpy dtype
        Storage type of the parameters (float16 halves float32's size).
    preprocessing : dict of str -> ndarray, optional
        What inputs are prepared with (the training set's ``mean_image``), read
        back by :func:`pretrained_preprocessing`; by default the checkpoint's
        own (see :func:`nengo_softlif.network.checkpoint.load_preprocessing`).
    """
    from nengo_softlif.network.architectures import Architecture  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        PREPROCESS_PREFIX,
        load_checkpoint,
        load_preprocessing,
    )
    from nengo_softlif.network.layers import AvgPool  # noqa: PLC0415

    params, meta = load_checkpoint(checkpoint)
    architecture = Architecture.from_dict(meta["architecture"])
    fixed = {  # the pools' averages stay exact
        f"{name}.weights" for name in architecture.names_of(AvgPool)
    }
    meta = dict(meta, provenance=provenance)
    meta["state"] = {k: v for k, v in meta["state"].items() if k != "history"}
    arrays = {
        k: np.asarray(v, dtype=np.float32 if k in fixed else dtype)
        for k, v in params.items()
    }
    if preprocessing is None:
        preprocessing = load_preprocessing(checkpoint)
    for key, value in preprocessing.items():
        arrays[PREPROCESS_PREFIX + key] = np.asarray(value, dtype=np.float32)
    arrays["__meta__"] = np.array(json.dumps(meta))
    with atomic_open(out) as f:
        np.savez_compressed(f, **arrays)
    return out
