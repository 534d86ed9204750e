"""Killed or interrupted commands leave no process behind and nothing half-done.

The process trees are read with psutil when it is installed, else from /proc.
SIGTERM (and SIGHUP) stop a command as Ctrl-C does: the same clean-up and
message, exit status 128 + the signal (143 for SIGTERM) where Ctrl-C gives 130.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from nengo_softlif.atomic import pid_alive
from nengo_softlif.experiments.cli import main

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads Linux process trees"
)

try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None


def _descendants(pid):
    """Process ids of the running descendants of ``pid``."""
    if psutil is not None:
        try:
            return {p.pid for p in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii") as f:
                    stat = f.read()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(
                int(name)
            )
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid):
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_kill(argv, sig, n_descendants, env=None, timeout=60.0):
    """Run ``argv``; once it has ``n_descendants``, send ``sig``.

    Returns
    -------
    code : int
        Exit status (negative: the signal that ended it).
    stderr : str
    survivors : list of int
        Descendants (seen while it ran) still running 5 s after it ended.
    """
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        # Ctrl-C as in a terminal, whatever this process's own handler is (an
        # inherited SIG_IGN would keep the child running to its end)
        preexec_fn=_default_sigint,
    )
    seen = set()
    try:
        deadline = time.monotonic() + timeout
        while len(_descendants(proc.pid)) < n_descendants:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        time.sleep(0.5)  # the workers are busy with their shards
        seen = _descendants(proc.pid)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        deadline = time.monotonic() + 5
        while any(_running(p) for p in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        return proc.returncode, err, [p for p in seen if _running(p)]
    finally:
        for pid in [proc.pid, *seen]:  # only what this test started
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


#: A network evaluated on 2 workers (forkserver, resource tracker, 2 workers:
#: 4 descendants) for much longer than the test waits.
EVALUATE_PARALLEL = """
import numpy as np
from nengo_softlif import PRESETS
from nengo_softlif.evaluation.distributed import evaluate_parallel
from nengo_softlif.evaluation.runner import Protocol
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.convert import to_spiking
from nengo_softlif.network.layers import Dense, Output


def run_on_workers(workers=2):
    preset = PRESETS["mnist"]
    arch = Architecture("tiny", (4, 4, 1), (Dense(20), Output(2)))
    net = to_spiking(build_network(arch, preset.soft_lif(), preset))
    images = np.random.default_rng(0).uniform(0, 1, (8, 16)).astype(np.float32)
    protocol = Protocol(presentation_time=600.0, t_start=599.0, t_end=600.0)
    return evaluate_parallel(
        net, images, np.zeros(8, int), protocol, workers=workers, minibatch_size=4
    )
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_end_with_the_process_that_started_them(sig):
    script = EVALUATE_PARALLEL + "\nrun_on_workers()\n"
    code, err, survivors = _start_and_kill([sys.executable, "-c", script], sig, 4)
    assert code != 0, (err, "SIGINT here:", signal.getsignal(signal.SIGINT))
    assert survivors == []


