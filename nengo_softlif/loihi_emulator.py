"""Vectorised spike delivery for nengo-loihi's emulator.

nengo-loihi 1.1's emulator (``nengo_loihi.emulator.interface``) delivers every
spike with Python code: each spiking compartment becomes a ``Spike`` object, and
each ``Spike`` adds its row of weights to the target compartments on its own. On
the paper's MNIST network that costs about 70 ms per time step (14.6 s per image
of 200 steps on this project's 2-core machine), 95% of it in
``SynapseState.inject_current`` and ``SynapseState.update_input``.

:func:`vectorize_spike_delivery` replaces those two methods, on one emulator
instance, by array code that does the same arithmetic: for each synapse the
weight rows of all the spikes of a step are gathered from one flat table and
added with `numpy.add.at`, in the emulator's own order (spike by spike, and
within a spike in the order of its weights). The compartments therefore receive
exactly the same integer (or float32) input, and the emulator produces the same
spikes; ``tests/test_loihi.py`` checks that they are equal step for step.

Learning synapses (PES), whose traces need the per-spike objects, are not
supported: an emulator with any learning synapse is left unchanged.
"""

import numpy as np


class _SynapseTable:
    """One synapse's weights as a flat table of rows, indexed by (axon, atom)."""

    def __init__(self, synapse):
        n_axons = synapse.n_axons
        bases = synapse.axon_compartment_bases
        self.bases = (
            np.zeros(n_axons, dtype=np.int64)
            if bases is None
            else np.asarray(bases, dtype=np.int64)
        )
        weight_map = synapse.axon_to_weight_map
        weight_idx = (
            np.arange(n_axons, dtype=np.int64)
            if weight_map is None
            else np.asarray(weight_map, dtype=np.int64)
        )
        n_atoms = np.array([w.shape[0] for w in synapse.weights], dtype=np.int64)
        atom_offset = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
        self.axon_row = atom_offset[weight_idx]  # row of atom 0 of each axon
        lengths = np.concatenate(
            [np.full(w.shape[0], w.shape[1]) for w in synapse.weights]
        )
        self.row_length = lengths.astype(np.int64)
        self.row_start = np.concatenate([[0], np.cumsum(self.row_length)[:-1]])
        self.weights = np.concatenate([w.ravel() for w in synapse.weights])
        self.indices = np.concatenate([i.ravel() for i in synapse.indices]).astype(
            np.int64
        )

    @staticmethod
    def rows_unique(synapse):
        """Whether no weight row targets one compartment twice.

        The emulator adds a row with ``qb[0, base + indices] += weights``, which
        counts a repeated index once; `numpy.add.at` would count it every time.
        """
        return all(
            np.all(np.diff(np.sort(i, axis=1), axis=1) != 0) for i in synapse.indices
        )

    def gather(self, axon_ids, atoms):
        """Target compartments and weights of the spikes ``(axon_ids, atoms)``."""
        bases = self.bases[axon_ids]
        used = bases >= 0
        if not used.all():
            axon_ids, atoms, bases = axon_ids[used], atoms[used], bases[used]
        rows = self.axon_row[axon_ids] + atoms
        lengths = self.row_length[rows]
        total = int(lengths.sum())
        if total == 0:
            return None, None
        # positions of every weight of every spike, spike after spike
        ends = np.cumsum(lengths)
        offsets = np.repeat(self.row_start[rows] - (ends - lengths), lengths)
        flat = offsets + np.arange(total)
        targets = self.indices[flat] + np.repeat(bases, lengths)
        return targets, self.weights[flat]


class _AxonMap:
    """Maps one axon's spiking compartments to (target axon, atom) arrays."""

    def __init__(self, axon):
        self.target = axon.target
        cmap = axon.compartment_map
        atoms = axon.compartment_atoms
        self.compartment_map = None if cmap is None else np.asarray(cmap, np.int64)
        self.atoms = None if atoms is None else np.asarray(atoms, np.int64)

    def spikes(self, compartment_idxs):
        idxs = np.asarray(compartment_idxs, dtype=np.int64)
        axon_ids = idxs if self.compartment_map is None else self.compartment_map[idxs]
        atoms = (
            np.zeros(len(idxs), dtype=np.int64)
            if self.atoms is None
            else self.atoms[idxs]
        )
        used = axon_ids >= 0
        return axon_ids[used], atoms[used]


class VectorizedSpikeDelivery:
    """Array replacements for one emulator's ``inject_current`` / ``update_input``.

    Parameters
    ----------
    synapse_state : ``nengo_loihi.emulator.interface.SynapseState``
    axon_state : ``nengo_loihi.emulator.interface.AxonState``
    spike_inputs : list of ``nengo_loihi.inputs.SpikeInput``
    """

    def __init__(self, synapse_state, axon_state, spike_inputs):
        self.state = synapse_state
        self.tables = {
            synapse: _SynapseTable(synapse) for synapse, _ in synapse_state.items()
        }
        self.axons = [(_AxonMap(axon), a_slice) for axon, a_slice in axon_state.items()]
        self.input_axons = {
            id(spike_input): [_AxonMap(axon) for axon in spike_input.axons]
            for spike_input in spike_inputs
        }
        self.queues = {synapse: [] for synapse in self.tables}

    def _deliver(self, axon_map, compartment_idxs):
        if len(compartment_idxs) == 0:
            return
        axon_ids, atoms = axon_map.spikes(compartment_idxs)
        if len(axon_ids):
            self.queues[axon_map.target].append((axon_ids, atoms))

    def inject_current(self, t, spike_inputs, all_axons, spiked):
        """Collect this step's spikes per target synapse (as arrays)."""
        del all_axons  # the axon maps were read once, in __init__
        for queue in self.queues.values():
            queue.clear()
        if t >= 2:  # input spikes take one time step to arrive
            for spike_input in spike_inputs:
                compartment_idxs = spike_input.spike_idxs(t - 1)
                for axon_map in self.input_axons[id(spike_input)]:
                    self._deliver(axon_map, compartment_idxs)
        for axon_map, a_slice in self.axons:
            self._deliver(axon_map, spiked[a_slice].nonzero()[0])

    def update_input(self, compartment_input):
        """Add the weights of the collected spikes to the compartments' input."""
        for synapse, s_slice in self.state.items():
            queue = self.queues[synapse]
            if not queue:
                continue
            axon_ids = np.concatenate([q[0] for q in queue])
            atoms = np.concatenate([q[1] for q in queue])
            targets, weights = self.tables[synapse].gather(axon_ids, atoms)
            if targets is not None:
                np.add.at(compartment_input[0, s_slice], targets, weights)


def vectorize_spike_delivery(emulator):
    """Make one nengo-loihi emulator deliver spikes with array code.

    Parameters
    ----------
    emulator : ``nengo_loihi.emulator.EmulatorInterface``
        For example ``sim.sims["emulator"]`` of a ``nengo_loihi.Simulator``
        built with ``target="sim"`` or ``"simreal"``.

    Returns
    -------
    bool
        True if the emulator now uses the array code; False (emulator unchanged)
        if a synapse learns or a weight row targets one compartment twice.
    """
    state = emulator.synapses
    synapses = [synapse for synapse, _ in state.items()]
    if state.traces or any(getattr(s, "learning", False) for s in synapses):
        return False
    if not all(_SynapseTable.rows_unique(s) for s in synapses):
        return False
    delivery = VectorizedSpikeDelivery(state, emulator.axons, emulator.inputs)
    state.inject_current = delivery.inject_current
    state.update_input = delivery.update_input
    return True
