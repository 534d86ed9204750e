"""Run reports: safe to share whatever a run folder holds, and never stale unsaid."""

import html.parser
import json
import shutil

import numpy as np
import pytest

from nengo_softlif.experiments.cli import main
from nengo_softlif.experiments.report import markdown_text
from nengo_softlif.network.checkpoint import checkpoint_digest

from cli_helpers import run

pytest.importorskip("tensorflow")

SAMPLE = ["--task", "mnist-sample", "--train-images", "100"]
TRAIN = ["train", *SAMPLE, "--engine", "keras", "--quiet"]
EVALUATE = [
    "evaluate",
    "--task",
    "mnist-sample",
    "--n-test",
    "4",
    "--presentation-time",
    "0.03",
    "--t-start",
    "0.01",
    "--eval-minibatch",
    "4",
    "--quiet",
]
#: The folder name of the probe that found the HTML writer's injection.
ONERROR = 'x\n![x](" onerror="alert(1);x=")'
#: Values that would add markup to a page that did not escape them (HTML, and
#: Markdown structure: lines, table cells, links, emphasis, math, raw HTML).
PAYLOADS = [
    ONERROR,
    "<script>alert(1)</script> | cell | [link](javascript:alert(1)) &amp;",
    "\"'><img src=x onerror=alert(1)>\n# heading\n- item *em* _u_ `code` $x$ \\",
]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A run folder trained for one epoch and evaluated on 4 images."""
    out = tmp_path_factory.mktemp("evaluated") / "run"
    assert main([*TRAIN, "--out", str(out), "--epochs", "1"]) == 0
    assert main([*EVALUATE, "--checkpoint", str(out / "checkpoint.npz")]) == 0
    return out


def _copy(evaluated, folder):
    shutil.copytree(evaluated, folder)
    return folder


def _edit_results(folder, edit):
    path = folder / "results.json"
    record = json.loads(path.read_text())
    record = edit(record) or record
    path.write_text(json.dumps(record))


def _edit_header(folder, edit):
    path = folder / "checkpoint.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    edit(meta)
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# ----------------------------------------------------------------- staleness


def test_results_name_their_checkpoint_and_a_fresh_report_warns_of_nothing(
    capsys, evaluated, tmp_path
):
    record = json.loads((evaluated / "results.json").read_text())
    assert record["checkpoint_epoch"] == 1
    assert record["checkpoint_sha256"] == checkpoint_digest(
        evaluated / "checkpoint.npz"
    )
    folder = _copy(evaluated, tmp_path / "run")
    code, stdout, err = run(capsys, "report", folder)
    assert code == 0 and stdout.strip() == str(folder / "report.html")
    assert "warning" not in err
    assert "Warning" not in (folder / "report.html").read_text()


def test_training_on_after_evaluation_marks_the_results_as_old(
    capsys, evaluated, tmp_path
):
    folder = _copy(evaluated, tmp_path / "run")
    code, _, err = run(capsys, *TRAIN, "--out", folder, "--epochs", "2")
    words = (
        "warning: The results are of the checkpoint at epoch 1, but "
        f"{folder / 'checkpoint.npz'} is now at epoch 2: they are not those of this "
        "network. Run `nengo-softlif evaluate --task mnist-sample --checkpoint"
    )
    assert code == 0 and f"nengo-softlif train: {words}" in err
    code, _, err = run(capsys, "report", folder)
    assert code == 0 and f"nengo-softlif report: {words}" in err
    page = (folder / "report.html").read_text()
    assert "trained for 2 epochs" in page
    assert (
        "<strong>Warning:</strong> The results are of the checkpoint at epoch 1" in page
    )
    assert (
        "> **Warning:** The results are of the checkpoint at epoch 1"
        in (folder / "report.md").read_text()
    )


def test_a_checkpoint_replaced_at_the_same_epoch_is_noticed(
    capsys, evaluated, tmp_path
):
    folder = _copy(evaluated, tmp_path / "run")
    _edit_header(folder, lambda meta: meta["state"].update(seed=12345))
    code, _, err = run(capsys, "report", folder)
    assert code == 0
    assert "warning: The results are of another checkpoint than" in err
    assert "though it is also at epoch 1" in err


def test_results_of_an_older_version_say_they_cannot_be_checked(
    capsys, evaluated, tmp_path
):
    folder = _copy(evaluated, tmp_path / "run")
    _edit_results(
        folder, lambda r: {k: v for k, v in r.items() if "checkpoint_" not in k}
    )
    code, _, err = run(capsys, "report", folder)
    assert code == 0
    assert f"warning: {folder / 'results.json'} does not say which checkpoint" in err


def test_a_checkpoint_the_results_name_that_is_gone_is_said(
    capsys, evaluated, tmp_path
):
    folder = _copy(evaluated, tmp_path / "run")
    (folder / "checkpoint.npz").unlink()
    _edit_results(folder, lambda r: r.update(checkpoint=str(tmp_path / "gone.npz")))
    code, _, err = run(capsys, "report", folder)
    assert code == 0
    assert f"names the checkpoint {tmp_path / 'gone.npz'}, which does not exist" in err
    assert "spiking LIF" in (folder / "report.html").read_text()


# ------------------------------------------------------------- malformed input


def _damage_results(text):
    return lambda folder: (folder / "results.json").write_bytes(text)


def _set_results(edit):
    return lambda folder: _edit_results(folder, edit)


def _set_header(edit):
    return lambda folder: _edit_header(folder, edit)


def _drop_rates(record):
    del record["spiking"]["layer_rates_hz"]


def _names_another_file(folder):
    (folder / "checkpoint.npz").unlink()
    other = folder.parent / "notes.npz"
    other.write_text("my notes")
    _edit_results(folder, lambda r: r.update(checkpoint=str(other)))


MALFORMED = {
    "results list": (
        _set_results(lambda r: [r]),
        "results.json holds [{",
        "(an array), not a results record",
    ),
    "results without rates": (
        _set_results(_drop_rates),
        "results.json: spiking has no 'layer_rates_hz'",
        "run `nengo-softlif evaluate` again",
    ),
    "results with a text n_images": (
        _set_results(lambda r: r["spiking"].update(n_images="10\n![x](y)")),
        "results.json: spiking.n_images is '10\\n![x](y)' (a string), not a finite "
        "whole number >= 1",
        "the file was edited or damaged",
    ),
    "results with a NaN error": (
        _set_results(lambda r: r["static_soft"].update(error=float("nan"))),
        "results.json: static_soft.error is nan (a number), not a finite number "
        "from 0 to 1",
        "with --out",
    ),
    "corrupt results": (
        _damage_results(b'{"task": "mnist", "spik'),
        "results.json is not a results file: it is not valid JSON",
        "run `nengo-softlif evaluate` again",
    ),
    "results not UTF-8": (
        _damage_results(b'{"task": "\xff\xfe"}'),
        "results.json is not a results file: it is not UTF-8 text (byte 10",
        "or move it out of the folder to report the checkpoint alone",
    ),
    "results naming another file": (
        _names_another_file,
        "results.json names ",
        "notes.npz as the checkpoint of its results, but ",
    ),
    "header with a list state": (
        _set_header(lambda meta: meta.update(state=[1, 2])),
        "checkpoint.npz has a damaged header: its training state is a list",
        "restore it from a copy or train again",
    ),
    "header with an epoch without loss": (
        _set_header(lambda meta: meta["state"]["history"][0].pop("loss")),
        "checkpoint.npz (header): state.history entry 0 has no 'loss'",
        "restore it from a copy, or train again into a new --out",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_run_folders_end_in_a_clear_error(capsys, evaluated, tmp_path, case):
    damage, *words = MALFORMED[case]
    folder = _copy(evaluated, tmp_path / "run")
    damage(folder)
    before = (folder / "report.html").read_bytes()
    code, _, err = run(capsys, "report", folder)
    assert code == 2, err
    assert err.startswith("nengo-softlif report: error: ")
    for word in words:
        assert word in err
    assert "Traceback" not in err
    if case == "results naming another file":
        assert 'correct the "checkpoint" entry of' in err and "delete" not in err
    assert (folder / "report.html").read_bytes() == before  # left as it was


# ---------------------------------------------------------------- injection


class _Structure(html.parser.HTMLParser):
    """The elements and attributes of a page, and its text."""

    def __init__(self, page):
        super().__init__()
        self.elements, self.text = [], []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = sorted((k, "src" if k == "src" else v) for k, v in attrs)
        self.elements.append((tag, tuple(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _crafted(evaluated, folder, value):
    """A run folder whose every name a report shows is ``value``."""
    folder = _copy(evaluated, folder)

    def results(record):
        record["task"] = value
        record["checkpoint_epoch"] = 0  # a warning, which shows the task
        for key in ("static_soft", "static_hard", "spiking"):
            rates = record[key]["layer_rates_hz"]
            record[key]["layer_rates_hz"] = {
                f"{value}{i}": rate for i, rate in enumerate(rates.values())
            }

    def header(meta):
        meta["architecture"]["name"] = value
        meta["neuron_type"]["type"] = value
        meta["neuron_type"]["noise"] = value

    _edit_results(folder, results)
    _edit_header(folder, header)
    return folder


@pytest.fixture(scope="module")
def plain(evaluated, tmp_path_factory):
    """The report of a crafted run folder with harmless names."""
    folder = _crafted(evaluated, tmp_path_factory.mktemp("plain") / "plain", "plain")
    assert main(["report", str(folder)]) == 0
    return folder


def _markdown_structure(text):
    markdown = pytest.importorskip("markdown")
    return _Structure(markdown.markdown(text, extensions=["tables"]))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_name_in_a_run_folder_adds_markup(
    capsys, evaluated, plain, tmp_path, payload
):
    name = payload.replace("/", "\\")  # a folder name has no "/"
    folder = _crafted(evaluated, tmp_path / name, payload)
    code, _, err = run(capsys, "report", folder)
    assert code == 0 and "Traceback" not in err
    page, clean = (_Structure((f / "report.html").read_text()) for f in (folder, plain))
    assert page.elements == clean.elements  # no element nor attribute added
    text = "".join(page.text)
    assert f"Run report: {name}" in text and f"network: {payload}, {payload} " in text
    assert f"{payload}0 " in text  # a layer name, in the table
    markdown, clean = (
        _markdown_structure((f / "report.md").read_text()) for f in (folder, plain)
    )
    assert markdown.elements == clean.elements
    shown = " ".join(payload.split("\n"))
    assert f"network: {shown}, {shown} neurons" in "".join(markdown.text)


def test_the_folder_name_of_the_probe_adds_no_image(capsys, evaluated, tmp_path):
    folder = _copy(evaluated, tmp_path / ONERROR)
    assert run(capsys, "report", folder)[0] == 0
    page = (folder / "report.html").read_text()
    clean = (evaluated / "report.html").read_text()  # written by evaluate
    assert _Structure(page).elements == _Structure(clean).elements
    assert "onerror" not in {
        k for _, attrs in _Structure(page).elements for k, _ in attrs
    }
    assert "x\n![x](&#34; onerror=&#34;alert(1);x=&#34;)" in page  # shown as text


@pytest.mark.parametrize(
    "value, expected",
    [
        ("conv1 7.8, 0.84", "conv1 7.8, 0.84"),
        ("a|b", "a\\|b"),
        ("x\n# h\r\n- i", "x # h - i"),
        ("![x](y) <b>&amp;", "!\\[x\\](y) &#60;b&#62;&#38;amp;"),
        (
            "*e* _u_ `c` $m$ ~s~ \\",
            "\\*e\\* \\_u\\_ \\`c\\` &#36;m&#36; &#126;s&#126; \\\\",
        ),
    ],
)
def test_markdown_text(value, expected):
    assert markdown_text(value) == expected
