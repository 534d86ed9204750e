"""The nengo-softlif command on tiny settings."""

import json

import numpy as np
import pytest

from nengo_softlif.experiments.cli import main

from cli_helpers import run

pytest.importorskip("tensorflow")


def test_train_evaluate_resume(capsys, tmp_path):
    out = tmp_path / "run"
    common = ["--task", "mnist-sample", "--train-images", "200", "--json"]
    code, stdout, _ = run(
        capsys,
        "train",
        *common,
        "--out",
        str(out),
        "--epochs",
        "1",
        "--minibatch-size",
        "50",
    )
    assert code == 0
    record = json.loads(stdout)
    assert record["epochs_run"] == 1 and (out / "checkpoint.npz").exists()
    # resuming to 2 epochs trains one more
    code, stdout, _ = run(
        capsys,
        "train",
        *common,
        "--out",
        str(out),
        "--epochs",
        "2",
        "--minibatch-size",
        "50",
    )
    assert json.loads(stdout)["epochs_run"] == 1
    code, stdout, _ = run(
        capsys,
        "evaluate",
        "--task",
        "mnist-sample",
        "--json",
        "--checkpoint",
        str(out / "checkpoint.npz"),
        "--n-test",
        "8",
        "--presentation-time",
        "0.03",
        "--t-start",
        "0.01",
        "--dt",
        "0.002",
        "--eval-minibatch",
        "4",
        "--synapse-tau",
        "0.002",
    )
    assert code == 0
    result = json.loads(stdout)
    assert result["spiking"]["synapse"] == "Alpha(0.002)"
    assert {"static_soft", "static_hard", "spiking"} <= set(result)
    assert result["task"] == "mnist-sample" and result["report"].endswith("report.html")
    assert result["spiking"]["n_images"] == 8
    assert result["spiking"]["protocol"]["presentation_time"] == 0.03
    assert result["spiking"]["protocol"]["dt"] == 0.002
    assert all(r >= 0 for r in result["spiking"]["layer_rates_hz"].values())


def test_reproduce_one_row(capsys, tmp_path):
    code, stdout, _ = run(
        capsys,
        "reproduce",
        "mnist-sample",
        "--rows",
        "relu-avgpool",
        "--epochs",
        "1",
        "--train-images",
        "100",
        "--n-test",
        "10",
        "--out",
        str(tmp_path / "rep"),
    )
    assert code == 0
    assert (
        "ReLU, average pooling" in stdout and (tmp_path / "rep" / "results.md").exists()
    )


def test_the_ladder_table_shows_every_published_cifar10_row():
    from nengo_softlif.experiments.reproduce import markdown_table  # noqa: PLC0415

    def record(static, spiking=None):
        rec = {"static_soft": {"error": static}, "epochs": 10}
        if spiking is not None:
            rec["spiking"] = {"error": spiking}
        return rec

    rows = {
        "relu-maxpool": record(0.2),
        "softlif-noise10": record(0.3, 0.31),
        "softlif-noise20": record(0.3, 0.32),
    }
    lines = markdown_table("cifar10", rows).splitlines()[2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    # the paper's static and spiking columns, row by row
    assert [row[6:8] for row in cells] == [
        ["14.03", "-"],
        ["16.01", "16.46"],
        ["16.92", "17.04"],
    ]


def test_errors_name_the_fix(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--task", "mnist", "--out", str(tmp_path))
    assert code == 2 and "--data-dir" in err
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "mnist",
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path),
    )
    assert code == 2 and "train-images-idx3-ubyte" in err
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "mnist-sample",
        "--noise",
        "gauss:3",
        "--out",
        str(tmp_path),
    )
    assert code == 2 and "gaussian" in err
    argv = ["train", "--task", "mnist-sample", "--out", str(tmp_path)]
    code, _, err = run(capsys, *argv, "--anneal-per-epoch")
    assert code == 2 and "--anneal-sigma" in err
    code, _, err = run(
        capsys,
        "evaluate",
        "--task",
        "mnist-sample",
        "--checkpoint",
        str(tmp_path / "none.npz"),
    )
    assert code == 2 and "does not exist" in err


