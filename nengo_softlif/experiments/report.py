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
"""

import base64
import html
import json
import os
import types

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.experiments.experiment import gap_text
from nengo_softlif.experiments.published import headline_errors

__all__ = ["write_report", "run_figures", "report_markdown"]

_ROWS = (
    ("static, soft LIF", "static_soft"),
    ("static, hard LIF", "static_hard"),
    ("spiking LIF", "spiking"),
)


def _load(run_dir):
    """(checkpoint meta or None, results record or None) of a run folder.

    The checkpoint is the folder's own ``checkpoint.npz``, or the one its
    ``results.json`` names (``evaluate --out`` of a checkpoint elsewhere).
    """
    meta = record = None
    results = os.path.join(run_dir, "results.json")
    if os.path.exists(results):
        with open(results, encoding="utf-8") as f:
            record = json.load(f)
    checkpoint = os.path.join(run_dir, "checkpoint.npz")
    if not os.path.exists(checkpoint) and record and record.get("checkpoint"):
        checkpoint = record["checkpoint"]
    if os.path.exists(checkpoint):
        from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

        _, meta = load_checkpoint(checkpoint)
    if meta is None and record is None:
        raise FileNotFoundError(
            f"{run_dir} holds neither checkpoint.npz nor results.json; give the "
            "folder of a train, evaluate, demo or reproduce run (its --out)"
        )
    return meta, record


def run_figures(run_dir, meta=None, record=None):
    """Draw the run's figures into ``run_dir/figures``.

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


def _results_rows(record):
    paper = headline_errors(record.get("task", ""))
    rows = []
    for title, key in _ROWS:
        if key not in record:
            continue
        summary = record[key]
        published = None
        if paper is not None and key != "static_hard":
            published = paper[1] if key == "spiking" else paper[0]
        rows.append(
            (
                title,
                f"{100 * summary['error']:.2f}",
                str(summary["n_images"]),
                "-" if published is None else f"{published:.2f}",
                ", ".join(f"{k} {v:.1f}" for k, v in summary["layer_rates_hz"].items()),
            )
        )
    return rows


def report_markdown(run_dir, meta, record, figures):
    """The report as markdown (figures linked relative to ``run_dir``)."""
    lines = [f"# Run report: {os.path.basename(os.path.abspath(run_dir))}", ""]
    if meta:
        neuron = meta.get("neuron_type", {})
        state = meta.get("state", {})
        arch = meta.get("architecture", {}).get("name", "?")
        lines += [
            f"- network: {arch}, {neuron.get('type', '?')} neurons "
            f"(sigma {neuron.get('sigma', '-')}, noise {neuron.get('noise', '-')}, "
            f"hard forward {neuron.get('hard_forward', False)})",
            f"- trained for {state.get('epoch', 0)} epochs",
        ]
    if record:
        lines += ["", "## Results", ""]
        lines += [
            "| network | error % | images | paper % | rates (Hz) |",
            "|---|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in _results_rows(record)]
        if headline_errors(record.get("task", "")) is not None:
            lines += [
                "",
                "Paper: Hunsberger & Eliasmith (2016), Table 1 (the whole data set, "
                "trained to convergence). Static errors are on all the images "
                "evaluated, the spiking error on the first ones (see 'images').",
            ]
        spiking = record.get("spiking", {})
        gaps = gap_text(record)
        if gaps:
            lines += ["", gaps[0].upper() + gaps[1:] + "."]
        if spiking.get("energy_ratio") is not None:
            lines += [
                "",
                f"Synaptic events per image {spiking['synaptic_events_per_image']:.3g}; "
                f"energy against the rate network {spiking['energy_ratio']:.3f} "
                "(the paper's estimate).",
            ]
    else:
        lines += ["", "Not evaluated yet: `nengo-softlif evaluate` adds the results."]
    for title, path in figures.items():
        rel = os.path.relpath(path, run_dir)
        lines += ["", f"## {title}", "", f"![{title}]({rel})"]
    return "\n".join(lines) + "\n"


def _html(markdown_text, figures, run_dir):
    """A self-contained HTML page of the report (tables and embedded figures)."""
    embedded = {}
    for path in figures.values():
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        embedded[os.path.relpath(path, run_dir)] = f"data:image/png;base64,{data}"
    body, table = [], []

    def flush_table():
        if not table:
            return
        header, *rows = [r for r in table if not all(set(c) <= set("-: ") for c in r)]
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body.append(f"<table><tr>{cells}</tr>")
        for row in rows:
            cells = "".join(f"<td>{html.escape(c)}</td>" for c in row)
            body.append(f"<tr>{cells}</tr>")
        body.append("</table>")
        table.clear()

    for line in markdown_text.splitlines():
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush_table()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            src = embedded.get(src.rstrip(")"), src.rstrip(")"))
            body.append(f'<img alt="{html.escape(alt)}" src="{src}">')
        elif line.startswith("- "):
            body.append(f"<p class='item'>{html.escape(line[2:])}</p>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    flush_table()
    style = (
        "body{font-family:DejaVu Sans,Arial,sans-serif;max-width:900px;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
        "#bbb;padding:4px 10px;text-align:left}th{background:#eef}img{max-width:100%;"
        "border:1px solid #ddd;margin:0.5em 0}p.item{margin:0.2em 0}"
    )
    title = html.escape(markdown_text.splitlines()[0].lstrip("# "))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(run_dir):
    """Draw a run's figures and write ``report.html`` and ``report.md``.

    Parameters
    ----------
    run_dir : str
        The run's folder (``--out`` of ``train``, ``demo``, ``evaluate``).

    Returns
    -------
    dict
        ``html``, ``markdown`` (paths) and ``figures`` (title -> path).

    Raises
    ------
    FileNotFoundError
        If the folder holds no checkpoint and no results.
    """
    meta, record = _load(run_dir)
    figures = run_figures(run_dir, meta, record)
    text = report_markdown(run_dir, meta, record, figures)
    md_path = os.path.join(run_dir, "report.md")
    html_path = os.path.join(run_dir, "report.html")
    atomic_write_bytes(md_path, text.encode())
    atomic_write_bytes(html_path, _html(text, figures, run_dir).encode())
    return {"html": html_path, "markdown": md_path, "figures": figures}
