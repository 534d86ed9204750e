"""What a run folder holds, read and checked: its results and its checkpoint's header.

A run folder (the ``--out`` of ``train``, ``evaluate``, ``demo``) holds
``checkpoint.npz`` and, once evaluated, ``results.json``, which names the
checkpoint its results are of (``checkpoint_epoch`` and ``checkpoint_sha256``;
see `.evaluate_checkpoint`). :func:`read_run` reads both and checks every value
that a report shows or draws: a damaged or edited file ends in a
`RunFolderError` that names the file and says what to do. It also tells whether
the results are those of the checkpoint as it is now (see ``Run.warnings``).
"""

import dataclasses
import json
import math
import os
import shlex

from nengo_softlif.network.checkpoint import (
    CheckpointError,
    checkpoint_digest,
    load_checkpoint,
)

__all__ = [
    "read_diagnosis",
    "RunFolderError",
    "Run",
    "read_run",
    "check_record",
    "check_header",
]

#: The result summaries of a results record, in report order.
RESULT_KEYS = ("static_soft", "static_hard", "spiking")

#: Longest name (task, layer, architecture, neuron type, noise) a report shows.
MAX_NAME = 200


class RunFolderError(ValueError):
    """A run folder's results or checkpoint cannot be reported on."""


@dataclasses.dataclass
class Run:
    """A run folder's contents, checked by :func:`read_run`.

    Attributes
    ----------
    folder : str
        The run folder.
    record : dict or None
        ``results.json`` (None: not evaluated yet).
    meta : dict or None
        The checkpoint's header (see `.load_checkpoint`; None: no checkpoint).
    checkpoint : str or None
        Path of the checkpoint: the folder's own, or the one ``results.json``
        names (None: neither).
    warnings : list of str
        What a reader of the report must know: results that are not (or not
        known to be) of the checkpoint as it is now, a checkpoint that the
        results name and that is gone.
    diagnosis : dict or None
        ``diagnosis.json`` from ``nengo-softlif diagnose`` (None: none).
    """

    folder: str
    record: dict | None
    meta: dict | None
    checkpoint: str | None
    warnings: list = dataclasses.field(default_factory=list)
    diagnosis: dict | None = None


def read_run(folder):
    """Read and check a run folder's ``results.json`` and checkpoint header.

    The checkpoint is the folder's own ``checkpoint.npz``, or else the one that
    ``results.json`` names (``evaluate --out`` of a checkpoint elsewhere).

    Parameters
    ----------
    folder : str or Path
        The run's folder.

    Returns
    -------
    Run

    Raises
    ------
    RunFolderError
        If the folder holds neither file, or a file is damaged or edited (the
        message names it and says what to do).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise RunFolderError(
            f"{folder} is not a folder; give the folder of a train, evaluate, demo "
            "or reproduce run (its --out)"
        )
    own = os.path.join(folder, "checkpoint.npz")
    results = os.path.join(folder, "results.json")
    record = None
    if os.path.lexists(results):
        advice = _results_advice(folder, os.path.exists(own))
        record = check_record(_read_json(results, advice), results, advice)
    diagnosis = read_diagnosis(folder)
    checkpoint, named = own, False
    if not os.path.lexists(own) and record and record.get("checkpoint"):
        checkpoint, named = os.path.join(folder, record["checkpoint"]), True
    if not os.path.lexists(checkpoint):
        if record is None:
            if diagnosis is not None:
                return Run(folder, None, None, None, diagnosis=diagnosis)
            raise RunFolderError(
                f"{folder} holds neither checkpoint.npz nor results.json; give the "
                "folder of a train, evaluate, demo or reproduce run (its --out)"
            )
        run = Run(
            folder, record, None, checkpoint if named else None, diagnosis=diagnosis
        )
        if named:
            run.warnings.append(
                f"{results} names the checkpoint {checkpoint}, which does not exist "
                "(any more): this report shows the results without the network and "
                "its training, and cannot tell whether they are of the network as "
                "it is now"
            )
        return run
    meta, digest = _read_checkpoint(checkpoint, results if named else None)
    run = Run(folder, record, meta, checkpoint, diagnosis=diagnosis)
    if record is not None:
        run.warnings += _freshness(run, digest, results)
    return run


def read_diagnosis(folder):
    """The folder's checked ``diagnosis.json`` (None if it has none).

    Raises
    ------
    RunFolderError
        If the file is not a diagnosis that ``nengo-softlif diagnose`` wrote.
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.evaluation.diagnosis import Diagnosis
    from nengo_softlif.evaluation.diagnosis_table import diagnosis_tables

    path = os.path.join(folder, "diagnosis.json")
    if not os.path.lexists(path):
        return None
    advice = (
        "the file was edited or damaged: run `nengo-softlif diagnose` again with "
        f"--out {shlex.quote(folder)} to write it anew, or move it out of the folder"
    )
    data = _read_json(path, advice)
    try:
        diagnosis_tables(Diagnosis.from_dict(data))
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as err:
        raise RunFolderError(
            f"{path} is not a diagnosis written by nengo-softlif diagnose "
            f"({type(err).__name__}: {err}); {advice}"
        ) from None
    return data


