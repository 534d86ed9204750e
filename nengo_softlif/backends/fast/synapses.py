"""Synaptic filters on the summed post-synaptic currents into a target.

Synapses are linear filters, so ``filter(W @ spikes) == W @ filter(spikes)``:
one filter per target and synapse runs on the currents summed over all the maps
feeding it (a `FilterGroup`).

* ``dtype="float64"``: nengo's own discretised `nengo.LinearFilter` step classes,
  so the spike trains are those of the reference simulator, step for step (only
  the order of summations differs, which in practice never moves a spike).
* ``dtype="float32"``: the alpha (or lowpass) synapse runs in a change of state
  basis with a few in-place operations (`_FastFilter`), its input gain folded
  into the weights; it agrees with the reference statistically (same rates and
  read-outs, not the same spikes).
"""

import numpy as np

__all__ = ["FilterGroup", "synapse_key"]


class _FastFilter:
    """A `nengo.LinearFilter` step in few in-place operations (float32 mode).

    In a basis where the synapse's input gain is 1, a one-state filter (lowpass)
    is ``x = a x + u``, and a two-state filter with a double pole ``e`` (alpha) is
    ``x1 = e x1 + x0 + beta u; x0 = e x0 + u`` with output ``x1``. The input gain
    (``scale``) is folded into the weights of the maps feeding the filter. Same
    discrete system as nengo's (a change of state basis), different round-off.

    Parameters
    ----------
    kind : {"one", "double"}
        One state (lowpass) or two states with a double pole (alpha).
    coefficients : list of float
        ``[a]`` or ``[e, beta]``.
    scale : float
        The input gain, folded into the weights of the maps feeding the filter.
    dtype : dtype
    """

    def __init__(self, kind, coefficients, scale, dtype):
        self.kind = kind
        self.coefficients = [dtype.type(c) for c in coefficients]
        self.scale = scale
        self.dtype = dtype

    @classmethod
    def from_ss(cls, A, B, C, D, dtype):
        """The fast form of the discrete system (A, B, C, D), or None."""
        A, B, C, D = (np.asarray(m, dtype=float) for m in (A, B, C, D))
        if np.any(D != 0) or A.shape not in ((1, 1), (2, 2)):
            return None
        if A.shape == (1, 1):
            return cls("one", [A.item()], C.item() * B.item(), dtype)
        e = np.trace(A) / 2
        N = A - e * np.eye(2)
        if np.abs(N @ N).max() > 1e-9 * max(np.abs(A).max() ** 2, 1e-300):
            return None  # distinct poles: not handled here
        T = np.vstack([C @ N, C])  # new states: x0 = C N x, x1 = C x
        if abs(np.linalg.det(T)) < 1e-12 * np.abs(T).max() ** 2:
            return None
        Bn = (T @ B).ravel()
        if Bn[0] == 0:
            return None
        return cls("double", [e, Bn[1] / Bn[0]], Bn[0], dtype)

    def make_state(self, size):
        """Zero state (1 or 2, size) for a flat signal of ``size`` values."""
        n = 1 if self.kind == "one" else 2
        return np.zeros((n, size), dtype=self.dtype)

    def step(self, X, u):
        """Advance state ``X`` with (scaled) input ``u`` (overwritten); return y."""
        if self.kind == "one":
            (a,) = self.coefficients
            x = X[0]
            x *= a
            x += u
            return x
        e, beta = self.coefficients
        x0, x1 = X[0], X[1]
        x1 *= e
        x1 += x0
        x0 *= e
        x0 += u
        u *= beta
        x1 += u
        return x1


class FilterGroup:
    """One synapse (a `nengo.LinearFilter`) on the summed currents into a sink.

    Its output is read one step later, as that of nengo's filtered connections
    (synapses are "update" operators). In float64, nengo's own discretisation and
    step classes (``NoD`` for the alpha synapse) run on a flat (batch * n) signal
    (same arithmetic); in float32, `_FastFilter` when it applies.

    Parameters
    ----------
    synapse : `nengo.LinearFilter`
    n : int
        Size of the sink (neurons, or dimensions of a node).
    dtype : dtype
    dt : float
        Time step.
    fast : bool
        Use `_FastFilter` when it applies (float32 mode).
    """

    def __init__(self, synapse, n, dtype, dt, fast=True):
        self.synapse = synapse
        self.n = n
        self.dtype = dtype
        self.sources = []  # (layer index, SpikeMap)
        self.gain_folded = False
        A, B, C, D = synapse._get_ss(dt)  # noqa: SLF001 (nengo's discretisation)
        self.fast = _FastFilter.from_ss(A, B, C, D, dtype) if fast else None
        # (2,): a size-1 signal would select nengo's scalar-only step class
        state = synapse.make_state((2,), (2,), dt, dtype=dtype)
        step = synapse.make_step((2,), (2,), dt, None, state)
        self.step_class = type(step)
        self.matrices = [np.asarray(m, dtype=dtype) for m in (A, B, C, D)]
        self.n_states = state["X"].shape[0]

    @property
    def input_scale(self):
        """Factor folded into the maps that feed this filter."""
        return 1.0 if self.fast is None else self.fast.scale

    def reset(self, batch):
        """Zero state for ``batch`` streams."""
        size = batch * self.n
        self.batch = batch
        if self.fast is not None:
            self.X = self.fast.make_state(size)
        else:
            self.X = np.zeros((self.n_states, size), dtype=self.dtype)
            self.step_f = self.step_class(*self.matrices, self.X)
        self.y = np.zeros(size, dtype=self.dtype)
        pad = max([m.pad for _, m in self.sources], default=0)
        self.u = np.zeros(size + pad, dtype=self.dtype)

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        size = batch * self.n
        X = self.X.reshape(self.X.shape[0], self.batch, self.n)[:, :batch]
        self.X = np.ascontiguousarray(X).reshape(self.X.shape[0], -1)
        if self.fast is None:
            self.step_f = self.step_class(*self.matrices, self.X)
            self.y = np.ascontiguousarray(self.y[:size])
        else:
            self.y = self.X[-1]
        pad = self.u.size - self.batch * self.n
        self.u = np.zeros(size + pad, dtype=self.dtype)
        self.batch = batch

    def update(self, spikes):
        """Filter this step's summed currents (read by the sink next step)."""
        u = self.u
        u.fill(0)
        for source, spike_map in self.sources:
            S = spikes[source]
            if S.nnz:
                spike_map.accumulate(S, u)
        signal = u[: self.batch * self.n]
        if self.fast is not None:
            self.y = self.fast.step(self.X, signal)
        else:
            self.y = self.step_f(None, signal)


def synapse_key(synapse):
    """A hashable key of ``synapse``: equal synapses share one `FilterGroup`."""
    return (
        type(synapse).__name__,
        tuple(np.asarray(synapse.num, dtype=float).ravel()),
        tuple(np.asarray(synapse.den, dtype=float).ravel()),
        bool(synapse.analog),
        synapse.method,
    )
