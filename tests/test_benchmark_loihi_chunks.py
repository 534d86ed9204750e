"""``benchmarks/loihi_chunks.py --compare`` compares the same images in every mode."""

import importlib.util
import json
import pathlib

import numpy as np

SCRIPT = pathlib.Path(__file__).parents[1] / "benchmarks" / "loihi_chunks.py"


def _script():
    spec = importlib.util.spec_from_file_location("loihi_chunks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chunk(folder, mode, first, predictions, labels):
    np.savez(
        folder / f"{mode}_{first:05d}.npz",
        predictions=np.asarray(predictions),
        labels=np.asarray(labels),
        seconds=1.0,
        layer_rates=json.dumps({"conv1": 2.0}),
    )


def test_compare_uses_only_the_chunks_every_mode_has(tmp_path, capsys):
    """Two emulator processes fill the chunks from both ends: with chunks 0 and 4
    done, the emulator is compared with the exact run on those, not with 0-1."""
    labels = [[0, 1], [1, 1], [2, 2], [3, 3], [4, 4]]
    for i, chunk in enumerate(labels):
        _chunk(tmp_path, "exact", 2 * i, chunk, chunk)  # the exact run: all right
    _chunk(tmp_path, "emulator", 0, labels[0], labels[0])
    _chunk(tmp_path, "emulator", 8, [4, 0], labels[4])  # one of two wrong
    _script().compare(str(tmp_path), str(tmp_path))
    out = capsys.readouterr().out
    assert "4 test images" in out
    assert "| exact | 0.0% | 100.0% |" in out
    assert "| emulator | 25.0% | 75.0% |" in out


def test_compare_says_when_no_chunk_is_common(tmp_path, capsys):
    _chunk(tmp_path, "exact", 0, [1], [1])
    _chunk(tmp_path, "emulator", 50, [1], [1])
    _script().compare(str(tmp_path), str(tmp_path))
    assert "no chunk is done in every mode" in capsys.readouterr().out
