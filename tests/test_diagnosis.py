"""`diagnose`: the runs, the statistics, and a ranking that finds planted causes."""

import json

import nengo
import numpy as np
import pytest

from nengo_softlif.evaluation.diagnosis import (
    Diagnosis,
    diagnose,
    layer_rate_statistics,
)
from nengo_softlif.evaluation.runner import Protocol
from nengo_softlif.network.architectures import Architecture
from nengo_softlif.network.convert import copy_network
from nengo_softlif.network.layers import AvgPool, Conv, Dense, Output

from cli_helpers import run
from spiking_helpers import images_for, spiking_network

ARCH = Architecture(
    "diag", (8, 8, 1), (Conv(4, 3, padding=1), AvgPool(2), Dense(32), Output(3))
)
PROTOCOL = Protocol(presentation_time=0.1, t_start=0.05, t_end=0.1)
N_IMAGES = 12


@pytest.fixture(scope="module")
def loihi():
    pytest.importorskip("nengo_loihi")


@pytest.fixture(scope="module")
def data():
    return images_for(ARCH, N_IMAGES, np.random.default_rng(2))


def test_layer_rate_statistics_over_active_neurons():
    rates = np.array([[0, 0, 0, 100.0], [0, 0, 600.0, 200.0]])
    stats = layer_rate_statistics(rates, max_rate=1000, reference=rates / 2)
    assert stats["mean"] == pytest.approx(112.5)
    assert stats["active"] == pytest.approx(3 / 8)
    assert stats["active_mean"] == pytest.approx(300)
    assert stats["p50"] == pytest.approx(200)
    assert stats["max"] == 600
    assert stats["saturated"] == pytest.approx(1 / 3)  # 600 >= 0.5 * 1000
    assert stats["rate_change"] == pytest.approx(1.0)  # double the reference


@pytest.mark.loihi
def test_planted_weight_outlier_ranks_weights_first(loihi, data):
    """One huge weight into fc1 sets the 8-bit scale: the rest round to zero."""
    net = copy_network(spiking_network(ARCH))
    conn = net.layers["fc1"].connection
    weights = np.array(conn.transform.init, dtype=float)
    weights[0, 0] = 1000 * np.abs(weights).max()
    conn.transform = nengo.Dense(weights.shape, init=weights)
    images, labels = data
    result = diagnose(net, images, labels, PROTOCOL)
    assert list(result.runs)[:2] == ["exact spiking", "pools"]
    assert result.ranking[0]["change"] == "weights"
    assert result.ranking[0]["layer"] == "fc1"
    assert result.ranking[0]["rate_change"] < -0.5
    assert result.quantisation["fc1"]["zeroed"] > 0.9
    assert result.quantisation["conv1"]["zeroed"] < 0.05
    assert result.runs["weights"]["readout_difference"] > 0.3
    # the others change the read-out far less
    others = [r for r in result.ranking if r["change"] != "weights"]
    assert max(r["readout_difference"] for r in others) < 0.3


@pytest.mark.loihi
def test_planted_fast_neurons_rank_loihi_lif_first(loihi, data):
    """conv1 driven near its highest rate: Loihi's whole-step periods cost most."""
    net = copy_network(spiking_network(ARCH))
    conv1 = net.layer_ensembles["conv1"]
    conv1.bias = np.full(conv1.n_neurons, 40.0)
    images, labels = data
    result = diagnose(net, images, labels, PROTOCOL, changes=["neurons", "weights"])
    conv1_exact = result.runs["exact spiking"]["layers"]["conv1"]
    assert conv1_exact["saturated"] > 0.5
    assert conv1_exact["p50"] > 250
    top = result.ranking[0]
    assert top["change"] == "neurons"
    assert result.runs["neurons"]["layers"]["conv1"]["rate_change"] < -0.1
    assert abs(result.runs["weights"]["layers"]["conv1"]["rate_change"]) < 0.02
    assert "all changes (chip model)" in result.runs


@pytest.mark.loihi
def test_a_shorter_chip_step_brings_loihi_lif_closer(loihi, data):
    """Whole-step periods lose less at half the step; the exact run keeps its own."""
    net = copy_network(spiking_network(ARCH))
    conv1 = net.layer_ensembles["conv1"]
    conv1.bias = np.random.default_rng(3).uniform(2, 40, conv1.n_neurons)
    images, labels = data
    full, half = (
        diagnose(net, images, labels, PROTOCOL, changes=["neurons"], chip_dt=dt)
        for dt in (None, PROTOCOL.dt / 2)
    )
    assert full.chip["dt"] == PROTOCOL.dt and half.chip["dt"] == PROTOCOL.dt / 2
    assert half.protocol["dt"] == PROTOCOL.dt
    exact = [d.runs["exact spiking"]["layers"]["conv1"]["mean"] for d in (full, half)]
    assert exact[0] == exact[1]
    change = [
        abs(d.runs["neurons"]["layers"]["conv1"]["rate_change"]) for d in (full, half)
    ]
    assert change[0] > 0.05, change
    assert change[1] < 0.85 * change[0], change  # (the start from zero stays)
    assert "the chip's time step 0.5 ms" in half.table()
    assert "time step" not in full.table()
    # the chip's step is recorded even without chip changes
    exact_only = diagnose(
        net, images, labels, PROTOCOL, changes=[], static=False, chip_dt=0.0005
    )
    assert exact_only.chip == {"dt": 0.0005}


