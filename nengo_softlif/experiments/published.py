"""The papers' published numbers, for the tables and reports that compare with them.

From Hunsberger & Eliasmith (2016), *Training Spiking Deep Networks for
Neuromorphic Hardware*, Table 1, and the rates it reports.
"""

__all__ = ["ERRORS", "HEADLINE", "RATES_HZ", "task_errors", "headline_errors"]

#: Errors in percent, ``(static, spiking)`` (None: not published), by task and by
#: row of the ladder (`.reproduce.ROWS`). MNIST is trained with noise; the CIFAR-10
#: ReLU max-pooling row is the paper's "original ANN".
ERRORS = {
    "mnist": {"softlif-noise10": (0.84, 0.88)},
    "cifar10": {
        "relu-maxpool": (14.03, None),
        "softlif": (15.89, 17.01),
        "softlif-noise10": (16.01, 16.46),
        "softlif-noise20": (16.92, 17.04),
    },
}

#: The row each task's headline result is: soft LIF with Gaussian noise of 10 Hz.
HEADLINE = "softlif-noise10"

#: Mean spiking rates per layer with neurons (Hz), in the network's order.
RATES_HZ = {"mnist": (4.6, 15.6, 4.2), "cifar10": (173.3, 99.0, 9.7, 7.2)}


def task_errors(task):
    """The published errors of a task's rows (`ERRORS`; empty if none).

    Parameters
    ----------
    task : str
        A task name; variants such as ``"mnist-sample"`` give their data set's.
    """
    return ERRORS.get(str(task).split("-")[0], {})


def headline_errors(task):
    """``(static, spiking)`` headline errors (percent) of a task, or None."""
    return task_errors(task).get(HEADLINE)
