"""Evaluate a large test set sharded over the workers of a distributed engine.

:func:`evaluate_sharded` splits the images into shards, evaluates each on a worker
with :func:`nengo_softlif.evaluation.runner`, and merges the results into one
`.EvaluationResult` equal to what a single process gives.

Exactness: the minibatched backends (``fast``, ``nengo-dl``) present the images as
``minibatch_size`` independent streams, stream ``b`` showing a contiguous block of
``ceil(n / minibatch_size)`` images without a reset in between. Shards here are
made of whole streams (the short last stream, if any, is a shard of its own), so
every stream sees exactly the images, in the order and from the state, it would
in one process: predictions, read-outs, error and the per-image means (layer
rates, synaptic events, error against time) are the same, up to the order of
floating-point sums. The sequential backends (``nengo``, ``loihi``) are one stream;
they can be sharded only with ``Protocol(reset=True)``.

Any engine with an executor-style ``submit(fn, *args) -> future`` and
``future.result()`` works: a ``dask.distributed.Client`` (tested with a local
cluster of two worker processes), ``concurrent.futures.ProcessPoolExecutor``,
or Ray through ``ray.util.multiprocessing`` / an executor adapter. Nothing here
imports the engine.
"""

import math
import os
import pickle
import time
import warnings

import numpy as np

from nengo_softlif.evaluation.runner import (
    EvaluationResult,
    Protocol,
    check_images,
    evaluate,
)
from nengo_softlif.processes import follow_parent, stop_pool

__all__ = ["stream_shards", "evaluate_sharded", "evaluate_parallel", "merge_results"]

#: Backends that present images as independent minibatch streams.
STREAM_BACKENDS = ("fast", "nengo-dl")


def stream_shards(n_images, minibatch_size, n_shards):
    """Split a streamed evaluation into shards of whole streams.

    Parameters
    ----------
    n_images : int
    minibatch_size : int
        Streams of the single-process evaluation.
    n_shards : int
        Wanted number of shards (of full streams; one more may hold the short
        last stream).

    Returns
    -------
    list of (start, stop, n_streams)
        Image range of each shard and the streams it covers.
    """
    if n_images < 1 or minibatch_size < 1 or n_shards < 1:
        raise ValueError("n_images, minibatch_size and n_shards must be >= 1")
    per_stream = math.ceil(n_images / minibatch_size)
    n_full, remainder = divmod(n_images, per_stream)
    shards = []
    bounds = np.linspace(0, n_full, min(n_shards, n_full) + 1).round().astype(int)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            shards.append((int(a * per_stream), int(b * per_stream), int(b - a)))
    if remainder:
        shards.append((n_full * per_stream, n_images, 1))
    return shards


def _weighted(values, weights):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(np.average(values, weights=weights[: len(values)]))


def merge_results(results, labels, wall_time=None):
    """One `.EvaluationResult` from the results of consecutive shards.

    Parameters
    ----------
    results : list of `.EvaluationResult`
        In image order.
    labels : array_like of int
        All labels, in image order.
    wall_time : float, optional
        Elapsed seconds of the whole evaluation (default: the slowest shard).
    """
    labels = np.asarray(labels)
    weights = np.array([r.n_images for r in results], dtype=float)
    predictions = np.concatenate([r.predictions for r in results])
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    first = results[0]
    merged = EvaluationResult(
        error=float(np.mean(predictions != labels)),
        n_images=len(labels),
        predictions=predictions,
        outputs=np.concatenate([r.outputs for r in results]),
        layer_rates={
            name: _weighted([r.layer_rates[name] for r in results], weights)
            for name in first.layer_rates
        },
        wall_time=(
            max(r.wall_time for r in results) if wall_time is None else wall_time
        ),
        backend=first.backend,
        protocol=first.protocol,
    )
    for name in (
        "synaptic_events_per_image",
        "neuron_updates_per_image",
        "energy_ratio",
        "rate_flops_per_image",
    ):
        setattr(merged, name, _weighted([getattr(r, name) for r in results], weights))
    if first.error_vs_time is not None:
        merged.error_vs_time = {
            "t_ms": list(first.error_vs_time["t_ms"]),
            "error": [
                float(e)
                for e in np.average(
                    [r.error_vs_time["error"] for r in results], axis=0, weights=weights
                )
            ],
        }
    if first.readouts is not None:
        merged.readouts = _merge_readouts([r.readouts for r in results], weights)
    return merged


def _merge_readouts(readouts, weights):
    """Image-weighted means of the shards' read-out errors and decision times."""
    merged = {}
    for kind, rows in readouts[0].items():
        merged[kind] = []
        for i, row in enumerate(rows):
            shard_rows = [r[kind][i] for r in readouts]
            merged[kind].append(
                {
                    key: (
                        _weighted([s[key] for s in shard_rows], weights)
                        if key in ("error", "mean_decision_s", "decided_early")
                        else value
                    )
                    for key, value in row.items()
                }
            )
    return merged