def test_demo_tiny(capsys, tmp_path):
    code, stdout, _ = run(
        capsys,
        "demo",
        "--out",
        str(tmp_path),
        "--epochs",
        "1",
        "--n-test",
        "10",
        "--json",
    )
    assert code == 0
    record = json.loads(stdout)
    assert record["spiking"]["n_images"] == 10
    figures = tmp_path / "figures"
    assert (figures / "layer_rates.png").exists() and (
        figures / "rate_curves.png"
    ).exists()
    assert record["report"] == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").exists()


@pytest.mark.parametrize("per_epoch, sigma", [(False, 0.004), (True, 0.02)])
def test_train_anneal_sigma(capsys, tmp_path, per_epoch, sigma):
    from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

    out = tmp_path / "run"
    argv = ["train", "--task", "mnist-sample", "--train-images", "200", "--json"]
    argv += ["--out", str(out), "--epochs", "1", "--minibatch-size", "50"]
    argv += ["--anneal-sigma", "0.004"] + (["--anneal-per-epoch"] if per_epoch else [])
    code, _, _ = run(capsys, *argv)
    assert code == 0
    # every step anneals, so even one epoch ends at the END sigma; once per epoch
    # leaves a one-epoch run at its start
    _, meta = load_checkpoint(out / "checkpoint.npz")
    assert meta["neuron_type"]["sigma"] == pytest.approx(sigma)


def test_train_and_evaluate_an_image_folder(tmp_path, capsys):
    """--task folder: a user's own tree, any classes and channels, resized."""
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for split, n in (("train", 40), ("test", 6)):
        for label, cls in enumerate(("dark", "light", "mid")):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                level = (40, 200, 120)[label] + rng.integers(-20, 20, (20, 20, 3))
                pixels = np.clip(level, 0, 255).astype(np.uint8)
                image.fromarray(pixels).save(folder / f"{i}.png")
    out = tmp_path / "run"
    common = ["--task", "folder", "--data-dir", root, "--image-size", 28]
    code = main(
        [str(a) for a in ["train", *common, "--out", out, "--epochs", 1]]
        + ["--engine", "keras", "--quiet"]
    )
    assert code == 0
    assert (out / "checkpoint.npz").exists()
    capsys.readouterr()
    code = main(
        [str(a) for a in ["evaluate", *common, "--checkpoint", out / "checkpoint.npz"]]
        + ["--n-test", "6", "--presentation-time", "0.1", "--t-start", "0.05", "--json"]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["spiking"]["n_images"] == 6
    # three classes: the network's output has three units
    from nengo_softlif.network.checkpoint import load_network  # noqa: PLC0415

    net, _ = load_network(out / "checkpoint.npz")
    assert net.out.size_out == 3 and tuple(net.architecture.input_shape) == (24, 24, 3)


def test_image_size_needs_the_folder_task(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "mnist-sample",
        "--out",
        str(tmp_path / "x"),
        "--image-size",
        "8",
    )
    assert code == 2
    assert "--image-size resizes image folders" in err


def test_evaluate_on_the_loihi_emulator_from_the_command_line(capsys, tmp_path):
    pytest.importorskip("nengo_loihi")
    out = tmp_path / "run"
    sample = ["--task", "mnist-sample", "--train-images", "200"]
    assert main(["train", *sample, "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    code, stdout, _ = run(
        capsys,
        "evaluate",
        "--task",
        "mnist-sample",
        "--checkpoint",
        str(out / "checkpoint.npz"),
        "--n-test",
        "2",
        "--presentation-time",
        "0.03",
        "--t-start",
        "0.01",
        "--backend",
        "loihi",
        "--loihi-target",
        "simreal",
        "--pool-relays",
        "auto",
        "--json",
    )
    assert code == 0
    spiking = json.loads(stdout)["spiking"]
    assert spiking["backend"] == "loihi" and spiking["n_images"] == 2


@pytest.mark.parametrize(
    "option, value", [("--loihi-target", "sim"), ("--pool-relays", "auto")]
)
def test_loihi_options_need_the_loihi_backend(capsys, tmp_path, option, value):
    code, _, err = run(
        capsys,
        "evaluate",
        "--task",
        "mnist-sample",
        "--checkpoint",
        str(tmp_path / "none.npz"),
        option,
        value,
    )
    assert code == 2 and f"{option} applies to --backend loihi" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            [],
            {"hard_forward": True, "engine": "keras", "lr": 1e-3, "anneal_sigma": None},
        ),
        (
            ["--recipe", "paper"],
            {
                "hard_forward": False,
                "engine": "nengo-dl",
                "lr": 1e-3,
                "anneal_sigma": None,
            },
        ),
        (
            ["--recipe", "fast"],
            {
                "hard_forward": False,
                "engine": "keras",
                "lr": 3e-3,
                "anneal_sigma": 0.002,
            },
        ),
        (
            ["--recipe", "fast-hard"],
            {
                "hard_forward": True,
                "engine": "keras",
                "lr": 3e-3,
                "init_scale": 2.0,
                "warmup_epochs": 1.0,
                "anneal_sigma": None,
            },
        ),
        (  # options given explicitly win over the recipe
            ["--recipe", "paper", "--hard-forward", "--lr", "2e-3"],
            {"hard_forward": True, "engine": "nengo-dl", "lr": 2e-3},
        ),
        (["--no-hard-forward"], {"hard_forward": False, "engine": "keras"}),
        (["--recipe", "fast", "--anneal-sigma", "none"], {"anneal_sigma": None}),
        (["--recipe", "fast-hard"], {"normalize_gradients": False}),
        (
            ["--optimizer", "sgd", "--nesterov", "--normalize-gradients"],
            {"normalize_gradients": True, "nesterov": True, "optimizer": "sgd"},
        ),
        (["--recipe", "fast-hard"], {"l2": 0.0, "input_scale": 1.0}),
        (
            ["--l2", "local1=0.004, output=0.01", "--input-scale", "255"],
            {"l2": {"local1": 0.004, "output": 0.01}, "input_scale": 255.0},
        ),
        (
            ["--l2", "0.004", "--schedule", "papers"],
            {"l2": 0.004, "schedule": "papers"},
        ),
    ],
)
def test_train_defaults_come_from_the_recipe(argv, expected):
    from nengo_softlif.experiments.cli import apply_recipe  # noqa: PLC0415
    from nengo_softlif.experiments.cli_parser import build_parser  # noqa: PLC0415

    args = build_parser().parse_args(["train", "--out", "x", *argv])
    apply_recipe(args)
    for name, value in expected.items():
        assert getattr(args, name) == value, name


