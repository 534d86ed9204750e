"""Beyond the paper: error against time steps and synaptic events per image.

Evaluates trained checkpoints as spikes (fast backend) at several presentation
times per image, each image following the last without a reset. Every
presentation time is one simulation; the read-out windows ending at the end of
the presentation (its last 25, 50 and 100 %) and early decisions (the output's
lead over the second class above a margin) are all read from that simulation.
Prints a markdown table (error, mean decision time, synaptic events and the
paper's energy estimate per image) and draws the error against time steps and
against synaptic events, one curve per checkpoint.

Examples
--------
::

    python benchmarks/fewer_spikes.py --task mnist --data-dir DATA/mnist \\
        --checkpoint paper=runs/training-options/mnist/epochs10/paper/seed0/checkpoint.npz \\
        --checkpoint default=runs/training-options/mnist/epochs10/hard-forward/seed0/checkpoint.npz \\
        --n-test 2000 --workers 2 --out runs/fewer-spikes \\
        --synapses alpha:0.005,alpha:0.002 --reset off,on

With ``--held-out``, the synapse, reset and read-out window with the lowest error
at each presentation time on the ``--n-test`` images are then measured on the
next ``--held-out`` images, so that the options are not chosen on the images
they are reported on::

    python benchmarks/fewer_spikes.py --task cifar10 --data-dir DATA/cifar10 \\
        --checkpoint shipped=runs/cifar10-headline/checkpoint.npz --times-ms 50,100,200 \\
        --synapses alpha:0.005,alpha:0.002,lowpass:0.002 --n-test 2000 \\
        --held-out 8000 --workers 2 --out runs/fewer-spikes-cifar10
"""

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from nengo_softlif.console import quiet_known_warnings
from nengo_softlif.data import load_dataset
from nengo_softlif.evaluation.distributed import evaluate_parallel
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.checkpoint import load_network
from nengo_softlif.network.convert import to_spiking

from _common import write_results

FRACTIONS = (0.25, 0.5, 1.0)  # read-out windows: the last part of the presentation
DEFAULT_SYNAPSE = "alpha:0.005"  # the paper's


def parse_synapse(spec):
    """``"alpha:TAU"``, ``"lowpass:TAU"`` (seconds) or ``"none"`` as a synapse."""
    import nengo  # noqa: PLC0415

    kind, _, tau = spec.partition(":")
    kinds = {"alpha": nengo.Alpha, "lowpass": nengo.Lowpass}
    if kind == "none" and not tau:
        return None
    if kind not in kinds or not tau:
        raise argparse.ArgumentTypeError(
            f"synapse {spec!r}: write alpha:TAU, lowpass:TAU (seconds) or none"
        )
    return kinds[kind](float(tau))


def setting_name(name, synapse_spec, reset, args):
    """The curve's label: the checkpoint, then the options that are not the paper's."""
    parts = [name]
    if len(args.synapses) > 1 or args.synapses[0] != DEFAULT_SYNAPSE:
        parts.append(synapse_spec)
    if reset:
        parts.append("reset")
    return ", ".join(parts)


def run_setting(
    name, net, synapse_spec, reset, task, images, labels, args, times_ms=None
):
    """One row per (presentation time, read-out) of a checkpoint and its options."""
    spiking = to_spiking(net, synapse=parse_synapse(synapse_spec))
    base_name, name = name, setting_name(name, synapse_spec, reset, args)
    rows = []
    for ms in args.times_ms if times_ms is None else times_ms:
        t = ms / 1000
        protocol = dataclasses.replace(
            task.protocol, presentation_time=t, t_start=t / 2, t_end=t, reset=reset
        )
        result = evaluate_parallel(
            spiking,
            images,
            labels,
            protocol=protocol,
            workers=args.workers,
            backend="fast",
            windows=[(t * (1 - f), t) for f in FRACTIONS],
            decision_margins=args.margins if ms == max(args.times_ms) else (),
            decision_t_min=args.min_decision_ms / 1000,
        )
        per_step = result.synaptic_events_per_image / protocol.n_steps
        common = {
            "checkpoint": name,
            "base": base_name,
            "synapse": synapse_spec,
            "reset": reset,
            "steps": protocol.n_steps,
            "rates": result.layer_rates,
        }
        for f, window in zip(FRACTIONS, result.readouts["windows"], strict=True):
            rows.append(
                {
                    **common,
                    "readout": f"last {int(100 * f)} %",
                    "error": window["error"],
                    "decision_ms": ms,
                    "events": result.synaptic_events_per_image,
                    "energy": result.energy_ratio,
                }
            )
        for early in result.readouts["early"]:
            steps = early["mean_decision_s"] / protocol.dt
            rows.append(
                {
                    **common,
                    "readout": f"early, margin {early['margin']:g}",
                    "error": early["error"],
                    "decision_ms": 1000 * early["mean_decision_s"],
                    "events": per_step * steps,  # the spikes until the decision
                    "energy": None,
                }
            )
        print(f"{name} {ms} ms: {100 * rows[-1]['error']:.2f}% ...", flush=True)
    return rows


