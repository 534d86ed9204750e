"""Trained parameters, with what is needed to rebuild their network, on disk.

A checkpoint is one ``.npz`` file: one array per parameter (``conv1.weights``,
``conv1.bias``, ...), the arrays its inputs were prepared with
(``__preprocess__.mean_image``, read by :func:`load_preprocessing`), and a JSON
record ``__meta__`` with the architecture, the neuron parameters, the class
names, the training state (epoch, seed) and the package version.
Files are written atomically (a temporary file in the same folder, then
``os.replace``), so a crash never leaves a half-written checkpoint.

Parameters are read from and written to the nengo objects themselves (transform
``init`` values and ensemble biases), so checkpoints load into nengo, nengo-dl and
nengo-loihi alike, without TensorFlow.
"""

import dataclasses
import hashlib
import json
import os

import nengo
import numpy as np
from nengo.transforms import SparseMatrix

from nengo_softlif import registry
from nengo_softlif.atomic import atomic_open
from nengo_softlif.version import version

__all__ = [
    "CheckpointError",
    "get_params",
    "set_params",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_digest",
    "load_training_state",
    "load_network",
    "load_preprocessing",
    "NEURON_TYPES",
    "register_neuron_type",
    "transform_values",
    "with_transform_values",
]

_META_KEY = "__meta__"
#: Checkpoint format written by this version (older ones are read too).
FORMAT = 1
_TRAIN_PREFIX = "__train__."
#: Key prefix of the arrays inputs are prepared with (:func:`load_preprocessing`).
PREPROCESS_PREFIX = "__preprocess__."


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the network.

    Attributes
    ----------
    problem : str
        What is wrong with the file, without the message's advice on what to do
        (for callers that know better, e.g. a report reading the checkpoint that
        a results file names).
    """

    def __init__(self, message, problem=None):
        super().__init__(message)
        self.problem = message if problem is None else problem


def _parametrized_objects(net):
    """(key, object) for every ensemble bias and every trainable transform."""
    items = []
    for ens in net.all_ensembles:
        items.append((f"{ens.label}.bias", ens))
    for conn in net.all_connections:
        if isinstance(conn.transform, nengo.transforms.NoTransform):
            continue
        items.append((str(conn.label), conn))
    keys = [k for k, _ in items]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates or any(k.startswith("None") for k in keys):
        raise CheckpointError(
            f"Parameters need unique labels on ensembles and connections; "
            f"duplicated or missing: {duplicates or [k for k in keys if k.startswith('None')]}"
        )
    return items


def transform_values(transform):
    """The weight values of a transform (the non-zero ones of a sparse one).

    Raises
    ------
    CheckpointError
        If the weights are a distribution, not concrete values.
    """
    init = transform.init
    if isinstance(transform, nengo.Sparse):
        if isinstance(init, SparseMatrix):
            return np.asarray(init.data)
        return (
            np.asarray(init.tocoo().data)
            if hasattr(init, "tocoo")
            else np.asarray(init)
        )
    if isinstance(init, nengo.dists.Distribution):
        raise CheckpointError(
            f"Transform {transform} has no concrete weights ({init}); build the "
            "network with array initial values"
        )
    return np.asarray(init)


def with_transform_values(transform, values):
    """The same transform (shape, geometry) with other weight ``values``."""
    if isinstance(transform, nengo.Dense):
        return nengo.Dense(transform.shape, init=values)
    if isinstance(transform, nengo.Convolution):
        return nengo.Convolution(
            n_filters=transform.n_filters,
            input_shape=transform.input_shape,
            kernel_size=transform.kernel_size,
            strides=transform.strides,
            padding=transform.padding,
            channels_last=transform.channels_last,
            init=values,
        )
    if hasattr(transform, "with_weights"):  # windowed sparse transforms
        return transform.with_weights(values)
    if isinstance(transform, nengo.Sparse):
        init = transform.init
        indices = init.indices if isinstance(init, SparseMatrix) else transform.indices
        return nengo.Sparse(transform.shape, indices=indices, init=values)
    raise CheckpointError(f"Unsupported transform type {type(transform).__name__}")


def get_params(net):
    """All parameters of a network, as arrays keyed by label.

    Parameters
    ----------
    net : `nengo.Network`
        A network whose ensembles and connections have unique labels (as built by
        :func:`nengo_softlif.build_network`).

    Returns
    -------
    dict of str -> ndarray
    """
    params = {}
    for key, obj in _parametrized_objects(net):
        if isinstance(obj, nengo.Ensemble):
            params[key] = np.array(obj.bias, dtype=float)
        else:
            params[key] = np.array(transform_values(obj.transform))
    return params


def set_params(net, params):
    """Write arrays from :func:`get_params` back into a network (in place).

    Raises
    ------
    CheckpointError
        If keys or shapes do not match the network; nothing is changed then.
    """
    items = _parametrized_objects(net)
    expected = {k for k, _ in items}
    missing, extra = sorted(expected - set(params)), sorted(set(params) - expected)
    if missing or extra:
        raise CheckpointError(
            f"Checkpoint does not match the network: missing {missing}, unexpected "
            f"{extra}. Was it saved from another architecture?"
        )
    updates = []
    for key, obj in items:
        value = np.asarray(params[key])
        if value.dtype.kind not in "fiu":
            raise CheckpointError(
                f"Checkpoint parameter {key!r} holds {value.dtype} values, not "
                "numbers; the checkpoint was edited or damaged: train again"
            )
        current = get_params_of(obj)
        if value.shape != current.shape:
            raise CheckpointError(
                f"Checkpoint parameter {key!r} has shape {value.shape}, but the "
                f"network needs {current.shape}: the checkpoint belongs to another "
                "architecture or input size"
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"Checkpoint parameter {key!r} contains NaN or inf")
        if not isinstance(obj, nengo.Ensemble):
            try:
                value = with_transform_values(obj.transform, value)
            except ValueError as err:
                raise CheckpointError(f"Checkpoint parameter {key!r}: {err}") from err
        updates.append((obj, value))
    for obj, value in updates:
        if isinstance(obj, nengo.Ensemble):
            obj.bias = value
        else:
            obj.transform = value


def get_params_of(obj):
    """The parameter array of one ensemble (bias) or connection (weights)."""
    if isinstance(obj, nengo.Ensemble):
        return np.asarray(obj.bias)
    return transform_values(obj.transform)


def save_checkpoint(
    path, net, training_state=None, preprocessing=None, classes=None, **state
):
    """Save a network's parameters and how to rebuild it, atomically.

    Parameters
    ----------
    path : str or Path
        Destination ``.npz`` file.
    net : `.SoftLIFNetwork`
        The network (with trained parameters, e.g. after ``sim.freeze_params``).
    training_state : dict of str -> list of ndarray, optional
        Arrays that resume training exactly (optimizer moments, noise
        counters), read back by :func:`load_training_state`.
    preprocessing : dict of str -> ndarray, optional
        Arrays the network's inputs are prepared with (the training set's
        ``mean_image``), read back by :func:`load_preprocessing`.
    classes : sequence of str, optional
        Class names in label order (``meta["classes"]``).
    **state
        JSON-serialisable training state to keep (epoch, seed, history, ...).
    """
    meta = {
        "format": FORMAT,
        "package_version": version,
        "architecture": net.architecture.to_dict(),
        "lif_params": dataclasses.asdict(net.lif_params),
        "neuron_type": describe_neuron_type(net.neuron_type),
        "seed": net.seed,
        "state": state,
    }
    if classes is not None:
        meta["classes"] = [str(c) for c in classes]
    arrays = get_params(net)
    for group, values in (training_state or {}).items():
        for i, value in enumerate(values):
            arrays[f"{_TRAIN_PREFIX}{group}.{i}"] = np.asarray(value)
    for key, value in (preprocessing or {}).items():
        arrays[PREPROCESS_PREFIX + key] = np.asarray(value, dtype=np.float32)
    arrays[_META_KEY] = np.array(json.dumps(meta))
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path):
    """Read a checkpoint.

    Returns
    -------
    params : dict of str -> ndarray
    meta : dict
        Architecture, neuron parameters, package version and training state.
    """
    path = _existing(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop(_META_KEY)))
    except Exception as err:  # zip, json or npy errors all mean the same here
        problem = f"{path} is corrupt or not a nengo-softlif checkpoint ({err})"
        raise CheckpointError(
            f"Checkpoint {problem}; delete it and train again", problem
        ) from err
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        problem = (
            f"{path} has no valid format number ({fmt!r}): it was not written by "
            "nengo-softlif"
        )
        raise CheckpointError(
            f"Checkpoint {problem}; delete it and train again", problem
        )
    if fmt > FORMAT:
        raise CheckpointError(
            f"Checkpoint {path} has format {fmt}, written by a newer nengo-softlif "
            f"(this version, {version}, reads format {FORMAT}); upgrade nengo-softlif "
            "to load it"
        )
    if not isinstance(meta.setdefault("state", {}), dict):
        problem = (
            f"{path} has a damaged header: its training state is a "
            f"{type(meta['state']).__name__}, not a dict"
        )
        raise CheckpointError(
            f"Checkpoint {problem}; the file was edited or damaged: restore it from "
            "a copy or train again",
            problem,
        )
    params = {  # "__" keys are not parameters (training state, preprocessing)
        k: v.astype(np.float32) if v.dtype == np.float16 else v  # shipped networks
        for k, v in arrays.items()
        if not k.startswith("__")
    }
    return params, meta


def load_preprocessing(path):
    """The arrays a checkpoint's inputs are prepared with (e.g. ``mean_image``).

    Returns
    -------
    dict of str -> ndarray
        Empty for checkpoints saved without them (older versions, tasks without
        a mean image).

    Raises
    ------
    CheckpointError
        If the file cannot be read, or a stored array is not finite numbers.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {
                k[len(PREPROCESS_PREFIX) :]: data[k]
                for k in data.files
                if k.startswith(PREPROCESS_PREFIX)
            }
    except Exception as err:  # zip or npy errors
        raise CheckpointError(
            f"Checkpoint {path} is corrupt or not a nengo-softlif checkpoint ({err}); "
            "delete it and train again"
        ) from err
    for key, value in arrays.items():
        if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
            raise CheckpointError(
                f"Checkpoint {path} holds a bad {key} (dtype {value.dtype}, finite "
                "numbers needed); the file was edited or damaged: train again"
            )
    return arrays


