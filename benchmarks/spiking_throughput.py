"""Spiking inference throughput: the "fast" backend against nengo-dl and nengo.

Builds the paper's MNIST network (or, with ``--arch cifar10``, the CIFAR-10 one on
24x24x3 inputs) with random weights (Glorot-uniform hidden layers, as built by
:func:`nengo_softlif.build_network`, plus random non-zero output weights) or with
the trained weights of ``--checkpoint``, converts it with
:func:`nengo_softlif.to_spiking`, and classifies random images in [0, 1] with the
paper's protocol (200 ms per image, dt = 1 ms) on every backend.

Each backend configuration runs in its own subprocess, so that its peak memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process: imports, network
and simulation together) is its own; the RSS just before the evaluation is
printed too. Throughput is reported end to end (``evaluate`` wall time, including
building the simulator) and without the setup (the fast backend's compile time,
or the time spent constructing the nengo / nengo-dl simulator).

Random-weight networks fire at other rates than trained ones, and the fast
backend's cost grows with the number of spikes: the mean firing rate of each
layer is printed so that the numbers can be judged.

Examples
--------
::

    python benchmarks/spiking_throughput.py                      # MNIST, ~4 min
    python benchmarks/spiking_throughput.py --checkpoint run/checkpoint.npz
    python benchmarks/spiking_throughput.py --arch cifar10 --n-images 200
"""

import argparse
import json
import os
import time

from _common import rss_mb, run_worker

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_spiking_network(arch, checkpoint=None, seed=0):
    """The spiking network to benchmark (random or trained weights)."""
    import numpy as np

    from nengo_softlif.network.architectures import build_network
    from nengo_softlif.network.checkpoint import get_params, load_network, set_params
    from nengo_softlif.network.convert import to_spiking

    if checkpoint:
        net, _ = load_network(checkpoint)
    else:
        net = build_network(
            arch, lif_params="cifar10" if arch == "cifar10" else "mnist"
        )
        params = get_params(net)
        rng = np.random.default_rng(seed)
        weights = params["output.weights"]
        limit = np.sqrt(6.0 / sum(weights.shape))
        params["output.weights"] = rng.uniform(-limit, limit, size=weights.shape)
        set_params(net, params)
    return to_spiking(net)


def _time_constructor(cls, record):
    """Record the seconds spent in ``cls.__init__`` (simulator build) in ``record``."""
    original = cls.__init__

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        original(self, *args, **kwargs)
        record["setup"] = record.get("setup", 0.0) + time.perf_counter() - start

    cls.__init__ = timed


def worker(config):
    """Run one backend configuration; return a JSON-friendly result."""
    import numpy as np

    from nengo_softlif.evaluation.runner import Protocol, evaluate

    net = build_spiking_network(config["arch"], config["checkpoint"])
    rng = np.random.default_rng(1)
    shape = tuple(net.architecture.input_shape)
    n = config["n_images"]
    if config["images"] == "mnist-sample":
        from nengo_softlif.data import load_embedded_mnist, to_float

        data = load_embedded_mnist()
        images, labels = to_float(data.test_images[:n]), data.test_labels[:n]
    else:
        images = rng.uniform(0, 1, size=(n,) + shape).astype(np.float32)
        labels = rng.integers(0, 10, size=n)
    protocol = Protocol(presentation_time=config["presentation_time"])
    options, record = dict(config["options"]), {}
    backend = config["backend"]
    if backend == "fast":
        import nengo_softlif.backends.fast.simulator  # noqa: F401 (registers "fast")

        options["timings"] = record
    elif backend == "nengo-dl":
        from nengo_softlif.compat import import_nengo_dl

        _time_constructor(import_nengo_dl().Simulator, record)
    else:
        import nengo

        _time_constructor(nengo.Simulator, record)
    rss_before = rss_mb()
    start = time.perf_counter()
    workers = options.pop("workers", 1)
    if workers > 1:  # whole streams per process: same results as one process
        from nengo_softlif.evaluation.distributed import evaluate_parallel

        options.pop("timings", None)
        result = evaluate_parallel(
            net, images, labels, protocol, workers=workers, backend=backend, **options
        )
    else:
        result = evaluate(net, images, labels, protocol, backend=backend, **options)
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "setup": record.pop("setup", 0.0),
        "phases": record,
        "rss_before_mb": rss_before,
        "peak_rss_mb": rss_mb(),
        "layer_rates": result.layer_rates,
        "classification_error": result.error,
        "predictions": result.predictions.tolist(),
        "outputs": result.outputs.tolist(),
    }


def run_config(config):
    """Run ``worker(config)`` in a fresh Python process."""
    return run_worker(__file__, config)


