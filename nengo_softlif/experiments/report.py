"""A run's one-page report: its results next to the papers' numbers, and its figures.

A run folder holds ``checkpoint.npz`` (from training) and, once evaluated,
``results.json``. :func:`write_report` draws the run's figures into
``figures/`` and writes ``report.html`` (self-contained: the figures are
embedded, so the file can be mailed or archived on its own) and ``report.md``
(the same, linking the figures). ``nengo-softlif report RUN_DIR`` rebuilds them;
``train``, ``evaluate``, ``demo`` and ``reproduce`` write them as they finish.

Figures (each only when the run has what it needs):

``training.png``
    Loss and accuracy per epoch.
``rate_curves.png``
    The rate curves of the run's neurons (soft LIF at its sigma, and the hard
    LIF that the spikes follow) and their derivatives (the papers' Fig. 1).
``spike_variability.png``
    The alpha-filtered spike train of those neurons against input current (the
    papers' Fig. 2).
``layer_rates.png``
    Mean firing rate per layer, static against spiking.
``error_vs_time.png``
    Spiking error against presentation time.

The pages are filled from a plain structure of the run's values
(:func:`report_data`) by templates that escape every value: ``report.html``
with Jinja2's HTML autoescaping, ``report.md`` by escaping the characters that
make Markdown structure (and newlines), so that no name in a run folder, a
checkpoint or a results file can add markup to a page. Results that are not of
the checkpoint as it is now (it has trained on since) come with a warning on top
(see `.read_run`).
"""

import base64
import functools
import os
import re
import types
import urllib.parse

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.experiments.experiment import gap_text
from nengo_softlif.experiments.published import headline_errors
from nengo_softlif.experiments.run_folder import read_run

__all__ = [
    "write_report",
    "run_figures",
    "report_data",
    "report_markdown",
    "report_html",
    "markdown_text",
]

_ROWS = (
    ("static, soft LIF", "static_soft"),
    ("static, hard LIF", "static_hard"),
    ("spiking LIF", "spiking"),
)


def run_figures(run_dir, meta=None, record=None):
    """Draw the run's figures into ``run_dir/figures``.

    Parameters
    ----------
    run_dir : str
        The run's folder.
    meta, record : dict, optional
        The checkpoint header and results record, checked (`.read_run`).

    Returns
    -------
    dict of str -> str
        Figure title -> path of the PNG, in report order.
    """
    from nengo_softlif.experiments import plots  # noqa: PLC0415

    folder = os.path.join(run_dir, "figures")
    figures = {}
    history = (meta or {}).get("state", {}).get("history") or (record or {}).get(
        "train_history"
    )
    if history:
        figures["Training"] = plots.plot_training_history(
            os.path.join(folder, "training.png"), history
        )
    neuron = (meta or {}).get("neuron_type") or {}
    if "tau_rc" in neuron:
        lif = types.SimpleNamespace(tau_rc=neuron["tau_rc"], tau_ref=neuron["tau_ref"])
        sigma = neuron.get("sigma")
        figures["Rate curves of the neurons"] = plots.plot_rate_curves(
            os.path.join(folder, "rate_curves.png"),
            lif,
            sigmas=(sigma or 0.02,),
        )
        figures["Filtered spike trains"] = plots.plot_spike_variability(
            os.path.join(folder, "spike_variability.png"), lif
        )
    if record and "spiking" in record:
        rates = {"spiking": record["spiking"]["layer_rates_hz"]}
        for title, key in _ROWS[:2]:
            if key in record:
                rates[title.split(", ")[1]] = record[key]["layer_rates_hz"]
        if any(rates.values()):
            figures["Firing rates per layer"] = plots.plot_layer_rates(
                os.path.join(folder, "layer_rates.png"), rates
            )
        curve = record["spiking"].get("error_vs_time")
        if curve:
            times = [t / 1000 for t in curve["t_ms"]]
            figures["Spiking error against presentation time"] = (
                plots.plot_error_vs_time(
                    os.path.join(folder, "error_vs_time.png"),
                    {"spiking": (times, curve["error"])},
                )
            )
    return {title: str(path) for title, path in figures.items()}


def report_data(run, figures):
    """The report's content as plain values, for the page templates.

    Parameters
    ----------
    run : `.Run`
        The run folder, read and checked by `.read_run`.
    figures : dict of str -> str
        Figure title -> path of the PNG (:func:`run_figures`).

    Returns
    -------
    dict
        ``title``; ``warnings`` (sentences); ``network`` (None without a
        checkpoint, else a dict of strings: ``architecture``, ``neuron``,
        ``sigma``, ``noise``, ``hard_forward``, ``epochs``); ``results`` (None
        before evaluation, else ``rows`` (dicts of the table's strings),
        ``paper`` (whether the paper's numbers are shown), ``gap`` and
        ``energy`` (sentences, may be empty)); ``figures`` (dicts with
        ``title``, ``path`` relative to the run folder, and ``file``);
        ``diagnosis`` (tables of ``nengo-softlif diagnose``: dicts with
        ``caption``, ``header`` and ``rows`` of strings; empty without one).
    """
    meta, record = run.meta, run.record
    data = {
        "title": f"Run report: {os.path.basename(os.path.abspath(run.folder))}",
        "warnings": list(run.warnings),
        "network": None,
        "results": None,
        "figures": [
            {"title": title, "path": os.path.relpath(path, run.folder), "file": path}
            for title, path in figures.items()
        ],
        "diagnosis": _diagnosis_tables(run.diagnosis),
    }
    if meta:
        neuron = meta.get("neuron_type") or {}
        data["network"] = {
            "architecture": str((meta.get("architecture") or {}).get("name", "?")),
            "neuron": str(neuron.get("type", "?")),
            "sigma": str(neuron.get("sigma", "-")),
            "noise": str(neuron.get("noise", "-")),
            "hard_forward": (
                f"True (Loihi's LIF at {neuron['loihi_dt'] * 1000:g} ms)"
                if neuron.get("loihi_dt")
                else str(neuron.get("hard_forward", False))
            ),
            "epochs": str(meta["state"].get("epoch", 0)),
        }
    if record:
        paper = headline_errors(record.get("task") or "")
        spiking = record.get("spiking", {})
        gaps = gap_text(record)
        energy = ""
        if spiking.get("energy_ratio") is not None:
            energy = (
                "Synaptic events per image "
                f"{spiking['synaptic_events_per_image']:.3g}; energy against the "
                f"rate network {spiking['energy_ratio']:.3f} (the paper's estimate)."
            )
        data["results"] = {
            "rows": _results_rows(record, paper),
            "paper": paper is not None,
            "gap": gaps[:1].upper() + gaps[1:] + "." if gaps else "",
            "energy": energy,
        }
    return data