def evaluate_sharded(
    net,
    images,
    labels,
    client,
    protocol=None,
    backend="fast",
    n_shards=None,
    minibatch_size=100,
    **options,
):
    """:func:`nengo_softlif.evaluation.runner` with the images sharded over workers.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        Static or spiking network (sent to every worker once per shard).
    images, labels : array_like
        As for :func:`nengo_softlif.evaluation.runner`.
    client : executor
        Has ``submit(fn, *args, **kwargs)`` returning futures with ``result()``;
        e.g. ``dask.distributed.Client(LocalCluster(n_workers=2))``.
    protocol : `.Protocol`, optional
    backend : str
        Backend run on each worker.
    n_shards : int, optional
        Shards to make (default: the engine's worker count if it reports one,
        else 2).
    minibatch_size : int
        Streams of the equivalent single-process evaluation (stream backends).
    **options
        Passed to the backend on each worker.

    Returns
    -------
    `.EvaluationResult`
        As from one process; ``wall_time`` is the elapsed time of the sharded run.
    """
    flat, labels = check_images(images, labels, net.inp.size_out)
    if n_shards is None:
        n_shards = _worker_count(client) or 2
    start = time.perf_counter()
    payload = pickle.dumps(net)  # once, whatever the number of shards
    if backend in STREAM_BACKENDS:
        shards = stream_shards(len(labels), minibatch_size, n_shards)
        futures = [
            client.submit(
                _evaluate_pickled,
                payload,
                flat[a:b],
                labels[a:b],
                protocol=protocol,
                backend=backend,
                minibatch_size=streams,
                **options,
            )
            for a, b, streams in shards
        ]
    else:
        if protocol is None or not (isinstance(protocol, Protocol) and protocol.reset):
            raise ValueError(
                f"The {backend!r} backend presents all images as one stream, carrying "
                "state from image to image, so shards would not give the same "
                "results; pass protocol=Protocol(reset=True) or use one of "
                f"{STREAM_BACKENDS}"
            )
        bounds = np.linspace(0, len(labels), n_shards + 1).round().astype(int)
        futures = [
            client.submit(
                _evaluate_pickled,
                payload,
                flat[a:b],
                labels[a:b],
                protocol,
                backend,
                **options,
            )
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a
        ]
    results = [future.result() for future in futures]
    return merge_results(results, labels, wall_time=time.perf_counter() - start)


def _evaluate_pickled(payload, *args, **kwargs):
    """:func:`evaluate` of a pickled network, on a worker.

    nengo warns, for every node it unpickles, that a node without output takes
    its ``size_out`` from ``size_in`` (what it should do); unpickling here, inside
    the task, lets that be silenced once per task instead of printed by every
    worker.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is being overwritten with")
        net = pickle.loads(payload)
    return evaluate(net, *args, **kwargs)


def evaluate_parallel(net, images, labels, protocol=None, workers=2, **kwargs):
    """:func:`evaluate_sharded` over local worker processes (all cores of a machine).

    The ``fast`` backend runs numpy on one core; ``workers`` processes use that
    many. Workers start from a fresh interpreter (``forkserver``, so a parent that
    has imported TensorFlow is never forked) and import only what evaluation
    needs; the network is pickled to them. The workers end with the calling
    process, however it ends (``nengo_softlif.processes.follow_parent``), and
    at once if the evaluation is interrupted or fails.

    Parameters
    ----------
    net, images, labels, protocol
        As for :func:`nengo_softlif.evaluation.runner`.
    workers : int
        Worker processes (and shards of whole streams).
    **kwargs
        ``backend``, ``minibatch_size`` and backend options, as for
        :func:`evaluate_sharded`.
    """
    import concurrent.futures  # pylint: disable=import-outside-toplevel
    import multiprocessing  # pylint: disable=import-outside-toplevel

    if workers < 1:
        raise ValueError(f"workers must be >= 1 (got {workers})")
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in methods else "spawn"
    )
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=follow_parent, initargs=(os.getpid(),)
    )
    try:
        result = evaluate_sharded(
            net, images, labels, pool, protocol, n_shards=workers, **kwargs
        )
    except BaseException:
        stop_pool(pool)  # Ctrl-C, SIGTERM or an error: not after the other shards
        raise
    pool.shutdown()
    return result


def _worker_count(client):
    info = getattr(client, "scheduler_info", None)
    if callable(info):
        try:
            return len(info().get("workers", {})) or None
        except Exception:  # noqa: BLE001  (best effort only)
            return None
    return getattr(client, "_max_workers", None)
