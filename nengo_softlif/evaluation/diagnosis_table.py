"""A :class:`~nengo_softlif.evaluation.diagnosis.Diagnosis` as tables of strings.

:func:`diagnosis_tables` gives each table as a caption, a header and rows of
strings (the run report renders them with its escaping templates);
:func:`diagnosis_markdown` joins them as Markdown.
"""

__all__ = ["diagnosis_markdown", "diagnosis_tables"]


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def _signed_points(value):
    return f"{100 * value:+.1f}"


def _hz(value):
    return f"{value:.1f}"


def _table(header, rows):
    return {"header": list(header), "rows": [[str(c) for c in row] for row in rows]}


def _runs(diagnosis):
    rows = []
    for name, run in diagnosis.runs.items():
        diff = run["readout_difference"]
        rows.append(
            [
                name,
                _pct(run["error"]),
                _pct(run["agreement"]),
                "-" if diff is None else f"{diff:.3f}",
                f"{run['wall_time_s']:.0f} s",
            ]
        )
    return _table(
        ["run", "error", "agrees with exact", "read-out difference", "time"], rows
    )


def _ranking(diagnosis):
    rows = [
        [
            i + 1,
            r["change"],
            _signed_points(r["error_change"]),
            _pct(r["agreement"]),
            (
                "-"
                if r["layer"] is None
                else f"{r['layer']} {100 * r['rate_change']:+.0f}%"
            ),
        ]
        for i, r in enumerate(diagnosis.ranking)
    ]
    return _table(
        ["rank", "change alone", "error (points)", "agrees", "largest rate change"],
        rows,
    )


def _layers(diagnosis):
    rows = []
    for name, run in diagnosis.runs.items():
        for layer, s in run["layers"].items():
            if "p50" not in s:
                continue
            change = s.get("rate_change")
            rows.append(
                [
                    name,
                    layer,
                    _hz(s["mean"]),
                    _pct(s["active"]),
                    " / ".join(_hz(s[k]) for k in ("p50", "p90", "p99", "max")),
                    _pct(s["saturated"]),
                    "-" if change is None else f"{100 * change:+.1f}%",
                    "-" if change is None else _hz(s["abs_change_p90"]),
                ]
            )
    return _table(
        [
            "run",
            "layer",
            "mean (Hz)",
            "active",
            "active p50 / p90 / p99 / max (Hz)",
            "near max rate",
            "rate change",
            "abs change p90 (Hz)",
        ],
        rows,
    )


def diagnosis_tables(diagnosis):
    """The diagnosis as tables: dicts with ``caption``, ``header`` and ``rows``."""
    caption = f"Runs on {diagnosis.n_images} images"
    if diagnosis.chip:
        pools = [f"{name} relays" for name in diagnosis.chip.get("pool_relays", [])]
        pools += [
            f"{name} counts {k}"
            for name, k in diagnosis.chip.get("pool_spikes", {}).items()
        ]
        caption += f" (pools on the chip: {', '.join(sorted(pools)) or 'folded'}"
        chip_dt = diagnosis.chip.get("dt", diagnosis.protocol.get("dt"))
        if chip_dt != diagnosis.protocol.get("dt"):
            caption += f"; the chip's time step {chip_dt * 1000:g} ms"
        caption += ")"
    tables = [{"caption": caption, **_runs(diagnosis)}]
    if diagnosis.ranking:
        tables.append(
            {
                "caption": "Each chip change alone, most predictions changed first",
                **_ranking(diagnosis),
            }
        )
    tables.append(
        {
            "caption": "Firing rates (active: neuron-image pairs that spiked)",
            **_layers(diagnosis),
        }
    )
    if diagnosis.quantisation:
        rows = [
            [k, f"{100 * v['rms_change']:.2f}%", _pct(v["zeroed"])]
            for k, v in diagnosis.quantisation.items()
        ]
        header = ["layer", "8-bit weights: change (relative RMS)", "weights zeroed"]
        tables.append({"caption": "Weights", **_table(header, rows)})
    return tables


def diagnosis_markdown(diagnosis):
    """The tables of :func:`diagnosis_tables` as Markdown."""
    lines = []
    for table in diagnosis_tables(diagnosis):
        lines += [f"{table['caption']}:", ""]
        lines.append("| " + " | ".join(table["header"]) + " |")
        lines.append("|" + "---|" * len(table["header"]))
        lines += ["| " + " | ".join(row) + " |" for row in table["rows"]]
        lines.append("")
    return "\n".join(lines)
