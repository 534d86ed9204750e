"""Vectorised spike delivery for nengo-loihi's emulator.

nengo-loihi 1.1's emulator (``nengo_loihi.emulator.interface``) delivers every
spike with Python code: each spiking compartment of each axon becomes a ``Spike``
object, and each ``Spike`` adds its row of weights to the target compartments on
its own. On the paper's MNIST network (141 cores, about 2,900 axons) that cost
74 ms per time step in a profile, 95% of it in ``SynapseState.inject_current``
and ``SynapseState.update_input``: 14.6 s per image of 200 steps.

:func:`vectorize_spike_delivery` replaces those two methods, on one emulator
instance, by array code that does the same arithmetic in a few array operations
per step (5 ms per step on the same network, measured with the machine shared
by two other jobs): the weights of every spike of the step are gathered from one
flat table and added with `numpy.add.at`, in the emulator's own order (synapse
by synapse, input spikes first, then axon by axon in compartment order, and
within a spike in the order of its weights). The compartments therefore receive
exactly the same integer input (and, in the float32 ``"simreal"`` mode, the same
rounded sums), and the emulator produces the same spikes;
``tests/test_loihi.py`` checks that they are equal step for step.

Learning synapses (PES), whose traces need the per-spike objects, are not
supported: an emulator with any learning synapse is left unchanged.
"""

import numpy as np


def _rows_unique(synapse):
    """Whether no weight row of ``synapse`` targets one compartment twice.

    The emulator adds a row with ``qb[0, base + indices] += weights``, which
    counts a repeated index once; `numpy.add.at` would count it every time.
    """
    return all(
        np.all(np.diff(np.sort(i, axis=1), axis=1) != 0) for i in synapse.indices
    )


def _offsets(lengths):
    """Start of each segment of the given lengths, laid end to end."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    starts[1:] = np.cumsum(lengths)[:-1]
    return starts


def _concat(arrays, dtype):
    """``np.concatenate`` that also takes an empty list."""
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)


def _segments(starts, lengths):
    """Concatenated ``arange(start, start + length)`` of every segment."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(total)


class _AxonMap:
    """One axon's compartment -> (global target axon, atom) map."""

    def __init__(self, axon, axon_offset):
        cmap = axon.compartment_map
        atoms = axon.compartment_atoms
        self.compartment_map = None if cmap is None else np.asarray(cmap, np.int64)
        self.atoms = None if atoms is None else np.asarray(atoms, np.int64)
        self.offset = axon_offset[axon.target]

    def spikes(self, compartment_idxs):
        """(global axon ids, atoms) of the spikes of these source compartments."""
        idxs = np.asarray(compartment_idxs, dtype=np.int64)
        axon_ids = idxs if self.compartment_map is None else self.compartment_map[idxs]
        atoms = (
            np.zeros(len(idxs), dtype=np.int64)
            if self.atoms is None
            else self.atoms[idxs]
        )
        used = axon_ids >= 0
        return axon_ids[used] + self.offset, atoms[used]

    def table(self, a_slice):
        """Every (compartment, global axon, atom) this axon maps, in its order."""
        idxs = np.arange(a_slice.stop - a_slice.start)
        axon_ids, atoms = self.spikes(idxs)
        if self.compartment_map is not None:
            idxs = idxs[self.compartment_map >= 0]
        return a_slice.start + idxs, axon_ids, atoms