def test_the_sgd_hard_recipe_is_the_shipped_cifar10_networks_command():
    """``--recipe sgd-hard`` parses to the options the shipped network was trained with.

    The provenance is ``COMMAND`` followed by continuations, each ``the same
    command with --epochs N`` (to more epochs) or a new ``nengo-softlif train``
    command that starts from the network so far (``--init-from pretrained``); the
    training settings in the shipped file are what the last command parses to.
    """
    from nengo_softlif.experiments.cli import apply_recipe  # noqa: PLC0415
    from nengo_softlif.experiments.cli_parser import build_parser  # noqa: PLC0415
    from nengo_softlif.experiments.cli_training import (  # noqa: PLC0415
        RECIPE_TRAIN_OPTIONS,
    )
    from nengo_softlif.pretrained import load_pretrained  # noqa: PLC0415

    parser = build_parser()

    def parsed(command):
        args = parser.parse_args(command.split()[1:])
        apply_recipe(args)
        return vars(args)

    _, meta = load_pretrained("cifar10")
    first, *continued = meta["provenance"]["train_command"].split(", then ")
    explicit = parsed(first)
    by_recipe = parsed(
        "nengo-softlif train --task cifar10 --data-dir DATA/cifar10 --out "
        "runs/cifar10-nsgd --recipe sgd-hard --noise gaussian:10 --epochs 120 "
        "--epochs-this-run 5"
    )
    assert explicit.pop("recipe") == "fast-hard"
    assert by_recipe.pop("recipe") == "sgd-hard"
    assert explicit == by_recipe
    last, epochs = by_recipe, [by_recipe["epochs"]]
    for step in continued:
        if step.startswith("the same command with --epochs "):
            epochs.append(int(step.rsplit(" ", 1)[1]))
            last = {**last, "epochs": epochs[-1]}
        else:  # fine-tuned: a new command from the network trained so far
            assert epochs == sorted(set(epochs)), epochs
            last = parsed(step)
            assert last["init_from"] == "pretrained", step
            last["init_scale"] = 1.0  # weights loaded are not rescaled
            epochs = [last["epochs"]]
    assert epochs == sorted(set(epochs)), epochs
    shipped = dict(meta["state"]["config"])  # the TrainConfig it was trained with
    assert shipped.pop("epochs") == last["epochs"] == meta["state"]["epoch"]
    for option, field in RECIPE_TRAIN_OPTIONS.items():
        if field in shipped:
            assert last[option] == shipped[field], option