@pytest.mark.loihi
def test_diagnosis_round_trip_and_table(loihi, data):
    net = spiking_network(ARCH)
    images, labels = data
    result = diagnose(net, images[:4], labels[:4], PROTOCOL, changes=["synapses"])
    again = Diagnosis.from_dict(result.to_dict())
    assert again == result
    table = result.table()
    for words in ("exact spiking", "synapses", "all changes (chip model)", "conv1"):
        assert words in table
    assert result.runs["exact spiking"]["agreement"] == 1.0


@pytest.mark.loihi
def test_unknown_change_is_refused(loihi, data):
    with pytest.raises(ValueError, match=r"Unknown chip change.*'relays'"):
        diagnose(spiking_network(ARCH), *data, PROTOCOL, changes=["relays"])


@pytest.fixture(scope="module")
def sample_checkpoint(tmp_path_factory):
    from nengo_softlif.experiments.cli import main  # noqa: PLC0415

    out = tmp_path_factory.mktemp("diagnose") / "run"
    sample = ["--task", "mnist-sample", "--train-images", "200"]
    assert main(["train", *sample, "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    return out


@pytest.mark.loihi
def test_diagnose_command_writes_the_tables_and_the_report(
    loihi, capsys, sample_checkpoint, tmp_path
):
    out = tmp_path / "diagnosis"
    argv = [
        "--task",
        "mnist-sample",
        "--checkpoint",
        sample_checkpoint / "checkpoint.npz",
    ]
    code, stdout, err = run(
        capsys,
        "diagnose",
        *argv,
        "--n-test",
        "3",
        "--changes",
        "weights,neurons",
        "--dt",
        "0.0005",
        "--out",
        out,
        "--json",
    )
    assert code == 0, err
    record = json.loads(stdout)
    assert record["chip"]["dt"] == 0.0005 and record["protocol"]["dt"] == 0.001
    assert list(record["runs"]) == [
        "static (hard rates)",
        "exact spiking",
        "weights",
        "neurons",
        "all changes (chip model)",
    ]
    assert record["n_images"] == 3 and len(record["checkpoint_sha256"]) == 64
    assert {r["change"] for r in record["ranking"]} == {"weights", "neurons"}
    assert (out / "diagnosis.md").read_text().startswith("Runs on 3 images")
    assert "the chip's time step 0.5 ms" in (out / "diagnosis.md").read_text()
    page = (out / "report.html").read_text()
    assert "<h2>Diagnosis</h2>" in page and "all changes (chip model)" in page
    assert "| exact spiking |" in (out / "report.md").read_text()
    # the report is rebuilt from diagnosis.json alone
    (out / "report.html").unlink()
    assert run(capsys, "report", out)[0] == 0
    assert "<h2>Diagnosis</h2>" in (out / "report.html").read_text()


def test_report_escapes_and_checks_the_diagnosis(capsys, tmp_path):
    layers = {
        "<script>alert(1)</script>": {
            "mean": 1.0,
            "active": 0.5,
            "active_mean": 2.0,
            "p50": 1.0,
            "p90": 2.0,
            "p99": 3.0,
            "max": 4.0,
            "saturated": 0.0,
        }
    }
    run_record = {
        "error": 0.1,
        "agreement": 1.0,
        "readout_difference": 0.0,
        "layers": layers,
        "changes": [],
        "wall_time_s": 1.0,
    }
    diagnosis = {
        "runs": {"exact spiking": run_record},
        "ranking": [],
        "quantisation": {},
        "n_images": 2,
        "protocol": {},
    }
    (tmp_path / "diagnosis.json").write_text(json.dumps(diagnosis))
    assert run(capsys, "report", tmp_path)[0] == 0
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in (tmp_path / "report.md").read_text()
    diagnosis["runs"]["exact spiking"]["error"] = "high"
    (tmp_path / "diagnosis.json").write_text(json.dumps(diagnosis))
    code, _, err = run(capsys, "report", tmp_path)
    assert code == 2 and "diagnosis.json is not a diagnosis" in err
    assert "nengo-softlif diagnose" in err and "Traceback" not in err


@pytest.mark.loihi
def test_diagnosis_records_the_chosen_pools(loihi, data):
    images, labels = data
    result = diagnose(
        spiking_network(ARCH),
        images[:4],
        labels[:4],
        PROTOCOL,
        changes=["pools"],
        pool_relays="auto",
    )
    assert set(result.chip) == {
        "dt",
        "pool_relays",
        "pool_spikes",
        "folded_pools",
        "input_rates",
        "signed_input",
    }
    relays, spikes = result.chip["pool_relays"], result.chip["pool_spikes"]
    assert (relays, spikes) == (["pool1"], {}) or (
        relays == [] and list(spikes) == ["pool1"] and spikes["pool1"] > 1
    )
    pool1 = "pool1 relays" if relays else f"pool1 counts {spikes['pool1']}"
    assert f"pools on the chip: {pool1}" in result.table()
    assert Diagnosis.from_dict(result.to_dict()) == result
