"""Loihi emulator benchmark: a trained MNIST network on nengo-loihi vs nengo-dl spiking.

MNIST: classification error, firing rates and wall time per image on the
nengo-loihi emulator (``target="sim"``: discretised like the chip), against
nengo-dl running the same spiking network (alpha synapses, as in the paper, and
with the chip's Lowpass(10 ms) synapses, to isolate that change) on the same
images. The emulator's speed is measured first, on ``--timing-images`` images;
if the whole ``--n-test`` run would take longer than ``--budget-minutes``, the
estimate is reported and the emulator stops when the budget is used up (the
images it managed are compared with nengo-dl on the same images).

CIFAR-10 (``--cifar-data-dir``): whether the paper's network fits Loihi cores
(block shapes, cores), and with ``--cifar-timing`` the emulator's build and
per-image time (on an untrained network unless ``--cifar-checkpoint`` is given;
with a checkpoint and time to spare it is run on ``--cifar-n`` images).

    python benchmarks/loihi_emulator.py --checkpoint runs/mnist-gauss10/checkpoint.npz \\
        --data-dir ../shared/data/mnist --n-test 500

The checkpoint is copied to a temporary file first (a training run may be
rewriting it).
"""

import argparse
import json
import os
import shutil
import tempfile
import time
import warnings

import nengo
import numpy as np

from nengo_softlif.data import load_mnist, to_float
from nengo_softlif.evaluation.runner import (
    Protocol,
    add_monitors,
    check_images,
    evaluate,
)
from nengo_softlif.network.checkpoint import get_params, load_network, set_params
from nengo_softlif.network.convert import copy_network, to_spiking

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--checkpoint", help="trained MNIST checkpoint")
parser.add_argument("--data-dir", help="MNIST IDX files")
parser.add_argument("--skip-mnist", action="store_true", help="only the CIFAR-10 part")
parser.add_argument("--n-test", type=int, default=500)
parser.add_argument("--budget-minutes", type=float, default=20.0)
parser.add_argument("--timing-images", type=int, default=2)
parser.add_argument("--minibatch", type=int, default=50, help="nengo-dl minibatch")
parser.add_argument(
    "--quantisation", action="store_true", help="weight quantisation report (~2 min)"
)
parser.add_argument("--cifar-data-dir", default=None)
parser.add_argument("--cifar-checkpoint", default=None)
parser.add_argument("--cifar-timing", action="store_true")
parser.add_argument("--cifar-n", type=int, default=100)
parser.add_argument("--cifar-cache-dir", default=None)
parser.add_argument(
    "--pool-relays",
    default="none",
    help="pools that are one-spike relays: all, none (counters: the default) or "
    "names separated by commas",
)
parser.add_argument("--out", default=None, help="write the results as JSON here")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument(
    "--per-spike-delivery",
    action="store_true",
    help="nengo-loihi's own per-spike loop (default: vectorize_spike_delivery)",
)


def log(*args):
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def readout_stats(a, b):
    """Differences of two read-outs (window means) of the same images."""
    return {
        "rel_mean_abs_diff": float(np.abs(a - b).mean() / np.abs(b).mean()),
        "prediction_agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
    }


