"""Evaluate a trained CIFAR-10 checkpoint on the whole test set and ship it.

The paper's protocol (200 ms per image, read-out 100-200 ms, no reset, fast
backend, ``--workers`` processes) on all 10,000 test images, static soft LIF and
static hard LIF on the same images, per-layer rates and the energy estimate next
to the 2016 paper's; then (``--ship``) the checkpoint as a float16 shipped network
(``nengo_softlif/pretrained/cifar10.npz``): the float16 copy is evaluated the
same way (static and spiking, all images) before it replaces the shipped file,
and its provenance holds both its own errors and the float32 checkpoint's.

The checkpoint is trained with (about 1 minute per epoch on 2 cores)::

    nengo-softlif train --task cifar10 --data-dir DATA/cifar10 --cache-dir CACHE \\
        --out runs/cifar10-headline --epochs 100 --recipe fast-hard --noise gaussian:10

(run again after an interruption: it resumes exactly), then::

    python benchmarks/cifar10_headline.py --data-dir DATA/cifar10 --cache-dir CACHE \\
        --checkpoint runs/cifar10-headline/checkpoint.npz --workers 2
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.data import (
    center_crop,
    load_dataset,
    mean_image,
    to_float,
)
from nengo_softlif.experiments.experiment import (
    ExperimentConfig,
    evaluate_checkpoint,
    static_error_on_spiking_images,
)
from nengo_softlif.experiments.published import RATES_HZ, headline_errors
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.checkpoint import load_checkpoint
from nengo_softlif.pretrained import (
    PRETRAINED,
    export_pretrained,
    file_md5,
    pretrained_task,
)

_STATIC, _SPIKING = headline_errors("cifar10")
PAPER = {"static": _STATIC, "spiking": _SPIKING, "rates_hz": RATES_HZ["cifar10"]}
TRAIN_COMMAND = (
    "nengo-softlif train --task cifar10 --data-dir DATA/cifar10 --out "
    "runs/cifar10-headline --epochs 100 --recipe fast-hard --noise gaussian:10"
)


def _data_checksum(data_dir):
    """MD5 of the data set's file (an archive) or None for a folder."""
    return file_md5(data_dir) if os.path.isfile(data_dir) else None


