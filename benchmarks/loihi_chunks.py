"""The emulator against the fast backend, image by image, in resumable chunks.

Runs the first N test images of a trained network one way (``--mode``):
``exact`` (the spiking network on the fast backend), ``chip`` (the model of the
chip on the fast backend: every change of
:data:`nengo_softlif.backends.loihi.CHIP_CHANGES`) or ``emulator`` (nengo-loihi,
``target="sim"``; minutes per chunk). Each chunk of C images is one stream that
begins with the image before its first (its output discarded), so every image
follows its predecessor as in one long run, and each chunk ends in its own file:
a run that stops goes on from the next chunk, and a second process on the same
``--out`` with ``--from-the-end`` shares the chunks. The chip's options (input rates,
signed input, pools) are chosen once and kept in ``OUT/options.json`` for every
mode and chunk.

``--compare`` prints, for the chunks done so far, the error of each mode, how
many predictions agree and the layer rates (the exact run from ``--exact-out``,
e.g. at another time step).

Usage::

    python benchmarks/loihi_chunks.py --task cifar10 --data-dir DATA/cifar10 \\
        --cache-dir CACHE --checkpoint runs/chip-ready/checkpoint.npz \\
        --out runs/emulator --dt 0.0005 --pool-relays pool1,pool2 --mode exact
    # then --mode chip, --mode emulator, and --compare (same options)
"""

import argparse
import dataclasses
import glob
import json
import os
import time

import numpy as np

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.data import load_dataset
from nengo_softlif.evaluation.runner import evaluate
from nengo_softlif.experiments.experiment import ExperimentConfig, checkpoint_test_data
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.convert import to_spiking

MODES = ("exact", "chip", "emulator")


def chip_options(spiking, flat, protocol, out, pool_relays):
    """The chip's options at its ``protocol``, chosen once (``OUT/options.json``)."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi import choose_pools
    from nengo_softlif.backends.loihi.simulation import choose_input_options

    path = os.path.join(out, "options.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    rates, signed = choose_input_options(flat, protocol, None, None)
    options = {"input_rates": rates, "signed_input": signed}
    if pool_relays == "auto":
        choice = choose_pools(spiking, flat, protocol, **options)
        options.update(pool_relays=sorted(choice.relays), pool_spikes=choice.spikes)
    elif pool_relays:
        options["pool_relays"] = pool_relays.split(",")
    atomic_write_bytes(path, json.dumps(options, indent=1).encode())
    return options


def run_chunks(args, spiking, flat, labels, protocol, options):
    """Run ``args.mode`` on every chunk not done yet."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi import CHIP_CHANGES, apply_chip_changes

    network = spiking
    if args.mode == "chip":
        network = apply_chip_changes(spiking, tuple(CHIP_CHANGES), **options)
    n = len(labels)
    starts = list(range(0, n, args.chunk))
    for start in starts[::-1] if args.from_the_end else starts:
        path = os.path.join(args.out, f"{args.mode}_{start:05d}.npz")
        if not _claim(path):
            continue
        if os.path.exists(path):  # done (by another process before the claim)
            os.remove(path + ".lock")
            continue
        idx = np.arange(start - 1, min(start + args.chunk, n)) % n
        t = time.time()
        if args.mode == "emulator":
            kwargs = {"backend": "loihi", **options}
        else:  # one stream, as on the emulator
            kwargs = {"backend": "fast", "minibatch_size": 1}
        res = evaluate(network, flat[idx], labels[idx], protocol, **kwargs)
        seconds = time.time() - t
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(
            tmp,
            predictions=res.predictions[1:],
            labels=labels[idx][1:],
            seconds=seconds,
            layer_rates=json.dumps(res.layer_rates),
        )
        os.replace(tmp, path)
        os.remove(path + ".lock")
        error = np.mean(res.predictions[1:] != labels[idx][1:])
        print(f"{args.mode} {start}: error {error:.3f}, {seconds:.0f} s", flush=True)


def _claim(path):
    """Whether this process may run the chunk ``path`` (a lock beside it).

    Several processes can share the chunks of one mode: a chunk whose lock
    names a running process is left to it; a lock of a process that is gone is
    taken over.
    """
    lock = path + ".lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            with open(lock) as f:
                os.kill(int(f.read() or 0), 0)
            return False  # its process is running
        except (ProcessLookupError, ValueError):
            os.remove(lock)
            return _claim(path)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def _load(out, mode):
    """The chunks of ``mode`` done in ``out``, by the index of their first image."""
    chunks = {}
    for path in glob.glob(os.path.join(out, f"{mode}_*.npz")):
        first = int(os.path.basename(path)[len(mode) + 1 : -len(".npz")])
        chunks[first] = np.load(path)
    return chunks