#: ``nengo-softlif evaluate --workers 2`` through ``main``; the static (nengo-dl)
#: evaluations before the spiking run are left out, so that the workers start
#: within seconds (the slow test below runs the whole command).
EVALUATE_COMMAND = EVALUATE_PARALLEL + """
import sys
import threading
import nengo_softlif.experiments.experiment as experiment
from nengo_softlif.experiments.cli import main


def spiking_run_only(task, dataset, checkpoint, config, **kwargs):
    run_on_workers(config.workers)
    raise AssertionError("the run was not stopped")


experiment.evaluate_checkpoint = spiking_run_only
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # under load, the workers' shutdown can print a thread's error
@pytest.mark.parametrize(
    "sig, code, words",
    [
        (signal.SIGTERM, 143, "nengo-softlif evaluate: stopped by SIGTERM"),
        (signal.SIGHUP, 129, "nengo-softlif evaluate: stopped by SIGHUP"),
        (signal.SIGINT, 130, "nengo-softlif evaluate: interrupted"),
        (signal.SIGKILL, -9, ""),
    ],
)
def test_evaluate_on_workers_stops_cleanly(tmp_path, sig, code, words):
    with zipfile.ZipFile(tmp_path / "checkpoint.npz", "w"):  # never read
        pass
    argv = [sys.executable, "-c", EVALUATE_COMMAND, "evaluate", "--task"]
    argv += ["mnist-sample", "--checkpoint", tmp_path / "checkpoint.npz"]
    argv += ["--workers", "2", "--out", tmp_path / "out"]
    argv += ["--verbose"]  # no TensorFlow (imported to quieten it): a faster start
    got, err, survivors = _start_and_kill([str(a) for a in argv], sig, 4)
    assert (got, survivors) == (code, [])
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_evaluate_command_on_workers_leaves_no_process(tmp_path, sig):
    """The whole command on the shipped MNIST sample (about a minute)."""
    out = tmp_path / "run"
    assert main(_args(out, "--train-images", "100", "--epochs", "1", "--quiet")) == 0
    argv = [sys.executable, "-m", "nengo_softlif.experiments.cli", "evaluate"]
    argv += ["--task", "mnist-sample", "--checkpoint", str(out / "checkpoint.npz")]
    argv += ["--workers", "2", "--n-test", "200"]
    code, err, survivors = _start_and_kill(argv, sig, 4, timeout=300)
    assert survivors == []
    assert code == (-9 if sig == signal.SIGKILL else 143)
    assert "Traceback" not in err


def _args(out, *extra):
    """``train`` on the shipped MNIST sample with the Keras engine (fast)."""
    return [
        str(a)
        for a in ["train", "--task", "mnist-sample", "--engine", "keras"]
        + ["--out", out, *extra]
    ]


def test_sigterm_during_training_stops_as_ctrl_c_does(capsys, tmp_path, monkeypatch):
    """SIGTERM while epoch 2 is written: Ctrl-C's message, lock released.

    The checkpoint then holds epoch 1 or, if the signal came after its last
    byte, epoch 2; never a part of one.
    """
    import nengo_softlif.training.loop as loop  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

    out = tmp_path / "run"
    checkpoint, lock = out / "checkpoint.npz", out / "checkpoint.npz.lock"
    save = loop.save_checkpoint

    def save_then_stop(path, *args, epoch, **kwargs):
        assert lock.exists()
        if epoch == 2:  # the checkpoint (100 MB) is still being written then
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        save(path, *args, epoch=epoch, **kwargs)
        if epoch == 2:
            time.sleep(10)  # the signal arrives before this ends
            raise AssertionError("not stopped by the signal")

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)
    handler = signal.getsignal(signal.SIGTERM)
    argv = _args(out, "--train-images", "100", "--epochs", "3", "--quiet")
    assert main(argv) == 143
    err = capsys.readouterr().err
    assert "nengo-softlif train: stopped by SIGTERM;" in err
    assert f"{checkpoint} holds epoch " in err
    assert "run the same command to resume" in err and "Traceback" not in err
    assert not lock.exists()
    epoch = load_checkpoint(checkpoint)[1]["state"]["epoch"]
    assert epoch in (1, 2) and f"holds epoch {epoch}:" in err
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    assert signal.getsignal(signal.SIGTERM) is handler  # put back after the command


@pytest.mark.slow
def test_train_killed_with_sigterm_resumes(tmp_path):
    """The real command, stopped during its second epoch, resumes from the first."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "nengo_softlif.experiments.cli"]
    argv += _args(out, "--epochs", "50", "--train-images", "1000")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert "nengo-softlif train: stopped by SIGTERM;" in err
    assert "run the same command to resume" in err and "Traceback" not in err
    assert not (out / "checkpoint.npz.lock").exists()
    assert [p for p in children if _running(p)] == []
    from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

    assert load_checkpoint(out / "checkpoint.npz")[1]["state"]["epoch"] >= 1


def test_an_ignored_sighup_stays_ignored():
    """``nohup nengo-softlif train ...`` keeps running when the terminal closes."""
    from nengo_softlif.experiments.cli import signals_as_interrupts  # noqa: PLC0415

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with signals_as_interrupts():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) != signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)  # nothing is raised
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