def summarise(rows):
    """Rows of the same setting, presentation time and read-out, over seeds.

    Returns one dict per group with the mean and standard deviation of the error
    and the mean decision time, synaptic events and energy, in first-seen order.
    """
    groups = {}
    for r in rows:
        groups.setdefault((r["checkpoint"], r["steps"], r["readout"]), []).append(r)
    summary = []
    for (name, steps, readout), group in groups.items():
        errors = np.array([r["error"] for r in group])
        energies = [r["energy"] for r in group if r["energy"] is not None]
        summary.append(
            {
                "checkpoint": name,
                "steps": steps,
                "readout": readout,
                "error": float(errors.mean()),
                "error_std": float(errors.std(ddof=1)) if len(group) > 1 else None,
                "decision_ms": float(np.mean([r["decision_ms"] for r in group])),
                "events": float(np.mean([r["events"] for r in group])),
                "energy": float(np.mean(energies)) if energies else None,
                "seeds": len(group),
            }
        )
    return summary


def choose(rows):
    """Per checkpoint and presentation time, the options with the lowest error.

    Candidates are every synapse, reset and whole-window read-out (early decisions
    do not shorten the presentation); errors are averaged over seeds.

    Returns
    -------
    list of dict
        ``base``, ``steps``, ``synapse``, ``reset``, ``readout`` and ``error`` (on
        the images the rows were measured on), in first-seen order.
    """
    groups = {}
    for r in rows:
        if not r["readout"].startswith("last"):
            continue
        key = (r["base"], r["steps"], r["synapse"], r["reset"], r["readout"])
        groups.setdefault(key, []).append(r["error"])
    best = {}
    for (base, steps, synapse, reset, readout), errors in groups.items():
        error = float(np.mean(errors))
        if (base, steps) not in best or error < best[base, steps]["error"]:
            best[base, steps] = dict(
                base=base,
                steps=steps,
                synapse=synapse,
                reset=reset,
                readout=readout,
                error=error,
            )
    return list(best.values())


def held_out_rows(chosen, networks, task, images, labels, args):
    """The chosen options of :func:`choose` on other test images, one row each."""
    rows = []
    for c in chosen:
        ms = round(1000 * c["steps"] * task.protocol.dt)
        for seed, (path, net) in enumerate(networks[c["base"]]):
            measured = run_setting(
                c["base"],
                net,
                c["synapse"],
                c["reset"],
                task,
                images,
                labels,
                args,
                times_ms=[ms],
            )
            row = next(r for r in measured if r["readout"] == c["readout"])
            rows.append({**row, "seed": seed, "path": path})
    return rows


