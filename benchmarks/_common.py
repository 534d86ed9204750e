"""What the benchmark scripts share: results files, memory, worker processes.

The scripts import this module by its name (``import _common``): Python puts a
script's own folder first on ``sys.path``. The package itself is imported as
installed (``pip install -e .``).
"""

import json
import os
import resource
import subprocess
import sys

from nengo_softlif.atomic import atomic_write_bytes

__all__ = ["write_results", "rss_mb", "run_worker"]


def write_results(out_dir, markdown, summary, name="results"):
    """Write ``<name>.md`` (the table) and ``<name>.json`` (everything) atomically.

    Parameters
    ----------
    out_dir : str
        Folder (created if needed).
    markdown : str
        The table as printed.
    summary : dict
        JSON-serialisable record (arrays and other objects become strings).
    """
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_bytes(
        os.path.join(out_dir, f"{name}.md"), (markdown.rstrip() + "\n").encode()
    )
    atomic_write_bytes(
        os.path.join(out_dir, f"{name}.json"),
        json.dumps(summary, indent=2, default=str).encode(),
    )


def rss_mb():
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_worker(script, config):
    """Run ``script --worker JSON`` in a fresh Python; its last stdout line as JSON.

    Each configuration of a speed or memory benchmark runs in its own process,
    so that its peak memory and start-up are its own.

    Returns
    -------
    dict
        The worker's result, or ``{"failure": ...}`` with the end of its stderr.
    """
    proc = subprocess.run(
        [sys.executable, os.path.abspath(script), "--worker", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"failure": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])