def configurations(args):
    """The backend configurations to compare."""
    common = {
        "arch": args.arch,
        "checkpoint": args.checkpoint,
        "presentation_time": args.presentation_time,
        "images": args.images,
    }
    configs = []
    for mb in args.fast_minibatch:
        n = args.n_images if mb >= 10 else max(mb, args.n_images // 10)
        configs.append(
            dict(
                common,
                backend="fast",
                n_images=n,
                options={"minibatch_size": mb},
                label=f"fast mb={mb}",
            )
        )
    for workers in args.fast_workers:
        if workers > 1:
            mb = args.fast_minibatch[0]
            configs.append(
                dict(
                    common,
                    backend="fast",
                    n_images=args.n_images,
                    options={"minibatch_size": mb, "workers": workers},
                    label=f"fast mb={mb} x{workers} processes",
                )
            )
    if not args.skip_nengo_dl:
        for unroll in args.unroll:
            configs.append(
                dict(
                    common,
                    backend="nengo-dl",
                    n_images=args.n_images,
                    options={"minibatch_size": args.dl_minibatch, "unroll": unroll},
                    label=f"nengo-dl mb={args.dl_minibatch} unroll={unroll}",
                )
            )
    if args.n_nengo > 0:
        configs.append(
            dict(
                common,
                backend="nengo",
                n_images=args.n_nengo,
                options={},
                label="nengo (reference)",
            )
        )
    return configs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=["mnist", "cifar10"], default="mnist")
    parser.add_argument("--checkpoint", default=None, help="trained weights (.npz)")
    parser.add_argument(
        "--n-images",
        type=int,
        default=100,
        help="images for fast (mb >= 10) and nengo-dl runs",
    )
    parser.add_argument(
        "--n-nengo",
        type=int,
        default=2,
        help="images for the nengo reference (0 to skip)",
    )
    parser.add_argument("--fast-minibatch", type=int, nargs="+", default=[100, 10, 1])
    parser.add_argument(
        "--fast-workers",
        type=int,
        nargs="+",
        default=[1],
        help="also run fast with this many processes (e.g. 2; streams sharded)",
    )
    parser.add_argument("--dl-minibatch", type=int, default=100)
    parser.add_argument("--unroll", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--skip-nengo-dl", action="store_true")
    parser.add_argument("--presentation-time", type=float, default=0.2)
    parser.add_argument(
        "--images",
        choices=["random", "mnist-sample"],
        default="random",
        help="random images in [0, 1], or the MNIST test images shipped with the "
        "package (MNIST only; gives realistic activity for trained weights)",
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    if args.images == "mnist-sample" and args.arch != "mnist":
        parser.error("--images mnist-sample needs --arch mnist")
    weights = args.checkpoint or "random weights"
    print(
        f"# {args.arch} ({weights}; {args.images} images), "
        f"{args.presentation_time * 1000:.0f} ms per image, dt 1 ms; "
        f"{os.cpu_count()} CPUs"
    )
    results = []
    for config in configurations(args):
        print(
            f"running {config['label']} on {config['n_images']} images ...", flush=True
        )
        result = run_config(config)
        results.append((config, result))
        if "failure" in result:
            print(f"  failed: {result['failure']}")
            continue
        print(f"  {result['wall']:.1f} s (setup {result['setup']:.1f} s)", flush=True)

    def rate(config, result, steady):
        seconds = result["wall"] - (result["setup"] if steady else 0.0)
        return float("nan") if seconds <= 0 else config["n_images"] / seconds

    ok = [(c, r) for c, r in results if "failure" not in r]
    ref = {
        kind: max(
            (rate(c, r, True) for c, r in ok if c["backend"] == kind), default=None
        )
        for kind in ("fast", "nengo", "nengo-dl")
    }
    best_fast = ref["fast"]
    header = (
        f"{'backend':<28}{'images':>7}{'wall s':>9}{'setup s':>9}{'img/s':>9}"
        f"{'img/s*':>9}{'fast/this':>10}{'RSS0 MB':>9}{'peak MB':>9}"
    )
    print("\n" + header)
    print("-" * len(header))
    for config, result in ok:
        steady = rate(config, result, True)
        ratio = best_fast / steady if best_fast and steady else float("nan")
        print(
            f"{config['label']:<28}{config['n_images']:>7}{result['wall']:>9.1f}"
            f"{result['setup']:>9.1f}{rate(config, result, False):>9.2f}{steady:>9.2f}"
            f"{ratio:>10.1f}{result['rss_before_mb']:>9.0f}{result['peak_rss_mb']:>9.0f}"
        )
    print(
        "img/s: end to end (evaluate wall time); img/s*: without setup (compile or "
        "simulator build);\nfast/this: best fast img/s* over this row's img/s*; "
        "RSS0: max RSS before evaluate; peak: max RSS of the process (getrusage) (of the\n"
        "main process only in multi-process rows)."
    )
    if ref["fast"] and ref["nengo"]:
        print(f"fast / nengo    = {ref['fast'] / ref['nengo']:.1f}x")
    if ref["fast"] and ref["nengo-dl"]:
        print(f"fast / nengo-dl = {ref['fast'] / ref['nengo-dl']:.1f}x (best of each)")

    print("\nmean firing rates (Hz) per layer, and classification error:")
    for config, result in ok:
        rates = ", ".join(f"{k} {v:.1f}" for k, v in result["layer_rates"].items())
        print(
            f"  {config['label']:<28}{rates}; error {100 * result['classification_error']:.1f}%"
        )
    for config, result in ok:
        if config["backend"] == "fast" and result["phases"]:
            total = sum(result["phases"].values())
            parts = ", ".join(
                f"{k} {v:.1f} s ({100 * v / total:.0f}%)"
                for k, v in sorted(result["phases"].items(), key=lambda kv: -kv[1])
            )
            print(f"\nwhere time goes in {config['label']}: {parts}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                [
                    {"config": c, **{k: v for k, v in r.items() if k != "outputs"}}
                    for c, r in results
                ],
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