def _results_advice(folder, has_checkpoint):
    alone = (
        "or move it out of the folder to report the checkpoint alone"
        if has_checkpoint
        else "or put the run's checkpoint.npz back beside it"
    )
    return (
        "the file was edited or damaged: run `nengo-softlif evaluate` again with "
        f"--out {shlex.quote(folder)} to write it anew, {alone}"
    )


def _read_json(path, advice):
    """The JSON value in ``path``, or a `RunFolderError` naming it."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8-sig"))
    except OSError as err:
        raise RunFolderError(
            f"{path} cannot be read ({err.strerror or err}); make it a readable "
            f"results file, or move it out of the folder"
        ) from None
    except UnicodeDecodeError as err:
        raise RunFolderError(
            f"{path} is not a results file: it is not UTF-8 text (byte {err.start} "
            f"is {err.object[err.start:err.start + 1]!r}); {advice}"
        ) from None
    except json.JSONDecodeError as err:
        raise RunFolderError(
            f"{path} is not a results file: it is not valid JSON ({err.msg}: line "
            f"{err.lineno}, column {err.colno}); {advice}"
        ) from None
    except (ValueError, RecursionError) as err:  # too many digits, too deep
        raise RunFolderError(
            f"{path} is not a results file: it cannot be read as JSON ({err}); "
            f"{advice}"
        ) from None


def _read_checkpoint(path, named_by):
    """(checked header, digest) of a checkpoint; ``named_by``: the results naming it."""
    if named_by is None:
        advice = (
            "the file was edited or damaged: restore it from a copy, or train again "
            "into a new --out"
        )
    else:
        advice = (
            f'correct the "checkpoint" entry of {named_by}, or put the run\'s '
            f"checkpoint.npz into {os.path.dirname(named_by)}"
        )
    try:
        if not os.path.isfile(path):
            raise CheckpointError(
                f"Checkpoint {path} is not a file; move it out of the run folder",
                f"{path} is not a file",
            )
        _, meta = load_checkpoint(path)
    except CheckpointError as err:
        if named_by is None:
            raise
        raise RunFolderError(
            f"{named_by} names {path} as the checkpoint of its results, but "
            f"{err.problem}; {advice}"
        ) from None
    # the digest after loading: a file replaced meanwhile shows as changed
    return check_header(meta, path, advice), checkpoint_digest(path)


def _freshness(run, digest, results):
    """Warnings when the results are not those of the checkpoint as it is now."""
    record, state = run.record, run.meta["state"]
    epoch, was_epoch = state.get("epoch"), record.get("checkpoint_epoch")
    if was_epoch is None:
        was_epoch = record.get("epochs")  # written by run_experiment before
    again = _evaluate_command(run)
    if record.get("checkpoint_sha256") is not None:
        if record["checkpoint_sha256"] == digest:
            return []
        if was_epoch != epoch:
            return [_other_epoch(was_epoch, run.checkpoint, epoch, again)]
        return [
            f"The results are of another checkpoint than {run.checkpoint} (it has "
            f"changed since, though it is also at {_epoch_text(epoch)}): they are not "
            f"those of this network. Run `{again}` again (with your evaluation "
            "options) to update them"
        ]
    if was_epoch is not None:
        if was_epoch == epoch:
            return []
        return [_other_epoch(was_epoch, run.checkpoint, epoch, again)]
    return [
        f"{results} does not say which checkpoint its results are of (an older "
        "nengo-softlif wrote it), so they may not be those of "
        f"{run.checkpoint} at {_epoch_text(epoch)}. Run `{again}` again (with your "
        "evaluation options) to be sure"
    ]


def _other_epoch(was_epoch, checkpoint, epoch, again):
    return (
        f"The results are of the checkpoint at {_epoch_text(was_epoch)}, but "
        f"{checkpoint} is now at {_epoch_text(epoch)}: they are not those of this "
        f"network. Run `{again}` again (with your evaluation options) to update them"
    )


def _epoch_text(epoch):
    return "an unrecorded epoch" if epoch is None else f"epoch {epoch}"


def _evaluate_command(run):
    """The command that evaluates the run's checkpoint into the run folder again."""
    words = ["nengo-softlif", "evaluate", "--task"]
    words.append(shlex.quote(run.record.get("task") or "TASK"))
    words += ["--checkpoint", shlex.quote(run.checkpoint)]
    if os.path.abspath(os.path.dirname(run.checkpoint)) != os.path.abspath(run.folder):
        words += ["--out", shlex.quote(run.folder)]
    return " ".join(words)