def _existing(path):
    """``path`` as a string; a `CheckpointError` if there is no such file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(
            f"Checkpoint {path} does not exist; train first (`nengo-softlif train`) "
            "or pass the path of an existing .npz checkpoint"
        )
    return path


def checkpoint_digest(path):
    """The SHA-256 of a checkpoint file, which results record to name their source.

    A report compares it with the checkpoint's digest at the time, so that results
    of an older state of the file are never shown as those of the current one.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(_existing(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_training_state(path):
    """The ``training_state`` arrays saved with :func:`save_checkpoint`.

    Returns
    -------
    dict of str -> list of ndarray
        Empty for checkpoints saved without training state.
    """
    state = {}
    with np.load(os.fspath(path), allow_pickle=False) as data:
        keys = [k for k in data.files if k.startswith(_TRAIN_PREFIX)]
        for key in keys:
            group, index = key[len(_TRAIN_PREFIX) :].rsplit(".", 1)
            state.setdefault(group, {})[int(index)] = data[key]
    return {g: [v[i] for i in sorted(v)] for g, v in state.items()}


#: Neuron types a checkpoint can name, by class name (extend with
#: :func:`register_neuron_type`; types registered with
#: :func:`nengo_softlif.network.convert.register_spiking_equivalent` or in
#: ``HARD_EQUIVALENTS`` are found too).
NEURON_TYPES = registry.Registry("checkpoint neuron type")


def register_neuron_type(neuron_class):
    """Let checkpoints of networks with ``neuron_class`` neurons be loaded back.

    Returns the class, so this works as a decorator. Warns when another class of
    the same name is replaced.
    """
    return registry.add(
        NEURON_TYPES, neuron_class.__name__, neuron_class, "checkpoint neuron type"
    )


def _neuron_types():
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.network.convert import HARD_EQUIVALENTS, SPIKING_EQUIVALENTS
    from nengo_softlif.neurons.refractory_relu import (
        RefractoryRectifiedLinear,
        SoftRefractoryRectifiedLinear,
    )
    from nengo_softlif.neurons.softlif import RectifiedLinear, SoftLIFRate

    types = {
        cls.__name__: cls
        for cls in (
            SoftLIFRate,
            RectifiedLinear,
            SoftRefractoryRectifiedLinear,
            RefractoryRectifiedLinear,
            nengo.LIFRate,
            nengo.LIF,
            nengo.SpikingRectifiedLinear,
        )
    }
    # rate types a user made convertible: their names are in the registries
    for known in (SPIKING_EQUIVALENTS, HARD_EQUIVALENTS):
        types.update({cls.__name__: cls for cls in known})
    types.update(NEURON_TYPES)
    return types


def describe_neuron_type(neuron_type):
    """JSON description of the neuron type a network was built with."""
    from nengo_softlif.neurons.noise import (
        to_spec,
    )  # pylint: disable=import-outside-toplevel

    desc = {"type": type(neuron_type).__name__}
    for param in neuron_type._params:  # noqa: SLF001
        if param.name == "initial_state":
            continue
        value = getattr(neuron_type, param.name)
        desc[param.name] = to_spec(value) if param.name == "noise" else value
    return desc


def rebuild_neuron_type(desc):
    """The neuron type described by :func:`describe_neuron_type`."""
    from nengo_softlif.neurons.noise import (
        parse_noise,
    )  # pylint: disable=import-outside-toplevel

    desc = dict(desc)
    kind = desc.pop("type")
    types = _neuron_types()
    if kind not in types:
        raise CheckpointError(
            f"Checkpoint neuron type {kind!r} is unknown; pass neuron_type= to "
            f"load_network (known: {sorted(types)})"
        )
    if "noise" in desc:
        desc["noise"] = parse_noise(desc["noise"])
    return types[kind](**desc)


def load_network(path, neuron_type=None):
    """Rebuild the network saved in a checkpoint, with its trained parameters.

    Parameters
    ----------
    path : str or Path
        A checkpoint written by :func:`save_checkpoint`.
    neuron_type : `nengo.neurons.NeuronType`, optional
        Neurons to build with; by default the saved soft LIF neuron.

    Returns
    -------
    net : `.SoftLIFNetwork`
    meta : dict
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.network.architectures import Architecture, build_network
    from nengo_softlif.neurons.softlif import LIFParams

    params, meta = load_checkpoint(path)
    try:
        architecture = Architecture.from_dict(meta["architecture"])
        lif_params = LIFParams(**meta["lif_params"])
        saved = dict(meta["neuron_type"])
        seed = meta.get("seed") or 0
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
        classes = meta.get("classes")
        if classes is not None and (
            not isinstance(classes, list)
            or not all(isinstance(c, str) for c in classes)
            or len(classes) != architecture.layers[-1].units
        ):
            raise ValueError(
                f"classes must be a list of {architecture.layers[-1].units} names, "
                f"got {classes!r}"
            )
    except Exception as err:  # a missing key, a bad layer or neuron value
        raise CheckpointError(
            f"Checkpoint {path} has an unreadable header ({type(err).__name__}: "
            f"{err}); the file was edited or damaged: train again"
        ) from err
    if neuron_type is None:
        # LIF constants the description lacks are the network's neuron setting
        defaults = {
            k: getattr(lif_params, k)
            for k in ("tau_rc", "tau_ref", "amplitude")
            if saved.get("type") in ("SoftLIFRate", "LIFRate", "LIF")
        }
        try:
            neuron_type = rebuild_neuron_type({**defaults, **saved})
        except CheckpointError as err:
            raise CheckpointError(f"Checkpoint {path}: {err}") from err
        except Exception as err:  # nengo's ValidationError, a bad noise spec
            raise CheckpointError(
                f"Checkpoint {path} holds a bad neuron setting ({err}); the file was "
                "edited or damaged: train again"
            ) from err
    try:
        net = build_network(architecture, neuron_type, lif_params, seed=seed)
        set_params(net, params)
    except (ValueError, TypeError) as err:  # CheckpointError included
        raise CheckpointError(
            f"Checkpoint {path} does not build a network: {err}"
        ) from err
    return net, meta
