"""One experiment end to end: train (resumable), convert, evaluate, record.

:func:`run_experiment` is what ``nengo-softlif train``/``evaluate``/``demo``/
``reproduce`` and the benchmarks call: it trains the task's network with a given
neuron and noise setting, then measures the static soft-LIF error, the static
hard-LIF error (the spiking network's mean-rate equivalent) and the spiking
error with the paper's protocol, with per-layer firing rates and wall times.
"""

import dataclasses
import json
import os
import time
import warnings

import nengo
import numpy as np

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.evaluation.distributed import evaluate_parallel
from nengo_softlif.evaluation.runner import evaluate
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    checkpoint_digest,
    get_params,
    load_network,
    load_preprocessing,
    set_params,
)
from nengo_softlif.network.convert import HARD_EQUIVALENTS, to_hard_rate, to_spiking
from nengo_softlif.network.layers import AvgPool
from nengo_softlif.neurons.noise import parse_noise, to_spec
from nengo_softlif.neurons.softlif import PRESETS
from nengo_softlif.training.anneal import SigmaAnnealing
from nengo_softlif.training.loop import TrainConfig, train

__all__ = [
    "ExperimentConfig",
    "run_experiment",
    "train_task",
    "evaluate_checkpoint",
    "checkpoint_test_data",
    "check_init_from",
    "static_error_on_spiking_images",
    "gap_text",
]


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Settings of one experiment (one row of a results table).

    Parameters
    ----------
    sigma : float
        Soft LIF smoothing.
    noise : str
        Training noise spec (``"none"``, ``"gaussian:10"``, ...).
    n_test : int or None
        Number of test images to evaluate (None: all).
    spiking_n_test : int or None
        Number of test images (the first ones) for the spiking run, which costs
        200 network steps per image (None: as ``n_test``).
    spiking_backend : str
        Backend for the spiking run (default "fast": event-driven, same dynamics).
    synapse_tau : float
        Alpha synapse time constant of the spiking network.
    minibatch_size : int
        Parallel image streams in nengo-dl evaluation.
    workers : int
        Worker processes for a ``fast`` spiking run (whole streams per worker,
        so the same results; see :func:`nengo_softlif.evaluation.distributed.evaluate_parallel`).
    unroll : int
        nengo-dl ``unroll_simulation`` in evaluation.
    anneal_to : float or None
        Anneal sigma geometrically to this value over training (None: no
        annealing; see :class:`nengo_softlif.training.anneal.SigmaAnnealing`).
    anneal_per_step : bool
        Anneal before every training step (default) rather than every epoch.
    hard_forward : bool
        Soft LIF neurons compute the hard LIF rate forward and the soft
        derivative backward (see `.SoftLIFRate`). On by default: the trained
        static network is then the hard LIF rate network that the spiking one
        follows (the papers trained with ``False``; see
        :data:`nengo_softlif.training.recipes.RECIPES`).
    loihi_dt : float or None
        With ``hard_forward``: the forward pass is Loihi's LIF rate at this time
        step (s), for a network trained for the chip (see `.SoftLIFRate`).
    backend_options : dict
        Further options of the spiking backend (e.g. ``{"target": "simreal"}``
        for ``"loihi"``; see `.evaluate`).
    """

    sigma: float = 0.02
    noise: str = "gaussian:10"
    n_test: int | None = None
    spiking_n_test: int | None = None
    spiking_backend: str = "fast"
    synapse_tau: float = 0.005
    minibatch_size: int = 100
    workers: int = 1
    unroll: int = 10
    anneal_to: float | None = None
    anneal_per_step: bool = True
    hard_forward: bool = True
    loihi_dt: float | None = None
    backend_options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ("n_test", "spiking_n_test"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < 1
            ):
                raise ValueError(
                    f"{name} must be a whole number >= 1 or None, got {value!r}"
                )
        for name in ("minibatch_size", "workers", "unroll"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < 1
            ):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("sigma", "synapse_tau", "anneal_to", "loihi_dt"):
            value = getattr(self, name)
            if value is None and name in ("anneal_to", "loihi_dt"):
                continue
            if not (
                isinstance(value, (int, float, np.number))
                and np.isfinite(value)
                and value > 0
            ):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if self.loihi_dt is not None and not self.hard_forward:
            raise ValueError(
                f"loihi_dt={self.loihi_dt} makes Loihi's LIF rate the hard forward "
                "pass: it needs hard_forward=True (drop --no-hard-forward)"
            )
        if self.spiking_backend == "loihi" and "target" in self.backend_options:
            from nengo_softlif.compat import check_loihi_target  # noqa: PLC0415

            check_loihi_target(self.backend_options["target"])
        if self.workers > 1 and self.spiking_backend != "fast":
            raise ValueError(
                f"workers={self.workers} applies to the fast backend only, not "
                f"{self.spiking_backend!r}; use workers=1 or spiking_backend='fast'"
            )


def train_task(
    task,
    dataset,
    out_dir,
    train_config,
    config,
    verbose=2,
    neuron_type=None,
    lif_params=None,
    architecture=None,
    max_epochs=None,
    init_from=None,
):
    """Build and train the task's network; returns the network and history.

    Training resumes from ``out_dir/checkpoint.npz`` if it exists. By default the
    network has the task's architecture and soft LIF neurons with the task's
    preset, ``config.sigma`` and ``config.noise``; any of these can be replaced.
    ``max_epochs`` stops after that many epochs (see `.train`). ``init_from``
    (a checkpoint of the same architecture) gives the initial weights of a
    fresh run, which are then not rescaled by ``train_config.init_scale``.
    """
    preset = PRESETS[task.preset] if lif_params is None else lif_params
    if neuron_type is None:
        neuron_type = preset.soft_lif(
            sigma=config.sigma,
            noise=parse_noise(config.noise),
            hard_forward=config.hard_forward,
            loihi_dt=config.loihi_dt,
        )
    if architecture is None:
        architecture = task.build_architecture(dataset)
    net = build_network(architecture, neuron_type, preset, seed=train_config.seed)
    checkpoint = os.path.join(out_dir, "checkpoint.npz")
    if init_from is not None:
        # the trained weights are not rescaled, in the first chunk of the run
        # and in the chunks that resume it with the same command
        train_config = dataclasses.replace(train_config, init_scale=1.0)
        if not os.path.exists(checkpoint):
            check_init_from(init_from, train_config.first_layer_scale)
            _initialise_from(net, init_from)
    train_data, _, _ = task.training_data(dataset)
    callbacks = []
    if config.anneal_to is not None:
        callbacks.append(
            SigmaAnnealing(
                train_config.epochs,
                end=config.anneal_to,
                per_step=config.anneal_per_step,
            )
        )
    result = train(
        net,
        train_data,
        train_config,
        checkpoint_path=checkpoint,
        callbacks=callbacks,
        verbose=verbose,
        max_epochs=max_epochs,
    )
    return net, result


def check_init_from(init_from, first_layer_scale):
    """Refuse training settings that need the weights of a network as built.

    Raises
    ------
    ValueError
        If ``first_layer_scale`` is not 1 (it scales initial weights as built;
        those of ``init_from`` are trained).
    """
    if first_layer_scale != 1:
        raise ValueError(
            f"first_layer_scale={first_layer_scale:g} scales the initial weights of "
            f"a network as built; those of --init-from {init_from} are trained: "
            "leave it at 1 (--first-layer-scale 1), or train without --init-from"
        )


def _initialise_from(net, checkpoint):
    """Copy the parameters of ``checkpoint`` into ``net`` (the same architecture,
    except perhaps for the pools' edges, which have no parameters)."""
    source, _ = load_network(checkpoint)
    if (
        source.architecture.with_pool_edges("clipped").to_dict()["layers"]
        != net.architecture.with_pool_edges("clipped").to_dict()["layers"]
    ):
        raise CheckpointError(
            f"--init-from {checkpoint} holds a {source.architecture.name!r} network "
            f"whose layers differ from the {net.architecture.name!r} network being "
            "trained; give a checkpoint of the same task and architecture"
        )
    pools = set(net.architecture.names_of(AvgPool))
    own = get_params(net)  # the pools' fixed weights follow their edges
    params = {
        key: own[key] if key.split(".")[0] in pools else value
        for key, value in get_params(source).items()
    }
    set_params(net, params)


def checkpoint_test_data(task, dataset, checkpoint, config):
    """A checkpoint's network and the test images it is evaluated on.

    The checkpoint must be of ``task`` (input shape and classes); the images are
    preprocessed with the checkpoint's mean image and classes, and cut to
    ``config.n_test``.

    Returns
    -------
    net : `.SoftLIFNetwork`
    images, labels : ndarray
    source : dict
        ``checkpoint_epoch``, ``checkpoint_sha256`` and ``meta`` (the header).
    """
    # the digest first: a file replaced while loading then shows as changed
    digest = checkpoint_digest(checkpoint)
    net, meta = load_network(checkpoint)
    dataset = _with_checkpoint_classes(dataset, meta.get("classes"), checkpoint)
    source = {
        "checkpoint_epoch": meta["state"].get("epoch"),
        "checkpoint_sha256": digest,
        "meta": meta,
    }
    expected = task.build_architecture(dataset)
    got = net.architecture
    if (
        tuple(got.input_shape) != tuple(expected.input_shape)
        or got.layers[-1].units != expected.layers[-1].units
    ):
        raise CheckpointError(
            f"Checkpoint {checkpoint} is for {got.name!r} (input "
            f"{tuple(got.input_shape)}, {got.layers[-1].units} classes), not the "
            f"{task.name!r} task (input {tuple(expected.input_shape)}, "
            f"{expected.layers[-1].units} classes); pass the task it was trained on "
            "or a checkpoint of this one"
        )
    test_images, test_labels = task.test_data(
        dataset, _stored_mean_image(task, dataset, checkpoint)
    )
    check_test_counts(config, dataset)
    if config.n_test is not None:
        test_images, test_labels = (
            test_images[: config.n_test],
            test_labels[: config.n_test],
        )
    return net, test_images, test_labels, source


def evaluate_checkpoint(
    task, dataset, checkpoint, config, protocol=None, progress=False, spiking=True
):
    """Static (soft and hard) and spiking evaluation of a trained checkpoint.

    Networks without smoothed neurons (the ReLU baselines; see
    `.HARD_EQUIVALENTS`) get only the static run (``static_soft`` is then simply
    the static network); ``spiking=False`` skips the spiking run.

    Returns
    -------
    dict
        ``static_soft``, ``static_hard`` and ``spiking`` result summaries, and
        the checkpoint they are of: ``checkpoint_epoch`` (its training epoch)
        and ``checkpoint_sha256`` (its `.checkpoint_digest`), by which a report
        tells results of an older state of the file from current ones.
    meta : dict
        The checkpoint's header (see `.load_checkpoint`).
    """
    net, test_images, test_labels, source = checkpoint_test_data(
        task, dataset, checkpoint, config
    )
    meta = source.pop("meta")
    protocol = protocol or task.protocol
    dl_options = {"minibatch_size": config.minibatch_size}
    results = {
        "static_soft": evaluate(
            net, test_images, test_labels, backend="nengo-dl", **dl_options
        ),
    }
    if type(net.neuron_type) not in HARD_EQUIVALENTS:  # not smoothed: no spikes
        return {**_summaries(results, None), **source}, meta
    results["static_hard"] = evaluate(
        to_hard_rate(net), test_images, test_labels, backend="nengo-dl", **dl_options
    )
    if not spiking:
        return {**_summaries(results, None), **source}, meta
    spiking_net = to_spiking(net, synapse=nengo.Alpha(config.synapse_tau))
    options = {
        "nengo-dl": dict(dl_options, unroll=config.unroll),
        "fast": dl_options,
    }.get(config.spiking_backend, {})
    options = {**options, **config.backend_options}
    n_spiking = config.spiking_n_test or len(test_labels)
    spiking_data = (spiking_net, test_images[:n_spiking], test_labels[:n_spiking])
    if config.workers > 1 and config.spiking_backend == "fast":
        results["spiking"] = evaluate_parallel(
            *spiking_data,
            protocol=protocol,
            workers=config.workers,
            backend="fast",
            **options,
        )
    else:
        results["spiking"] = evaluate(
            *spiking_data,
            protocol=protocol,
            backend=config.spiking_backend,
            progress=progress,
            **options,
        )
    summaries = _summaries(results, test_labels[:n_spiking])
    summaries["spiking"]["synapse"] = f"Alpha({config.synapse_tau:g})"
    return {**summaries, **source}, meta


def _with_checkpoint_classes(dataset, classes, checkpoint):
    """``dataset`` with its labels in the order of the checkpoint's classes.

    Checkpoints record their class names; data whose classes differ (say a
    renamed class folder) would be classified into the wrong classes, so it is
    refused. A data set with some of the checkpoint's classes, or with them in
    another order, is relabelled. Checkpoints without class names (older
    versions) are taken as they are.
    """
    if classes is None or tuple(classes) == tuple(dataset.classes):
        return dataset
    unknown = [c for c in dataset.classes if c not in classes]
    if unknown:
        raise CheckpointError(
            f"Checkpoint {checkpoint} was trained on the classes {list(classes)}, "
            f"but {dataset.name!r} has class(es) {unknown} that are not among "
            "them; evaluate it on data with its class names (rename the class "
            "folders back), or train a checkpoint on this data"
        )
    index = np.array([classes.index(c) for c in dataset.classes], dtype=np.int64)
    return dataclasses.replace(
        dataset,
        train_labels=index[dataset.train_labels],
        test_labels=index[dataset.test_labels],
        classes=tuple(classes),
    )


def _stored_mean_image(task, dataset, checkpoint):
    """The mean image stored with a checkpoint (None if the task has none).

    Checkpoints of older versions lack it; the mean of ``dataset``'s training
    images is then used, with a warning.
    """
    if not task.subtract_mean:
        return None
    stored = load_preprocessing(checkpoint).get("mean_image")
    if stored is None:
        warnings.warn(
            f"note: checkpoint {checkpoint} stores no mean image (it was written by "
            "an older nengo-softlif); the mean of the training images of "
            f"{dataset.name!r} is subtracted instead, which is right only if they "
            "are the images it was trained on. Checkpoints written now store it",
            stacklevel=3,
        )
        return None
    expected = task.input_shape(dataset)
    if stored.shape != expected:
        raise CheckpointError(
            f"Checkpoint {checkpoint} stores a mean image of shape {stored.shape}, "
            f"but the {task.name!r} task's inputs on {dataset.name!r} have shape "
            f"{expected}; evaluate it on the data (and --image-size) it was "
            "trained with"
        )
    return stored


def _summaries(results, spiking_labels):
    """Result summaries; static ones also give their error on the spiking images.

    When the spiking run uses only the first test images (``spiking_labels``),
    the conversion gap must compare errors on those same images.
    """
    summaries = {k: v.summary() for k, v in results.items()}
    if spiking_labels is not None:
        n = len(spiking_labels)
        for key in ("static_soft", "static_hard"):
            wrong = results[key].predictions[:n] != spiking_labels
            summaries[key]["error_on_spiking_images"] = float(np.mean(wrong))
    return summaries


def static_error_on_spiking_images(record, key="static_soft"):
    """A static error of a result record, on the images of its spiking run.

    Records whose spiking run used every test image (or older records) carry
    only the static error on all images, which is then the same thing.

    Parameters
    ----------
    record : dict
        As written by :func:`run_experiment` (or `.reproduce`).
    key : str
        ``"static_soft"`` or ``"static_hard"``.

    Returns
    -------
    float
        Fraction of misclassified images.
    """
    summary = record[key]
    return summary.get("error_on_spiking_images", summary["error"])


def check_test_counts(config, dataset):
    """Refuse more test images than ``dataset`` has (before any training).

    Raises
    ------
    ValueError
        Naming ``n_test`` or ``spiking_n_test`` and the largest possible value.
    """
    n_images = len(dataset.test_labels)
    for name in ("n_test", "spiking_n_test"):
        n = getattr(config, name)
        if n is not None and n > n_images:
            raise ValueError(
                f"{name}={n} is more than the {n_images} test images of "
                f"{dataset.name!r}; use at most {n_images} (or all: None)"
            )


def run_experiment(
    task,
    dataset,
    out_dir,
    train_config=TrainConfig(),
    config=ExperimentConfig(),
    verbose=2,
    progress=False,
    network=None,
):
    """Train, convert and evaluate; write ``out_dir/results.json``.

    ``network`` may give ``architecture``, ``neuron_type`` and ``lif_params`` to
    train instead of the task's (see :func:`train_task`).

    Returns
    -------
    dict
        The results record (also written to ``results.json``).
    """
    check_test_counts(config, dataset)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    _, train_result = train_task(
        task, dataset, out_dir, train_config, config, verbose, **(network or {})
    )
    train_time = time.perf_counter() - t0
    evaluation, meta = evaluate_checkpoint(
        task,
        dataset,
        os.path.join(out_dir, "checkpoint.npz"),
        config,
        progress=progress,
    )
    record = {
        "task": task.name,
        "train_config": dataclasses.asdict(train_config),
        "experiment": dataclasses.asdict(config),
        "noise": to_spec(parse_noise(config.noise)),
        "epochs": meta["state"].get("epoch"),
        "train_history": meta["state"].get("history"),
        "train_wall_time_s_this_run": train_time,
        "train_seconds_per_epoch": [
            h["seconds"] for h in meta["state"].get("history", [])
        ],
        **evaluation,
    }
    atomic_write_bytes(
        os.path.join(out_dir, "results.json"), json.dumps(record, indent=2).encode()
    )
    return record


def gap_text(record):
    """The spiking error's gap to both static networks, on the same images."""
    if "spiking" not in record or "static_hard" not in record:
        return ""
    spiking = 100 * record["spiking"]["error"]
    soft = spiking - 100 * static_error_on_spiking_images(record, "static_soft")
    hard = spiking - 100 * static_error_on_spiking_images(record, "static_hard")
    return (
        f"gap (spiking - static, on the {record['spiking']['n_images']} spiking "
        f"images): {soft:+.2f} points against soft LIF, {hard:+.2f} against hard LIF"
    )