def test_the_default_recipe_is_the_python_api_default():
    from nengo_softlif.experiments.experiment import ExperimentConfig  # noqa: PLC0415
    from nengo_softlif.training.recipes import get_recipe  # noqa: PLC0415

    default, config = get_recipe("default"), ExperimentConfig()
    assert config.hard_forward is default.hard_forward is True
    assert config.anneal_to is default.anneal_to is None
    assert get_recipe("paper").hard_forward is False


def test_every_run_writes_its_report_and_report_rebuilds_it(capsys, tmp_path):
    out, elsewhere = tmp_path / "run", tmp_path / "evaluated"
    sample = ["--task", "mnist-sample", "--train-images", "200"]
    argv = ["train", *sample, "--out", str(out), "--epochs", "1", "--quiet"]
    assert main(argv) == 0
    assert "report: " in capsys.readouterr().out
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert (out / "figures" / "training.png").exists()
    assert (out / "figures" / "rate_curves.png").exists()
    code, stdout, _ = run(
        capsys,
        "evaluate",
        "--task",
        "mnist-sample",
        "--checkpoint",
        str(out / "checkpoint.npz"),
        "--n-test",
        "6",
        "--presentation-time",
        "0.05",
        "--t-start",
        "0.02",
        "--out",
        str(elsewhere),
    )
    assert code == 0 and f"report: {elsewhere / 'report.html'}" in stdout
    figures = {p.name for p in (elsewhere / "figures").iterdir()}
    assert {"layer_rates.png", "error_vs_time.png", "training.png"} <= figures
    html = (elsewhere / "report.html").read_text()
    assert "data:image/png;base64," in html  # self-contained
    assert "spiking LIF" in html and "0.88" in html  # next to the paper's number
    (elsewhere / "report.html").unlink()
    code, stdout, _ = run(capsys, "report", str(elsewhere))
    assert code == 0 and (elsewhere / "report.html").exists()


def test_report_of_an_empty_folder_says_what_it_needs(capsys, tmp_path):
    code, _, err = run(capsys, "report", str(tmp_path))
    assert code == 2 and "neither checkpoint.npz nor results.json" in err


SAMPLE = ["--task", "mnist-sample", "--train-images", "100", "--quiet"]


@pytest.fixture(scope="module")
def sample_checkpoint(tmp_path_factory):
    """A checkpoint trained for one epoch on 100 images of the MNIST sample."""
    first = tmp_path_factory.mktemp("first")
    assert main(["train", *SAMPLE, "--out", str(first), "--epochs", "1"]) == 0
    return first / "checkpoint.npz"


def test_train_init_from_starts_at_the_checkpoints_weights(
    capsys, tmp_path, sample_checkpoint
):
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        get_params,
        load_network,
    )
    from nengo_softlif.pretrained import pretrained_path  # noqa: PLC0415

    first = sample_checkpoint
    tuned = tmp_path / "tuned"
    argv = ["train", *SAMPLE, "--out", tuned, "--epochs", "1", "--lr", "1e-12"]
    code, _, err = run(capsys, *argv, "--init-from", first)
    assert code == 0, err
    before = get_params(load_network(first)[0])
    after = get_params(load_network(tuned / "checkpoint.npz")[0])
    for key, value in before.items():  # not rescaled, not trained (lr ~ 0)
        np.testing.assert_allclose(after[key], value, rtol=1e-5, atol=1e-7)
    code, _, err = run(
        capsys,
        *argv[:-4],
        "--out",
        tmp_path / "x",
        "--init-from",
        pretrained_path("cifar10"),
    )
    assert code == 2 and "--init-from" in err and "same task" in err
    code, _, err = run(capsys, *argv, "--init-from", tmp_path / "missing.npz")
    assert code == 2 and "--init-from" in err and "does not exist" in err
    # a first-layer scale rescales weights as built, not trained ones
    argv[argv.index(tuned)] = tmp_path / "scaled"
    code, _, err = run(capsys, *argv, "--init-from", first, "--first-layer-scale", "4")
    assert code == 2 and "first_layer_scale=4" in err and "--first-layer-scale 1" in err
    assert not (tmp_path / "scaled").exists()