def compare(out, exact_out):
    """Errors, agreement and layer rates of the modes on the chunks all have.

    With two processes sharing the chunks (``--from-the-end``), the chunks
    done so far need not be the first ones: only chunks that every mode has
    are compared, image by image.
    """
    runs = {"exact": _load(exact_out, "exact")}
    runs.update({mode: _load(out, mode) for mode in ("chip", "emulator")})
    runs = {mode: chunks for mode, chunks in runs.items() if chunks}
    common = sorted(set.intersection(*(set(chunks) for chunks in runs.values())))
    if not common:
        print("no chunk is done in every mode yet")
        return
    merged = {
        mode: {
            key: np.concatenate([chunks[first][key] for first in common])
            for key in ("predictions", "labels")
        }
        for mode, chunks in runs.items()
    }
    exact = merged.get("exact")
    n = len(next(iter(merged.values()))["labels"])  # the same images in every mode
    lines = [
        f"{n} test images (the chunks every mode has, from image {common[0]})",
        "",
        "| mode | error | agrees with exact | rates (Hz) | s per chunk |",
        "|---|---|---|---|---|",
    ]
    for mode, run in merged.items():
        error = np.mean(run["predictions"] != run["labels"])
        agree = (
            "-"
            if exact is None
            else f"{np.mean(run['predictions'] == exact['predictions']):.1%}"
        )
        per_chunk = [
            json.loads(str(runs[mode][first]["layer_rates"])) for first in common
        ]
        rates = ", ".join(
            f"{layer} {np.mean([r[layer] for r in per_chunk]):.2f}"
            for layer in per_chunk[0]
        )
        seconds = [float(runs[mode][first]["seconds"]) for first in common]
        lines.append(
            f"| {mode} | {error:.1%} | {agree} | {rates} | "
            f"{min(seconds):.0f}-{max(seconds):.0f} |"
        )
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="cifar10")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--checkpoint", help="the network (not for --compare)")
    parser.add_argument("--out", required=True, help="folder of the chunks")
    parser.add_argument("--mode", choices=MODES, default=None)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument(
        "--dt", type=float, default=None, help="the chip's time step (chip, emulator)"
    )
    parser.add_argument(
        "--exact-dt",
        type=float,
        default=None,
        help="the exact run's time step (default: the task's; give --dt's value "
        "to compare the emulator with the exact network at its own time step, "
        "with --out another folder and --exact-out it in --compare)",
    )
    parser.add_argument(
        "--pool-relays", default=None, help="auto, or pools that are relays (a,b)"
    )
    parser.add_argument(
        "--from-the-end",
        action="store_true",
        help="run the chunks last first (a second process on the same --out)",
    )
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--exact-out", default=None, help="default: --out")
    args = parser.parse_args()
    if args.compare:
        compare(args.out, args.exact_out or args.out)
        return
    if args.mode is None:
        parser.error(f"give --mode ({', '.join(MODES)}) or --compare")
    if args.checkpoint is None:
        parser.error("--mode needs --checkpoint (the network's checkpoint.npz)")
    os.makedirs(args.out, exist_ok=True)
    task = get_task(args.task)
    dataset = load_dataset(args.task, data_dir=args.data_dir, cache_dir=args.cache_dir)
    net, images, labels, _ = checkpoint_test_data(
        task, dataset, args.checkpoint, ExperimentConfig(n_test=args.n_test)
    )
    chip_protocol = task.protocol
    if args.dt is not None:
        chip_protocol = dataclasses.replace(chip_protocol, dt=args.dt)
    spiking = to_spiking(net)
    flat = images.reshape(len(images), -1).astype(np.float32)
    options = chip_options(spiking, flat, chip_protocol, args.out, args.pool_relays)
    print("chip options", options, flush=True)
    protocol = chip_protocol
    if args.mode == "exact":
        protocol = task.protocol
        if args.exact_dt is not None:
            protocol = dataclasses.replace(protocol, dt=args.exact_dt)
    run_chunks(args, spiking, flat, labels, protocol, options)


if __name__ == "__main__":
    main()