def emulator_run(
    loihi,
    net,
    images,
    labels,
    protocol,
    budget_s,
    timing_images,
    seed,
    vectorized,
    pool_relays=False,
):
    """Run the emulator image by image within a time budget (build included)."""
    import nengo_loihi  # pylint: disable=import-outside-toplevel

    from nengo_softlif.backends.loihi.emulator import vectorize_spike_delivery

    start = time.perf_counter()
    model = copy_network(net)
    monitors = add_monitors(model)
    flat, labels = check_images(images, labels, model.inp.size_out)
    peak = float(np.abs(flat).max())
    loihi.to_loihi(
        model,
        input_rates=(1 / protocol.dt) / peak,
        signed_input=bool(flat.min() < 0),
        pool_relays=pool_relays,
        copy=False,
    )
    plan = model.loihi_plan
    log("placement\n" + plan.summary())
    current = [flat[0]]
    model.inp.output = lambda t: current[0]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        sim = nengo_loihi.Simulator(model, dt=protocol.dt, seed=seed, target="sim")
    if vectorized:
        vectorized = vectorize_spike_delivery(sim.sims["emulator"])
    build_s = time.perf_counter() - t0
    log(f"emulator build {build_s:.0f} s")
    n_steps = protocol.n_steps
    readouts, sums, times = [], [], []
    estimate = None
    try:
        for i in range(len(flat)):
            current[0] = flat[i]
            t0 = time.perf_counter()
            sim.run_steps(n_steps)
            out = np.asarray(sim.data[model.out_probe][-n_steps:])
            readouts.append(out[protocol.window].mean(0))
            sums.append(
                np.concatenate(
                    [
                        np.asarray(sim.data[p][-n_steps:]).sum(0)
                        for p in monitors.values()
                    ]
                )
            )
            sim.clear_probes()
            times.append(time.perf_counter() - t0)
            if i + 1 == timing_images:
                per_image = float(np.mean(times))
                estimate = build_s + per_image * len(flat)
                log(
                    f"{per_image:.1f} s per image: {len(flat)} images would take "
                    f"{estimate / 60:.0f} min with the build (budget "
                    f"{budget_s / 60:.0f} min)"
                )
            elapsed = time.perf_counter() - start
            if i + 1 >= timing_images and elapsed + np.mean(times) > budget_s:
                break
    finally:
        sim.close()
    n_run = len(readouts)
    readouts = np.array(readouts)
    sums = np.array(sums)
    names = list(monitors)
    rates = {n: float(sums[:, 2 * k].mean() / n_steps) for k, n in enumerate(names)}
    per_image = float(np.mean(times))
    return {
        "vectorized_spike_delivery": vectorized,
        "n_run": n_run,
        "error": float(np.mean(readouts.argmax(1) != labels[:n_run])),
        "readouts": readouts,
        "layer_rates_hz": rates,
        "build_s": build_s,
        "seconds_per_image": per_image,
        "estimated_full_run_s": (
            estimate if estimate is not None else build_s + per_image * len(flat)
        ),
        "cores": plan.n_cores,
        "placement": {
            n: {"block_shape": p.block_shape, "cores": p.n_blocks, **p.usage}
            for n, p in plan.layers.items()
        },
    }


def mnist(args, loihi):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "checkpoint.npz")
        shutil.copyfile(args.checkpoint, path)
        net, meta = load_network(path)
    log(f"checkpoint epoch {meta.get('state', {}).get('epoch')}")
    results["checkpoint_epoch"] = meta.get("state", {}).get("epoch")
    spiking = to_spiking(net)
    dataset = load_mnist(args.data_dir)
    images = to_float(dataset.test_images[: args.n_test])
    labels = np.asarray(dataset.test_labels[: args.n_test])
    protocol = Protocol()  # the paper's: 200 ms per image, read out 120-200 ms

    # nengo-dl: the paper's spiking network (Alpha 5 ms), and with Lowpass(10 ms)
    candidates = {
        "nengo_dl": spiking,
        "nengo_dl_lowpass": to_spiking(net, synapse=nengo.Lowpass(0.01)),
    }
    for name, candidate in candidates.items():
        res = evaluate(
            candidate,
            images,
            labels,
            protocol,
            backend="nengo-dl",
            minibatch_size=args.minibatch,
        )
        results[name] = {
            "error": res.error,
            "layer_rates_hz": res.layer_rates,
            "seconds_per_image": res.wall_time / res.n_images,
            "readouts": res.outputs,
        }
        log(f"{name}: error {res.error:.4f} on {res.n_images}, rates {res.layer_rates}")

    emu = emulator_run(
        loihi,
        spiking,
        images,
        labels,
        protocol,
        args.budget_minutes * 60,
        args.timing_images,
        args.seed,
        not args.per_spike_delivery,
    )
    n = emu["n_run"]
    ref = results["nengo_dl"]
    emu["same_images"] = {
        "nengo_dl_error": float(np.mean(ref["readouts"][:n].argmax(1) != labels[:n])),
        "nengo_dl_lowpass_error": float(
            np.mean(results["nengo_dl_lowpass"]["readouts"][:n].argmax(1) != labels[:n])
        ),
        "vs_nengo_dl": readout_stats(emu["readouts"], ref["readouts"][:n]),
        "lowpass_vs_nengo_dl": readout_stats(
            results["nengo_dl_lowpass"]["readouts"][:n], ref["readouts"][:n]
        ),
    }
    sub = evaluate(
        spiking, images[:n], labels[:n], protocol, backend="nengo-dl", minibatch_size=n
    )
    emu["same_images"]["nengo_dl_layer_rates_hz"] = sub.layer_rates
    log(
        f"emulator: error {emu['error']:.4f} on {n} images (nengo-dl on the same: "
        f"{emu['same_images']['nengo_dl_error']:.4f}), rates {emu['layer_rates_hz']} "
        f"(nengo-dl {sub.layer_rates}), {emu['seconds_per_image']:.1f} s/image, "
        f"full run of {len(images)} estimated at {emu['estimated_full_run_s'] / 60:.0f} min"
    )
    results["emulator"] = emu
    results["synapse_comparison"] = loihi.synapse_comparison()

    if args.quantisation:
        t0 = time.perf_counter()
        report = loihi.quantisation_report(spiking, protocol=protocol)
        report["seconds"] = time.perf_counter() - t0
        results["quantisation"] = report
        log("quantisation", json.dumps(report["layers"], indent=1))
    for res in results.values():
        if isinstance(res, dict):
            res.pop("readouts", None)
    return results