def test_train_pool_edges_fine_tunes_with_other_pools(
    capsys, tmp_path, sample_checkpoint
):
    """--pool-edges padded with --init-from: the other weights are copied, the
    checkpoint records the pools, and resuming without the option is refused."""
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        get_params,
        load_network,
    )

    tuned = tmp_path / "tuned"
    argv = ["train", *SAMPLE, "--out", tuned, "--epochs", "2", "--lr", "1e-12"]
    edges = ["--pool-edges", "padded"]
    init = ["--init-from", sample_checkpoint, "--epochs-this-run", "1"]
    code, _, err = run(capsys, *argv, *edges, *init)
    assert code == 0, err
    net, _ = load_network(tuned / "checkpoint.npz")
    pools = [s for s in net.architecture.layers if type(s).__name__ == "AvgPool"]
    assert pools and all(s.edges == "padded" for s in pools)
    before = get_params(load_network(sample_checkpoint)[0])
    for key, value in get_params(net).items():
        np.testing.assert_allclose(value, before[key], rtol=1e-5, atol=1e-7)
    code, _, err = run(capsys, *argv)  # resumed without --pool-edges
    assert code == 2 and "another architecture" in err and "'padded'" in err
    code, _, err = run(capsys, *argv, *edges)  # the same command goes on
    assert code == 0, err


def test_a_run_from_init_from_resumes_with_the_same_command(
    capsys, tmp_path, sample_checkpoint
):
    """A fine-tuning run in chunks (``--init-from`` with ``--epochs-this-run``)
    goes on with its own command, also under a recipe that scales the initial
    weights of a network as built (which --init-from's weights are not)."""
    from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

    out = tmp_path / "tuned"
    argv = ["train", *SAMPLE, "--out", out, "--epochs", "2", "--lr", "1e-12"]
    argv += ["--init-scale", "2", "--init-from", sample_checkpoint]
    argv += ["--epochs-this-run", "1"]
    for epoch in (1, 2):
        code, _, err = run(capsys, *argv)
        assert code == 0, err
        _, meta = load_checkpoint(out / "checkpoint.npz")
        assert meta["state"]["epoch"] == epoch
        assert meta["state"]["config"]["init_scale"] == 1.0


@pytest.mark.parametrize(
    "value, words",
    [
        ("local1=-1", ["--l2", "local1", ">= 0"]),
        ("local1=x", ["--l2", "local1", "number"]),
        ("local1", ["--l2", "number"]),
        ("=0.1", ["--l2", "layer=coefficient"]),
        ("local1=0.1,output", ["--l2", "layer=coefficient"]),
    ],
)
def test_a_bad_l2_is_refused_with_its_option(capsys, value, words):
    code, _, err = run(capsys, "train", "--out", "x", "--l2", value)
    assert code == 2 and all(w in err for w in words), err


def test_train_with_teachers(capsys, tmp_path, sample_checkpoint):
    """--teacher trains against a checkpoint's answers, recorded in the run's
    settings; its options without a teacher, or a missing teacher, are refused."""
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        checkpoint_digest,
        load_checkpoint,
    )

    out = tmp_path / "taught"
    argv = ["train", *SAMPLE, "--out", out, "--epochs", "1", "--engine", "keras"]
    code, _, err = run(
        capsys, *argv, "--teacher", sample_checkpoint, "--distill-temperature", "3"
    )
    assert code == 0, err
    state = load_checkpoint(out / "checkpoint.npz")[1]["state"]
    assert state["config"]["teachers"] == [str(sample_checkpoint)]
    assert state["settings"]["train_config"]["distill_temperature"] == 3
    assert state["settings"]["teachers"] == [checkpoint_digest(sample_checkpoint)]
    argv[argv.index(out)] = tmp_path / "refused"
    code, _, err = run(capsys, *argv, "--distill-weight", "0.5")
    assert code == 2 and "--distill-weight sets how teachers are learnt" in err
    code, _, err = run(capsys, *argv, "--teacher", tmp_path / "missing.npz")
    assert code == 2 and "missing.npz" in err and "not found" in err
    code, _, err = run(
        capsys, *argv[:-2], "--engine", "nengo-dl", "--teacher", sample_checkpoint
    )
    assert code == 2 and "--engine keras" in err
    assert not (tmp_path / "refused" / "checkpoint.npz").exists()