# --------------------------------------------------------------------- checks


class _Checker:
    """Checks of the values of one file; failures name the file and the fix."""

    def __init__(self, path, advice):
        self.path, self.advice = path, advice

    def fail(self, where, problem):
        raise RunFolderError(f"{self.path}: {where} {problem}; {self.advice}")

    def mapping(self, value, where, required=False):
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"is {_shown(value)}, not an object")
        return value

    def key(self, mapping, key, where):
        if key not in mapping:
            self.fail(where, f"has no {key!r}")
        return mapping[key]

    def number(self, value, where, low=None, high=None, whole=False, positive=False):
        kind = "whole number" if whole else "number"
        if positive:
            bounds = " > 0"
        elif high is not None:
            bounds = f" from {low} to {high}"
        else:
            bounds = "" if low is None else f" >= {low}"
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (isinstance(value, int) or not whole)
        ok = ok and (low is None or value >= low) and (high is None or value <= high)
        ok = ok and (not positive or value > 0)
        if not ok:
            self.fail(where, f"is {_shown(value)}, not a finite {kind}{bounds}")
        return value

    def name(self, value, where, optional=True):
        if value is None and optional:
            return value
        if not isinstance(value, str):
            self.fail(where, f"is {_shown(value)}, not a string")
        if len(value) > MAX_NAME:
            self.fail(
                where,
                f"is a string of {len(value)} characters (at most {MAX_NAME} expected)",
            )
        return value


