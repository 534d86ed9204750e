"""Settings x seeds sweeps: one experiment per cell, resumable, checked on resume.

A sweep trains and evaluates a task's network once for every (setting, seed)
pair, each in its own folder ``out_dir/<setting>/seed<N>/``. A cell whose
``results.json`` exists is read back instead of run again, but only if the
record was made with the same settings as the current ones; a record made with
other settings is refused with an error naming the folder (its checkpoint would
otherwise be resumed under the wrong settings). Interrupted cells resume from
their checkpoint (see :func:`nengo_softlif.training.loop.train`). Result files are
written atomically.

:func:`~nengo_softlif.experiments.reproduce.reproduce`, ``benchmarks/noise_models.py`` and ``benchmarks/training_options.py``
are sweeps.
"""

import dataclasses
import json
import os

import numpy as np

from nengo_softlif.experiments.experiment import (
    ExperimentConfig,
    run_experiment,
    static_error_on_spiking_images,
)
from nengo_softlif.training.loop import RESUMABLE_CHANGES, TrainConfig

__all__ = ["Setting", "SweepError", "run_cell", "run_sweep", "summary_table"]


#: ExperimentConfig fields that do not change a result (how it is computed).
_RESULT_INDEPENDENT = ("workers",)


class SweepError(ValueError):
    """A stored result does not match the settings of the sweep."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of a sweep: changes to the sweep's training and experiment settings.

    Parameters
    ----------
    name : str
        Row label (its folder is the label without spaces).
    train : dict
        `.TrainConfig` fields to change.
    experiment : dict
        `.ExperimentConfig` fields to change.
    network : dict
        ``architecture``, ``neuron_type`` or ``lif_params`` to train instead of
        the task's (see :func:`nengo_softlif.experiments.experiment.train_task`).
    """

    name: str
    train: dict = dataclasses.field(default_factory=dict)
    experiment: dict = dataclasses.field(default_factory=dict)
    network: dict = dataclasses.field(default_factory=dict)

    @property
    def folder(self):
        return self.name.replace(" ", "").replace("/", "-")

    def configs(self, train_config, experiment_config, seed):
        """The cell's (TrainConfig, ExperimentConfig) for ``seed``."""
        return (
            dataclasses.replace(train_config, **{**self.train, "seed": seed}),
            dataclasses.replace(experiment_config, **self.experiment),
        )


def _as_stored(config):
    """A config's fields as a record stores them (JSON: tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _matches(record, train_config, experiment_config):
    """Whether a stored record was made with these settings (None: cannot tell).

    Training settings that may change on resume (``epochs``) are compared
    separately: a record with fewer epochs is out of date, not wrong.
    """
    if record.get("train_config") is None or record.get("experiment") is None:
        return None
    stored_train = dict(record["train_config"])
    stored_experiment = dict(record["experiment"])
    current_train = _as_stored(train_config)
    for name in RESUMABLE_CHANGES:
        stored_train.pop(name, None)
        current_train.pop(name, None)
    for name in _RESULT_INDEPENDENT:
        stored_experiment.pop(name, None)
    # older records lack fields added since: compare the fields both have
    same_train = all(
        stored_train[k] == v for k, v in current_train.items() if k in stored_train
    )
    current_experiment = _as_stored(experiment_config)
    same_experiment = all(
        stored_experiment[k] == v
        for k, v in current_experiment.items()
        if k in stored_experiment
    )
    return same_train and same_experiment


def run_cell(
    task,
    dataset,
    run_dir,
    train_config,
    experiment_config,
    report_only=False,
    verbose=0,
    network=None,
    progress=False,
):
    """One experiment of a sweep: read back if done with these settings, else run.

    ``network`` (see `.Setting`) and ``progress`` are passed to
    :func:`nengo_softlif.experiments.experiment.run_experiment`.

    Returns
    -------
    dict or None
        The results record (None: ``report_only`` and not yet run).

    Raises
    ------
    SweepError
        If ``run_dir`` holds a result made with other settings.
    """
    path = os.path.join(run_dir, "results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        same = _matches(record, train_config, experiment_config)
        if same is False:
            raise SweepError(
                f"{run_dir} holds a result made with other settings than this "
                "sweep's; its checkpoint would be resumed with the wrong ones. "
                "Move the folder away, delete it, or use another --out"
            )
        if record.get("epochs") == train_config.epochs:
            return record
    if report_only:
        return None
    return run_experiment(
        task,
        dataset,
        run_dir,
        train_config,
        experiment_config,
        verbose=verbose,
        progress=progress,
        network=network,
    )


def run_sweep(
    task,
    dataset,
    out_dir,
    settings,
    seeds,
    train_config=TrainConfig(),
    experiment_config=ExperimentConfig(),
    report_only=False,
    log=print,
):
    """Run (or read back) every (setting, seed) cell, seed-major.

    Seed-major order means an interrupted sweep already covers every setting.

    Parameters
    ----------
    task, dataset
        As for :func:`nengo_softlif.experiments.experiment.run_experiment`.
    out_dir : str
        Folder of the sweep; cells go to ``out_dir/<setting>/seed<N>``.
    settings : list of Setting
    seeds : list of int
    train_config, experiment_config
        The settings every row starts from.
    report_only : bool
        Only read the finished cells back (train nothing).
    log : callable or None
        Called with one line per finished cell.

    Returns
    -------
    dict
        Setting name -> list of records (one per finished seed).
    """
    records = {s.name: [] for s in settings}
    for seed in seeds:
        for setting in settings:
            configs = setting.configs(train_config, experiment_config, seed)
            run_dir = os.path.join(out_dir, setting.folder, f"seed{seed}")
            record = run_cell(
                task, dataset, run_dir, *configs, report_only, network=setting.network
            )
            if record is None:
                continue
            records[setting.name].append(record)
            if log is not None:
                log(
                    f"{setting.name:24s} seed {seed}: "
                    f"static soft {100 * record['static_soft']['error']:.2f}%  "
                    f"hard {_percent(record, 'static_hard')}  "
                    f"spiking {_percent(record, 'spiking')}"
                )
    return records


def _percent(record, key):
    summary = record.get(key)
    return "-" if summary is None else f"{100 * summary['error']:.2f}%"


def _stats(values):
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} +- {np.std(values, ddof=1):.2f}"


def summary_table(records, label="training"):
    """Markdown table: mean +- sd over seeds of the errors and both gaps.

    The gaps compare the same images as the spiking run (which may use only the
    first test images): spiking minus static soft, and spiking minus static hard
    (the hard LIF rate network is what a spiking LIF's mean rate follows).
    """
    lines = [
        f"| {label} | static soft % | static hard % | spiking % "
        "| gap vs soft | gap vs hard | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in records.items():
        soft = [100 * r["static_soft"]["error"] for r in rows]
        spiked = [r for r in rows if "spiking" in r and "static_hard" in r]
        hard = [100 * r["static_hard"]["error"] for r in spiked]
        spiking = [100 * r["spiking"]["error"] for r in spiked]
        gap_soft = [
            s - 100 * static_error_on_spiking_images(r, "static_soft")
            for s, r in zip(spiking, spiked, strict=True)
        ]
        gap_hard = [
            s - 100 * static_error_on_spiking_images(r, "static_hard")
            for s, r in zip(spiking, spiked, strict=True)
        ]
        lines.append(
            f"| {name} | {_stats(soft)} | {_stats(hard)} | {_stats(spiking)} | "
            f"{_stats(gap_soft)} | {_stats(gap_hard)} | {len(rows)} |"
        )
    return "\n".join(lines)