class VectorizedSpikeDelivery:
    """Array replacements for one emulator's ``inject_current`` / ``update_input``.

    Every synapse's weights are laid into one flat table of rows (one row per
    axon and atom); every axon into one table from source compartment to
    (target axon, atom). A step then takes a few array operations, whatever the
    number of axons and synapses: find the spiking compartments, look up their
    target axons, order the spikes as the emulator does (synapse by synapse;
    in a synapse, input spikes first, then the axons in order, each in
    compartment order), gather their weight rows and add them with
    `numpy.add.at`, which adds in that order.

    Parameters
    ----------
    synapse_state : ``nengo_loihi.emulator.interface.SynapseState``
    axon_state : ``nengo_loihi.emulator.interface.AxonState``
    spike_inputs : list of ``nengo_loihi.inputs.SpikeInput``
    """

    def __init__(self, synapse_state, axon_state, spike_inputs):
        synapses = list(synapse_state.items())
        n_axons = [synapse.n_axons for synapse, _ in synapses]
        axon_offset = dict(
            zip([synapse for synapse, _ in synapses], _offsets(n_axons), strict=True)
        )
        # per global axon: its synapse (order), first target compartment in the
        # emulator's input array (-1: unused axon), first weight row
        self.axon_synapse = np.repeat(np.arange(len(synapses)), n_axons)
        firsts, rows, lengths, weights, indices = [], [], [], [], []
        n_rows = 0
        for synapse, s_slice in synapses:
            base = synapse.axon_compartment_bases
            base = (
                np.zeros(synapse.n_axons, np.int64)
                if base is None
                else np.asarray(base, np.int64)
            )
            firsts.append(np.where(base >= 0, s_slice.start + base, -1))
            weight_map = synapse.axon_to_weight_map
            weight_idx = (
                np.arange(synapse.n_axons)
                if weight_map is None
                else np.asarray(weight_map, np.int64)
            )
            atom_rows = _offsets([w.shape[0] for w in synapse.weights])
            rows.append(n_rows + atom_rows[weight_idx])
            n_rows += sum(w.shape[0] for w in synapse.weights)
            for w, i in zip(synapse.weights, synapse.indices, strict=True):
                lengths.append(np.full(w.shape[0], w.shape[1], np.int64))
                weights.append(w.ravel())
                indices.append(i.ravel().astype(np.int64))
        self.axon_first = _concat(firsts, np.int64)
        self.axon_row = _concat(rows, np.int64)
        self.row_length = _concat(lengths, np.int64)
        self.row_start = _offsets(self.row_length)
        self.weights = _concat(weights, np.float64 if not weights else weights[0].dtype)
        self.indices = _concat(indices, np.int64)

        # source compartment -> its (global axon, atom) entries, in axon order
        comps, axon_ids, atoms = [], [], []
        for axon, a_slice in axon_state.items():
            c, g, a = _AxonMap(axon, axon_offset).table(a_slice)
            comps.append(c)
            axon_ids.append(g)
            atoms.append(a)
        comps = np.concatenate(comps) if comps else np.zeros(0, np.int64)
        rank = np.arange(len(comps))  # the emulator's order of these spikes
        order = np.argsort(comps, kind="stable")
        self.entry_axon = (np.concatenate(axon_ids) if axon_ids else comps)[order]
        self.entry_atom = (np.concatenate(atoms) if atoms else comps)[order]
        self.entry_rank = rank[order]
        n_compartments = max((sl.stop for _, sl in axon_state.items()), default=0)
        counts = np.bincount(comps, minlength=n_compartments)
        self.entry_count = counts
        self.entry_start = _offsets(counts)
        self.input_axons = {
            id(spike_input): [_AxonMap(axon, axon_offset) for axon in spike_input.axons]
            for spike_input in spike_inputs
        }
        self.pending = None

    def inject_current(self, t, spike_inputs, all_axons, spiked):
        """Collect this step's spikes (global axon ids and atoms), in order."""
        del all_axons  # read once, in __init__
        axon_ids, atoms, ranks = [], [], []
        if t >= 2:  # input spikes take one time step to arrive
            for spike_input in spike_inputs:
                compartment_idxs = spike_input.spike_idxs(t - 1)
                for axon_map in self.input_axons[id(spike_input)]:
                    if len(compartment_idxs):
                        g, a = axon_map.spikes(compartment_idxs)
                        axon_ids.append(g)
                        atoms.append(a)
        if axon_ids:  # input spikes come first in every synapse
            n_input = sum(len(g) for g in axon_ids)
            ranks.append(np.arange(-n_input, 0))
        comps = np.flatnonzero(spiked[: len(self.entry_count)])
        if comps.size:
            entries = _segments(self.entry_start[comps], self.entry_count[comps])
            axon_ids.append(self.entry_axon[entries])
            atoms.append(self.entry_atom[entries])
            ranks.append(self.entry_rank[entries])
        self.pending = (axon_ids, atoms, ranks) if axon_ids else None

    def update_input(self, compartment_input):
        """Add the weights of the collected spikes to the compartments' input."""
        if self.pending is None:
            return
        axon_ids, atoms, ranks = (np.concatenate(x) for x in self.pending)
        self.pending = None
        order = np.lexsort((ranks, self.axon_synapse[axon_ids]))
        axon_ids, atoms = axon_ids[order], atoms[order]
        first = self.axon_first[axon_ids]
        used = first >= 0
        if not used.all():
            axon_ids, atoms, first = axon_ids[used], atoms[used], first[used]
        rows = self.axon_row[axon_ids] + atoms
        lengths = self.row_length[rows]
        flat = _segments(self.row_start[rows], lengths)
        if flat.size:
            offsets = np.repeat(first, lengths)
            np.add.at(
                compartment_input[0], self.indices[flat] + offsets, self.weights[flat]
            )


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
        if it has no synapses (nothing to deliver), a synapse learns or a weight
        row targets one compartment twice.
    """
    state = emulator.synapses
    synapses = [synapse for synapse, _ in state.items()]
    if not synapses:
        return False
    if state.traces or any(getattr(s, "learning", False) for s in synapses):
        return False
    if not all(_rows_unique(s) for s in synapses):
        return False
    delivery = VectorizedSpikeDelivery(state, emulator.axons, emulator.inputs)
    state.inject_current = delivery.inject_current
    state.update_input = delivery.update_input
    return True