def pool_relays(args):
    """``to_loihi``'s ``pool_relays`` from ``--pool-relays``."""
    if args.pool_relays in ("all", "none"):
        return args.pool_relays == "all"
    return {name.strip() for name in args.pool_relays.split(",") if name.strip()}


def cifar(args, loihi):
    from nengo_softlif.data import load_cifar10  # pylint: disable=C0415
    from nengo_softlif.experiments.tasks import get_task  # pylint: disable=C0415
    from nengo_softlif.network.architectures import (
        build_network,
    )  # pylint: disable=C0415

    results = {}
    task = get_task("cifar10")
    if args.cifar_checkpoint:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "checkpoint.npz")
            shutil.copyfile(args.cifar_checkpoint, path)
            net, _ = load_network(path)
        results["weights"] = "trained"
    else:
        # untrained: placement and speed only (errors would be chance)
        net = build_network("cifar10", lif_params="cifar10", seed=args.seed)
        params = get_params(net)
        rng = np.random.default_rng(args.seed)
        params["output.weights"] = rng.normal(0, 0.1, params["output.weights"].shape)
        set_params(net, params)
        results["weights"] = "untrained (random read-out)"
    spiking = to_spiking(net)
    dataset = load_cifar10(args.cifar_data_dir, cache_dir=args.cifar_cache_dir)
    _, prepare_test = task.preprocessor(dataset)
    images = prepare_test(dataset.test_images[: args.cifar_n])
    labels = np.asarray(dataset.test_labels[: args.cifar_n])
    protocol = task.protocol
    relays = pool_relays(args)
    results["pool_relays"] = relays if isinstance(relays, bool) else sorted(relays)
    try:
        placed = loihi.to_loihi(
            spiking,
            input_rates=(1 / protocol.dt) / float(np.abs(images).max()),
            signed_input=bool(images.min() < 0),
            pool_relays=relays,
        )
    except loihi.LoihiPlacementError as err:
        results["fits"] = False
        results["reason"] = str(err)
        log(f"CIFAR-10 does not fit: {err}")
        return results
    results["fits"] = True
    results["cores"] = placed.loihi_plan.n_cores
    results["placement"] = {
        n: {"block_shape": p.block_shape, "cores": p.n_blocks, **p.usage}
        for n, p in placed.loihi_plan.layers.items()
    }
    log("CIFAR-10 placement\n" + placed.loihi_plan.summary())
    if args.cifar_timing:
        budget = args.budget_minutes * 60 if args.cifar_checkpoint else 0.0
        emu = emulator_run(
            loihi,
            spiking,
            images,
            labels,
            protocol,
            budget,
            1,
            args.seed,
            not args.per_spike_delivery,
            relays,
        )
        readouts = emu.pop("readouts")
        if not args.cifar_checkpoint:
            emu.pop("error")
        else:
            # the same spiking network (Alpha synapses) on the same images, with
            # the fast backend (same dynamics as nengo)
            n = emu["n_run"]
            ref = evaluate(spiking, images[:n], labels[:n], protocol, backend="fast")
            emu["same_images"] = {
                "fast_error": ref.error,
                "fast_layer_rates_hz": ref.layer_rates,
                "vs_fast": readout_stats(readouts, ref.outputs),
            }
            log(
                f"CIFAR-10 emulator: error {emu['error']:.4f} on {n} images (fast "
                f"backend on the same: {ref.error:.4f}), rates {emu['layer_rates_hz']}"
                f" (fast {ref.layer_rates})"
            )
        results["emulator"] = emu
        log(
            f"CIFAR-10 emulator: build {emu['build_s']:.0f} s, "
            f"{emu['seconds_per_image']:.1f} s/image; {args.cifar_n} images estimated "
            f"at {emu['estimated_full_run_s'] / 60:.0f} min"
        )
    return results


def main():
    args = parser.parse_args()
    # imports nengo-loihi without TensorFlow; nengo-dl imports it later as usual
    from nengo_softlif import loihi  # pylint: disable=import-outside-toplevel

    t0 = time.perf_counter()
    results = {}
    if not args.skip_mnist:
        if not (args.checkpoint and args.data_dir):
            parser.error("--checkpoint and --data-dir are needed (or --skip-mnist)")
        results["mnist"] = mnist(args, loihi)
    if args.cifar_data_dir:
        results["cifar10"] = cifar(args, loihi)
    results["total_seconds"] = time.perf_counter() - t0
    text = json.dumps(results, indent=2, default=lambda o: np.asarray(o).tolist())
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