def _shown(value):
    """A JSON value in a message: its start, and its JSON type."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), "a number")
    return f"{text} ({kind})"


def check_record(record, path, advice="the file was edited or damaged"):
    """Check a results record's values that a report uses; returns the record.

    Keys a report does not use are left alone. ``advice`` ends the messages.

    Raises
    ------
    RunFolderError
        Naming ``path`` and the value.
    """
    check = _Checker(path, advice)
    if not isinstance(record, dict):
        raise RunFolderError(
            f"{path} holds {_shown(record)}, not a results record (an object with "
            f"'static_soft', 'spiking', ...); {advice}"
        )
    if not any(key in record for key in RESULT_KEYS):
        if isinstance(record.get("rows"), dict):
            rows = sorted(str(k) for k in record["rows"])[:6]
            raise RunFolderError(
                f"{path} is the summary of a `nengo-softlif reproduce` run: each of "
                f"its rows has its own report; give one of the row folders "
                f"({', '.join(rows)}) in {os.path.dirname(path) or '.'}"
            )
        raise RunFolderError(
            f"{path} holds no results ({', '.join(map(repr, RESULT_KEYS))}); "
            f"{advice}"
        )
    check.name(record.get("task"), "'task'")
    path_ = record.get("checkpoint")
    if path_ is not None and not (
        isinstance(path_, str) and len(path_) <= 4096 and "\0" not in path_
    ):
        check.fail("'checkpoint'", f"is {_shown(path_)}, not the path of a file")
    for key in ("checkpoint_epoch", "epochs"):
        if record.get(key) is not None:
            check.number(record[key], repr(key), low=0, whole=True)
    digest = record.get("checkpoint_sha256")
    if digest is not None and not (
        isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
    ):
        check.fail("'checkpoint_sha256'", f"is {_shown(digest)}, not a SHA-256")
    _check_history(check, record.get("train_history"), "'train_history'")
    if "static_hard" in record and "spiking" in record and "static_soft" not in record:
        check.fail("'static_soft'", "is missing (the gaps need it)")
    for key in RESULT_KEYS:
        if key not in record:
            continue
        summary = check.mapping(record[key], key, required=True)
        check.number(check.key(summary, "error", key), f"{key}.error", 0, 1)
        check.number(
            check.key(summary, "n_images", key), f"{key}.n_images", 1, whole=True
        )
        rates = check.mapping(
            check.key(summary, "layer_rates_hz", key),
            f"{key}.layer_rates_hz",
            required=True,
        )
        for layer, rate in rates.items():
            where = f"{key}.layer_rates_hz.{layer[:40]!r}"
            check.name(layer, f"{key}.layer_rates_hz: a layer name")
            check.number(rate, where, low=0)
        if summary.get("error_on_spiking_images") is not None:
            check.number(
                summary["error_on_spiking_images"],
                f"{key}.error_on_spiking_images",
                0,
                1,
            )
    spiking = record.get("spiking") or {}
    if spiking.get("energy_ratio") is not None:
        check.number(spiking["energy_ratio"], "spiking.energy_ratio", low=0)
        check.number(
            check.key(spiking, "synaptic_events_per_image", "spiking"),
            "spiking.synaptic_events_per_image",
            low=0,
        )
    curve = check.mapping(spiking.get("error_vs_time"), "spiking.error_vs_time")
    if curve:
        where = "spiking.error_vs_time"
        times, errors = check.key(curve, "t_ms", where), check.key(
            curve, "error", where
        )
        for name, values, high in (("t_ms", times, None), ("error", errors, 1)):
            if not isinstance(values, list) or not values:
                check.fail(
                    f"{where}.{name}", f"is {_shown(values)}, not a list of numbers"
                )
            for value in values:
                check.number(value, f"{where}.{name}: a value", 0, high)
        if len(times) != len(errors):
            check.fail(
                where, f"has {len(times)} times but {len(errors)} errors (one each)"
            )
    return record


def check_header(meta, path, advice="the file was edited or damaged"):
    """Check a checkpoint header's values that a report uses; returns the header.

    Raises
    ------
    RunFolderError
        Naming ``path`` and the value.
    """
    check = _Checker(f"Checkpoint {path} (header)", advice)
    architecture = check.mapping(meta.get("architecture"), "'architecture'")
    check.name(architecture.get("name"), "architecture.name")
    neuron = check.mapping(meta.get("neuron_type"), "'neuron_type'")
    if neuron:
        check.name(check.key(neuron, "type", "neuron_type"), "neuron_type.type")
    if "tau_rc" in neuron:
        check.number(neuron["tau_rc"], "neuron_type.tau_rc", positive=True)
        check.number(
            check.key(neuron, "tau_ref", "neuron_type"), "neuron_type.tau_ref", low=0
        )
    if neuron.get("sigma") is not None:
        check.number(neuron["sigma"], "neuron_type.sigma", positive=True)
    check.name(neuron.get("noise"), "neuron_type.noise")
    if not isinstance(neuron.get("hard_forward", False), bool):
        check.fail(
            "neuron_type.hard_forward",
            f"is {_shown(neuron['hard_forward'])}, not true or false",
        )
    if neuron.get("loihi_dt") is not None:
        check.number(neuron["loihi_dt"], "neuron_type.loihi_dt", positive=True)
    state = check.mapping(meta.get("state"), "'state'")
    if state.get("epoch") is not None:
        check.number(state["epoch"], "state.epoch", low=0, whole=True)
    _check_history(check, state.get("history"), "state.history")
    return meta


def _check_history(check, history, where):
    """Training history: a list of {epoch, loss, accuracy (optional)} entries."""
    if history is None:
        return
    if not isinstance(history, list):
        check.fail(where, f"is {_shown(history)}, not a list of epochs")
    for i, entry in enumerate(history):
        at = f"{where} entry {i}"
        entry = check.mapping(entry, at, required=True)
        check.number(check.key(entry, "epoch", at), f"{at}: epoch", 0, whole=True)
        check.number(check.key(entry, "loss", at), f"{at}: loss")
        if entry.get("accuracy") is not None:
            check.number(entry["accuracy"], f"{at}: accuracy", 0, 1)