def _diagnosis_tables(diagnosis):
    """The tables of a run's diagnosis (an empty list without one)."""
    if diagnosis is None:
        return []
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.evaluation.diagnosis import Diagnosis
    from nengo_softlif.evaluation.diagnosis_table import diagnosis_tables

    return diagnosis_tables(Diagnosis.from_dict(diagnosis))


def _results_rows(record, paper):
    rows = []
    for title, key in _ROWS:
        if key not in record:
            continue
        summary = record[key]
        published = None
        if paper is not None and key != "static_hard":
            published = paper[1] if key == "spiking" else paper[0]
        rates = summary["layer_rates_hz"]
        rows.append(
            {
                "network": title,
                "error": f"{100 * summary['error']:.2f}",
                "images": str(summary["n_images"]),
                "paper": "-" if published is None else f"{published:.2f}",
                "rates": ", ".join(f"{k} {v:.1f}" for k, v in rates.items()),
            }
        )
    return rows


#: Characters that make Markdown (CommonMark, GitHub's, Python-Markdown's, MyST's)
#: structure inline: emphasis, code, links and images, table cells (escaped with
#: a backslash, which every dialect reads), raw HTML and entities, strikethrough
#: and math (written as character references, which no dialect reads as markup).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|])|([&<>~$])")
#: Line breaks and other control characters, which could start a block.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _escaped(match):
    if match.group(1):
        return "\\" + match.group(1)
    return f"&#{ord(match.group(2))};"


def markdown_text(value):
    """A value as Markdown text that shows as itself and adds no structure.

    Line breaks and control characters become spaces; characters with a meaning
    in Markdown are escaped (with a backslash or as a character reference).
    """
    return _MARKDOWN_SPECIAL.sub(_escaped, _CONTROL.sub(" ", str(value)))


class _Link(str):
    """A relative path made a Markdown link destination (percent-encoded)."""


def _markdown_value(value):
    return value if isinstance(value, _Link) else markdown_text(value)


@functools.cache
def _templates(kind):
    """The Jinja2 environment of ``kind`` "html" (autoescaping) or "md"."""
    import jinja2  # noqa: PLC0415

    options = {
        "loader": jinja2.PackageLoader("nengo_softlif.experiments", "templates"),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if kind == "html":
        return jinja2.Environment(autoescape=True, **options)
    env = jinja2.Environment(autoescape=False, finalize=_markdown_value, **options)
    env.filters["link"] = lambda path: _Link(
        urllib.parse.quote(path.replace(os.sep, "/"))
    )
    return env


def report_markdown(data):
    """The report as Markdown (figures linked relative to the run folder).

    Parameters
    ----------
    data : dict
        As :func:`report_data` returns.
    """
    return _templates("md").get_template("report.md").render(data)


def report_html(data):
    """The report as one self-contained HTML page (figures embedded).

    Parameters
    ----------
    data : dict
        As :func:`report_data` returns.
    """
    figures = []
    for figure in data["figures"]:
        with open(figure["file"], "rb") as f:
            png = base64.b64encode(f.read()).decode()
        figures.append({**figure, "src": f"data:image/png;base64,{png}"})
    page = _templates("html").get_template("report.html")
    return page.render({**data, "figures": figures})


def write_report(run_dir):
    """Draw a run's figures and write ``report.html`` and ``report.md``.

    Parameters
    ----------
    run_dir : str
        The run's folder (``--out`` of ``train``, ``demo``, ``evaluate``).

    Returns
    -------
    dict
        ``html``, ``markdown`` (paths), ``figures`` (title -> path) and
        ``warnings`` (what the page warns of, e.g. results of an older state
        of the checkpoint; also on top of the pages).

    Raises
    ------
    RunFolderError
        If the folder holds no checkpoint and no results, or a damaged one (see
        `.read_run`).
    """
    run = read_run(run_dir)
    figures = run_figures(run_dir, run.meta, run.record)
    data = report_data(run, figures)
    md_path = os.path.join(run_dir, "report.md")
    html_path = os.path.join(run_dir, "report.html")
    atomic_write_bytes(md_path, report_markdown(data).encode())
    atomic_write_bytes(html_path, report_html(data).encode())
    return {
        "html": html_path,
        "markdown": md_path,
        "figures": figures,
        "warnings": data["warnings"],
    }