def table(summary):
    lines = [
        "| checkpoint | time steps | read-out | error % | decision (ms) | "
        "synaptic events / image | energy vs rate net | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        energy = "-" if r["energy"] is None else f"{r['energy']:.3f}"
        error = f"{100 * r['error']:.2f}"
        if r["error_std"] is not None:
            error += f" +- {100 * r['error_std']:.2f}"
        lines.append(
            f"| {r['checkpoint']} | {r['steps']} | {r['readout']} | {error} | "
            f"{r['decision_ms']:.0f} | {r['events']:.3g} | {energy} | {r['seeds']} |"
        )
    return "\n".join(lines)


def figure(summary, path, readout=f"last {int(100 * FRACTIONS[0])} %"):
    """Error against time steps and events, one curve per setting, one read-out."""
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    from nengo_softlif.experiments.plots import _new_figure, _save  # noqa: PLC0415

    fig = _new_figure((10, 4))
    by_steps, by_events = fig.subplots(1, 2)
    for name in dict.fromkeys(r["checkpoint"] for r in summary):
        points = sorted(
            (r for r in summary if r["checkpoint"] == name and r["readout"] == readout),
            key=lambda r: r["steps"],
        )
        errors = [100 * r["error"] for r in points]
        by_steps.plot([r["steps"] for r in points], errors, "o-", label=name)
        by_events.plot([r["events"] for r in points], errors, "o-", label=name)
    by_steps.set(
        xlabel="time steps per image",
        ylabel=f"error (%), read-out: {readout} of each image",
        yscale="log",
    )
    by_events.set(
        xlabel="synaptic events per image",
        ylabel="error (%)",
        xscale="log",
        yscale="log",
    )
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax in (by_steps, by_events):
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(plain)
    by_steps.legend(fontsize="small")
    return _save(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="NAME=PATH[,PATH...]",
        help="a trained network; several paths under one name are seeds of one "
        "setting (the table gives their mean and standard deviation)",
    )
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="start after the first N test images (e.g. to check settings chosen on "
        "them on other images)",
    )
    parser.add_argument(
        "--held-out",
        type=int,
        default=0,
        help="then, per checkpoint and presentation time, take the synapse, reset "
        "and read-out with the lowest error on the --n-test images and measure them "
        "on the next N test images (a second table, held_out.md)",
    )
    parser.add_argument("--times-ms", default="40,60,80,100,200")
    parser.add_argument(
        "--margins", default="5,10,20", help="early-decision margins (output units)"
    )
    parser.add_argument("--min-decision-ms", type=float, default=30.0)
    parser.add_argument(
        "--synapses",
        default=DEFAULT_SYNAPSE,
        help="comma-separated synapses on neuron outputs: alpha:TAU, lowpass:TAU, none",
    )
    parser.add_argument(
        "--reset",
        default="off",
        help="off, on or off,on: reset the network state between images",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/fewer-spikes")
    args = parser.parse_args(argv)
    args.times_ms = [int(t) for t in args.times_ms.split(",")]
    args.margins = [float(m) for m in args.margins.split(",")]
    args.synapses = args.synapses.split(",")
    for spec in args.synapses:
        try:
            parse_synapse(spec)
        except argparse.ArgumentTypeError as e:
            parser.error(str(e))
    resets = {"off": False, "on": True}
    if any(r not in resets for r in args.reset.split(",")):
        parser.error(f"--reset {args.reset!r}: write off, on or off,on")
    args.reset = [resets[r] for r in args.reset.split(",")]
    quiet_known_warnings()
    task = get_task(args.task)
    dataset = load_dataset(args.task, data_dir=args.data_dir, cache_dir=args.cache_dir)
    _, images, labels = task.training_data(dataset)
    if args.skip >= len(labels):
        parser.error(f"--skip {args.skip}: there are only {len(labels)} test images")
    if args.held_out < 0:
        parser.error(f"--held-out {args.held_out}: give a number of images >= 0")
    end = args.skip + args.n_test
    held_images = images[end : end + args.held_out]
    held_labels = labels[end : end + args.held_out]
    if args.held_out and len(held_labels) < args.held_out:
        parser.error(
            f"--held-out {args.held_out}: only {len(held_labels)} test images follow "
            f"the first {end}; lower --held-out, --n-test or --skip"
        )
    images, labels = images[args.skip : end], labels[args.skip : end]
    rows, networks = [], {}
    for spec in args.checkpoint:
        name, _, paths = spec.partition("=")
        for seed, path in enumerate(paths.split(",")):
            net, _ = load_network(path)
            networks.setdefault(name, []).append((path, net))
            for synapse_spec in args.synapses:
                for reset in args.reset:
                    rows += [
                        {**row, "seed": seed, "path": path}
                        for row in run_setting(
                            name, net, synapse_spec, reset, task, images, labels, args
                        )
                    ]
    summary = summarise(rows)
    markdown = table(summary)
    print(markdown)
    os.makedirs(args.out, exist_ok=True)
    print("figure:", figure(summary, os.path.join(args.out, "fewer_spikes.png")))
    write_results(
        args.out, markdown, {"args": vars(args), "rows": rows, "summary": summary}
    )
    if args.held_out:
        chosen = choose(rows)
        held = held_out_rows(chosen, networks, task, held_images, held_labels, args)
        first = args.skip + 1
        markdown = (
            f"Chosen on test images {first}-{end}, measured on images "
            f"{end + 1}-{end + args.held_out}:\n\n" + table(summarise(held))
        )
        print(markdown)
        write_results(
            args.out,
            markdown,
            {"args": vars(args), "chosen": chosen, "rows": held},
            name="held_out",
        )


if __name__ == "__main__":
    main()