def _shown(path):
    """``path`` as the provenance shows it: from ``runs/`` on, if it is in one."""
    parts = os.path.normpath(path).split(os.sep)
    return "/".join(parts[parts.index("runs") :]) if "runs" in parts else path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--out", default="runs/cifar10-headline/evaluation.json")
    parser.add_argument("--ship", action="store_true", help="write the float16 copy")
    parser.add_argument(
        "--ship-as",
        default="cifar10",
        choices=sorted(
            name for name in PRETRAINED if pretrained_task(name) == "cifar10"
        ),
        help="which shipped network the float16 copy replaces",
    )
    parser.add_argument(
        "--train-command",
        default=TRAIN_COMMAND,
        help="the training command(s) recorded in the shipped copy's provenance",
    )
    parser.add_argument(
        "--provenance-json",
        help="a JSON file of more provenance entries for the shipped copy (for "
        "example what the train commands' --init-from and --teacher files were)",
    )
    args = parser.parse_args(argv)
    extra = _provenance_extra(args.provenance_json)
    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    config = ExperimentConfig(n_test=args.n_test, workers=args.workers)
    start = time.perf_counter()
    record, meta = evaluate_checkpoint(task, dataset, args.checkpoint, config)
    record["wall_time_s"] = time.perf_counter() - start
    record["epochs"] = meta["state"]["epoch"]
    record["train_seconds"] = sum(h["seconds"] for h in meta["state"]["history"])
    record["settings"] = meta["state"].get("settings")
    soft = 100 * static_error_on_spiking_images(record, "static_soft")
    hard = 100 * static_error_on_spiking_images(record, "static_hard")
    spiking = 100 * record["spiking"]["error"]
    rates = record["spiking"]["layer_rates_hz"]
    lines = [
        "| network | error % | paper % |",
        "|---|---|---|",
        f"| static soft LIF | {soft:.2f} | {PAPER['static']:.2f} |",
        f"| static hard LIF | {hard:.2f} | - |",
        f"| spiking LIF | {spiking:.2f} | {PAPER['spiking']:.2f} |",
        "",
        f"gap spiking - static soft {spiking - soft:+.2f} pp, spiking - static hard "
        f"{spiking - hard:+.2f} pp on {record['spiking']['n_images']} images; "
        f"{record['epochs']} epochs ({record['train_seconds'] / 3600:.2f} h of training)",
        "spiking rates (Hz): "
        + ", ".join(f"{k} {v:.1f}" for k, v in rates.items())
        + f" (paper: {' / '.join(str(r) for r in PAPER['rates_hz'])})",
        f"energy estimate vs the rate network: {record['spiking']['energy_ratio']:.3f}",
    ]
    if args.ship:
        mean = mean_image(center_crop(to_float(dataset.train_images), task.crop))
        path = os.path.join(
            REPO, "nengo_softlif", "pretrained", PRETRAINED[args.ship_as]
        )
        provenance = {
            "train_command": args.train_command,
            "evaluate_command": "python benchmarks/cifar10_headline.py --data-dir "
            f"DATA/cifar10 --checkpoint {_shown(args.checkpoint)} --workers 2 "
            f"--ship --ship-as {args.ship_as}",
            "epochs": record["epochs"],
            "data": os.path.basename(os.path.normpath(args.data_dir)),
            "data_md5": _data_checksum(args.data_dir),
            "errors_percent_float32": _rounded(
                {"static_soft": soft, "static_hard": hard, "spiking": spiking}
            ),
            "n_test": record["spiking"]["n_images"],
            **extra,
        }
        # the float16 copy is measured before it replaces the shipped file, and its
        # own errors (what a fresh install reproduces) go into its provenance
        trial = path + ".trial.npz"
        export_pretrained(
            args.checkpoint, trial, provenance, preprocessing={"mean_image": mean}
        )
        try:
            shipped, _ = evaluate_checkpoint(task, dataset, trial, config)
        finally:
            os.remove(trial)
        shipped_errors = {
            "static_soft": 100 * static_error_on_spiking_images(shipped, "static_soft"),
            "static_hard": 100 * static_error_on_spiking_images(shipped, "static_hard"),
            "spiking": 100 * shipped["spiking"]["error"],
        }
        provenance["errors_percent"] = _rounded(shipped_errors)
        export_pretrained(
            args.checkpoint, path, provenance, preprocessing={"mean_image": mean}
        )
        record["shipped"] = {
            "path": os.path.relpath(path, REPO),
            "bytes": os.path.getsize(path),
            **{f"{k}_error": v / 100 for k, v in shipped_errors.items()},
        }
        lines.append(
            f"shipped float16 network: {os.path.getsize(path) / 1e6:.2f} MB, static soft "
            f"{shipped_errors['static_soft']:.2f}% / hard "
            f"{shipped_errors['static_hard']:.2f}% / spiking "
            f"{shipped_errors['spiking']:.2f}% (float32: {soft:.2f}% / {hard:.2f}% / "
            f"{spiking:.2f}%)"
        )
    table = "\n".join(lines)
    print(table)
    record["markdown"] = table
    atomic_write_bytes(args.out, json.dumps(record, indent=2, default=str).encode())
    _, meta_again = load_checkpoint(args.checkpoint)  # unchanged by evaluation
    assert meta_again["state"]["epoch"] == record["epochs"]


_WRITTEN = frozenset(
    (
        "train_command",
        "evaluate_command",
        "epochs",
        "data",
        "data_md5",
        "n_test",
        "errors_percent",
        "errors_percent_float32",
    )
)
"""The provenance entries this script writes itself."""


def _provenance_extra(path):
    """The entries of ``--provenance-json``, refused before any evaluation if
    they are not a JSON object or would replace a measured entry."""
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        extra = json.load(f)
    if not isinstance(extra, dict) or _WRITTEN & set(extra):
        raise SystemExit(
            f"--provenance-json {path}: give a JSON object of descriptions, without "
            f"the entries this script writes ({', '.join(sorted(_WRITTEN))})"
        )
    return extra


def _rounded(errors_percent):
    """Errors in percent to 0.01 point (exact for up to 10,000 images)."""
    return {k: round(v, 2) for k, v in errors_percent.items()}


if __name__ == "__main__":
    main()
