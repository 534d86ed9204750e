"""The paper's ladder of modifications, each trained and evaluated, as a table.

``nengo-softlif reproduce mnist|cifar10`` trains every row at the same epoch
budget and seed, evaluates it statically and (for LIF rows) as spikes, and
writes ``results.md`` and ``results.json`` beside the published numbers.
Rows already finished at the requested budget are not trained again; a row
interrupted mid-training resumes from its checkpoint.
"""

import dataclasses
import json
import os

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.experiment import (
    ExperimentConfig,
    static_error_on_spiking_images,
)
from nengo_softlif.experiments.published import ERRORS, task_errors
from nengo_softlif.experiments.report import write_report
from nengo_softlif.experiments.sweep import Setting, run_cell
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.neurons.softlif import PRESETS, RectifiedLinear
from nengo_softlif.training.recipes import get_recipe

__all__ = ["Row", "ROWS", "PUBLISHED", "reproduce", "markdown_table"]


@dataclasses.dataclass(frozen=True)
class Row:
    """One modification of the ladder.

    Parameters
    ----------
    title : str
    neuron : str
        ``"relu"`` or ``"softlif"``.
    max_pool : bool
        Max pooling (ReLU baseline) instead of average pooling.
    noise : str
        Training-noise spec.
    hard_forward : bool
        The package's default training (hard LIF forward, soft gradient)
        instead of the paper's soft LIF forward.
    """

    title: str
    neuron: str
    max_pool: bool = False
    noise: str = "none"
    hard_forward: bool = False


#: The rows, in the paper's order.
ROWS = {
    "relu-maxpool": Row("ReLU, max pooling", "relu", max_pool=True),
    "relu-avgpool": Row("ReLU, average pooling", "relu"),
    "softlif": Row("soft LIF", "softlif"),
    "softlif-noise10": Row("soft LIF + noise (std 10)", "softlif", noise="gaussian:10"),
    "softlif-noise20": Row("soft LIF + noise (std 20)", "softlif", noise="gaussian:20"),
    # not in the paper: the package's default training
    "hard-forward": Row(
        "+ noise 10, hard LIF forward (package default)",
        "softlif",
        noise="gaussian:10",
        hard_forward=True,
    ),
}

#: Published errors in percent, ``(static, spiking)``, by task and row.
PUBLISHED = ERRORS


def _percent(result, key):
    value = result.get(key, {}).get("error")
    return None if value is None else 100 * value


def markdown_table(task_name, rows):
    """Markdown table of measured and published errors (percent)."""
    published = task_errors(task_name)
    lines = [
        "| row | static % | static hard LIF % | spiking % | gap vs static "
        "| gap vs hard | paper static % | paper spiking % | epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(x):
        return "-" if x is None else f"{x:.2f}"

    for key, record in rows.items():
        static, hard, spiking = (
            _percent(record, "static_soft"),
            _percent(record, "static_hard"),
            _percent(record, "spiking"),
        )
        # on the images of the spiking run (its first test images)
        gap = (
            None
            if spiking is None or static is None
            else spiking - 100 * static_error_on_spiking_images(record)
        )
        gap_hard = (
            None
            if spiking is None or hard is None
            else spiking - 100 * static_error_on_spiking_images(record, "static_hard")
        )
        paper = published.get(key, (None, None))
        lines.append(
            f"| {ROWS[key].title} | {fmt(static)} | {fmt(hard)} | {fmt(spiking)} | "
            f"{fmt(gap)} | {fmt(gap_hard)} | {fmt(paper[0])} | {fmt(paper[1])} | "
            f"{record.get('epochs')} |"
        )
    return "\n".join(lines)


def _row_setting(key, task, dataset, recipe):
    """The sweep setting of a row: its noise, annealing, network and neurons."""
    row = ROWS[key]
    architecture = task.build_architecture(dataset)
    if row.max_pool:
        architecture = architecture.with_max_pooling()
    network = {"architecture": architecture}
    if row.neuron == "relu":
        preset = PRESETS[task.preset]
        network["neuron_type"] = RectifiedLinear()
        network["lif_params"] = dataclasses.replace(
            preset, amplitude=1.0, gain=1.0, bias=0.0
        )
    # the paper's neurons for every row: sigma 0.02 (annealed only if the recipe
    # says so), the row's training noise; hard-forward only where the recipe or
    # the row asks for it
    soft = row.neuron == "softlif"
    experiment = {
        "sigma": 0.02,
        "noise": row.noise,
        "hard_forward": soft and (row.hard_forward or recipe.hard_forward),
        "anneal_to": recipe.anneal_to if soft and not row.hard_forward else None,
    }
    return Setting(key, experiment=experiment, network=network)


def reproduce(
    task_name,
    data_dir=None,
    cache_dir=None,
    out_dir="reproduce",
    epochs=10,
    rows=None,
    n_test=None,
    spiking_n_test=None,
    train_images=None,
    seed=0,
    eval_minibatch=100,
    workers=1,
    verbose=1,
    recipe="paper",
):
    """Train and evaluate the ladder of modifications; write the tables.

    Parameters
    ----------
    recipe : str
        Training recipe of every row (:data:`nengo_softlif.training.recipes.RECIPES`);
        its sigma annealing applies to the soft-LIF rows. Rows are kept in
        ``out_dir/<recipe>/`` for recipes other than ``"paper"``.

    Returns
    -------
    dict
        Per-row records, the markdown table and the settings.
    """
    task = get_task(task_name)
    rows = list(ROWS) if rows is None else rows
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"Unknown rows {unknown}; choose from {list(ROWS)}")
    dataset = load_dataset(task_name, data_dir=data_dir, cache_dir=cache_dir)
    if train_images:
        dataset = dataset.subset(n_train=train_images)
    recipe = get_recipe(recipe)
    train_config = recipe.train_config(epochs=epochs, seed=seed)
    base = ExperimentConfig(
        n_test=n_test,
        spiking_n_test=spiking_n_test,
        minibatch_size=eval_minibatch,
        workers=workers,
    )
    if recipe.name != "paper":
        out_dir = os.path.join(out_dir, recipe.name)
    records = {}
    for key in rows:
        setting = _row_setting(key, task, dataset, recipe)
        record = run_cell(
            task,
            dataset,
            os.path.join(out_dir, key),
            *setting.configs(train_config, base, seed),
            network=setting.network,
            verbose=verbose,
            progress=verbose > 0,
        )
        records[key] = {"row": key, "title": ROWS[key].title, **record}
        records[key]["report"] = write_report(os.path.join(out_dir, key))["html"]
    table = markdown_table(task_name, records)
    n_static = n_test or len(dataset.test_labels)
    table += (
        f"\n\nStatic errors on {n_static} test images; spiking errors on the first "
        f"{min(spiking_n_test or n_static, n_static)}; the gap compares both on "
        "those. Training: "
        f"{len(dataset.train_labels)} images, {epochs} epochs per row, seed {seed}, "
        f"recipe {recipe.name!r} ({recipe.description})."
    )
    summary = {
        "task": task_name,
        "epochs": epochs,
        "seed": seed,
        "n_test": n_test,
        "spiking_n_test": spiking_n_test,
        "train_images": len(dataset.train_labels),
        "recipe": recipe.name,
        "rows": records,
        "markdown": table,
    }
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_bytes(os.path.join(out_dir, "results.md"), (table + "\n").encode())
    atomic_write_bytes(
        os.path.join(out_dir, "results.json"), json.dumps(summary, indent=2).encode()
    )
    return summary
