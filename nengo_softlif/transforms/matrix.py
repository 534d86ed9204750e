"""Any nengo connection's transform as a weight matrix.

The one place that turns a transform (`nengo.Dense`, `nengo.Sparse` and the
windowed sparse transforms, `nengo.Convolution`, or none) with a connection's
slices into the ``(post size, pre size)`` matrix it applies. The fast backend
composes these matrices, the Loihi resource count reads their non-zeros.
"""

import numpy as np
import scipy.sparse as sp
from nengo.transforms import Convolution, Dense, NoTransform, Sparse, SparseMatrix

__all__ = [
    "conv_geometry",
    "conv_table",
    "convolution_matrix",
    "selection_matrix",
    "transform_matrix",
    "compose",
]


def conv_geometry(conv):
    """Spatial sizes, kernel, strides and leading padding of a 1-D/2-D convolution."""
    if conv.dimensions not in (1, 2):
        raise TypeError(f"{conv}: only 1-D and 2-D convolutions are supported")
    in_sp = tuple(conv.input_shape.spatial_shape)
    out_sp = tuple(conv.output_shape.spatial_shape)
    kernel = tuple(conv.kernel_size)
    strides = tuple(conv.strides)
    if conv.dimensions == 1:
        in_sp, out_sp, kernel, strides = (
            (1,) + in_sp,
            (1,) + out_sp,
            (1,) + kernel,
            (1,) + strides,
        )
    pads = []
    for i in range(2):
        if conv.padding == "same":
            total = max((out_sp[i] - 1) * strides[i] + kernel[i] - in_sp[i], 0)
            pads.append(total // 2)  # nengo (as TensorFlow) pads the far edge more
        else:
            pads.append(0)
    return in_sp, out_sp, kernel, strides, tuple(pads)


def conv_table(conv):
    """For every input pixel and kernel offset, the output pixel it reaches.

    Returns an ``(n_in_pixels, kh*kw)`` int array: the flat output pixel, or
    ``n_out_pixels`` where that offset reaches no output.
    """
    (h, w), (ho, wo), (kh, kw), (sy, sx), (py, px) = conv_geometry(conv)
    iy, ix, dy, dx = np.meshgrid(
        np.arange(h), np.arange(w), np.arange(kh), np.arange(kw), indexing="ij"
    )
    ny, nx = iy + py - dy, ix + px - dx
    oy, ox = ny // sy, nx // sx
    valid = (ny % sy == 0) & (nx % sx == 0) & (oy >= 0) & (oy < ho)
    valid &= (ox >= 0) & (ox < wo)
    table = np.where(valid, oy * wo + ox, ho * wo)
    return table.reshape(h * w, kh * kw).astype(np.int32)


def convolution_matrix(conv, kernel=None, rng=None):
    """The (size_out, size_in) sparse matrix of a `nengo.Convolution` transform.

    Parameters
    ----------
    conv : `nengo.Convolution`
        A 1-D or 2-D convolution (``"same"`` or ``"valid"`` padding, any strides,
        channels first or last).
    kernel : ndarray, optional
        The kernel, ``kernel_size + (input_channels, n_filters)``; by default
        ``conv.sample(rng=rng)``.
    rng : `numpy.random.RandomState`, optional
        For kernels given as a distribution.

    Returns
    -------
    `scipy.sparse.csr_matrix`
    """
    if type(conv) is not Convolution:
        raise TypeError(f"{conv} is not a nengo.Convolution")
    if kernel is None:
        kernel = conv.sample(rng=np.random if rng is None else rng)
    (h, w), (ho, wo), (kh, kw), _, _ = conv_geometry(conv)
    kernel = np.asarray(kernel, dtype=float).reshape(kh * kw, -1, conv.n_filters)
    channels, filters = kernel.shape[1], conv.n_filters
    table = conv_table(conv)
    pix, off = np.nonzero(table < ho * wo)
    opix = table[pix, off]
    # one entry per (input pixel, offset, input channel, filter)
    c, f = np.meshgrid(np.arange(channels), np.arange(filters), indexing="ij")
    c, f = c.ravel(), f.ravel()
    if conv.channels_last:
        rows = opix[:, None] * filters + f[None, :]
        cols = pix[:, None] * channels + c[None, :]
    else:
        rows = f[None, :] * (ho * wo) + opix[:, None]
        cols = c[None, :] * (h * w) + pix[:, None]
    data = kernel[off][:, c, f]
    return sp.csr_matrix(
        (data.ravel(), (rows.ravel(), cols.ravel())),
        shape=(conv.size_out, conv.size_in),
    )


def selection_matrix(index, size):
    """(len(selected), size) 0/1 matrix of ``np.arange(size)[index]``, or None."""
    if isinstance(index, slice) and index == slice(None):
        return None
    selected = np.arange(size)[index]
    if selected.ndim == 0:
        selected = selected[None]
    return sp.csr_matrix(
        (np.ones(len(selected)), (np.arange(len(selected)), selected)),
        shape=(len(selected), size),
    )


def transform_matrix(conn, rng=None):
    """The full (post size, pre size) linear map of a connection.

    Includes ``pre_slice`` and ``post_slice``. Returns a `scipy.sparse` CSR
    matrix, or a dense ndarray for `nengo.Dense` transforms.

    Parameters
    ----------
    conn : `nengo.Connection`
    rng : `numpy.random.RandomState`, optional
        Generator for transforms given as distributions (nengo uses one seeded by
        the connection's seed).

    Raises
    ------
    TypeError
        For transforms other than Dense, Sparse, Convolution or none.
    """
    rng = np.random if rng is None else rng
    transform = conn.transform
    size_mid = conn.size_mid
    if isinstance(transform, NoTransform):
        core = sp.identity(size_mid, format="csr")
    elif type(transform) is Dense:
        weights = np.asarray(transform.sample(rng=rng), dtype=float)
        if weights.ndim == 2:
            core = weights
        elif weights.ndim == 1:
            core = sp.diags(weights, format="csr")
        else:
            core = sp.identity(size_mid, format="csr") * float(weights)
    elif isinstance(transform, Sparse):  # incl. LocallyConnectedSparse
        weights = transform.sample(rng=rng)
        if isinstance(weights, SparseMatrix):
            indices = np.asarray(weights.indices)
            weights = sp.csr_matrix(
                (np.asarray(weights.data, dtype=float), (indices[:, 0], indices[:, 1])),
                shape=weights.shape,
            )
        core = sp.csr_matrix(weights, dtype=float)
    elif type(transform) is Convolution:
        core = convolution_matrix(transform, rng=rng)
    else:
        raise TypeError(
            f"{conn}: its {type(transform).__name__} transform has no matrix form "
            "here (Dense, Sparse, Convolution or no transform)"
        )
    pre_sel = selection_matrix(conn.pre_slice, conn.pre_obj.size_out)
    post_obj = conn.post_obj
    post_sel = selection_matrix(conn.post_slice, post_obj.size_in)
    if post_sel is not None and len(np.unique(post_sel.indices)) < post_sel.shape[0]:
        raise TypeError(f"{conn}: its post slice repeats indices")
    maps = [
        m
        for m in (pre_sel, core, None if post_sel is None else post_sel.T)
        if m is not None
    ]
    return compose(maps)


def compose(maps):
    """Product ``maps[-1] @ ... @ maps[0]`` (sparse stays sparse, dense stays dense)."""
    result = maps[0]
    for m in maps[1:]:
        if sp.issparse(m) and sp.issparse(result):
            result = (m @ result).tocsr()
        elif sp.issparse(m):  # sparse @ dense
            result = np.asarray(m @ result)
        elif sp.issparse(result):  # dense @ sparse
            result = np.asarray((result.T @ m.T).T)
        else:
            result = m @ result
    if sp.issparse(result):
        result = sp.csr_matrix(result)
        result.sum_duplicates()
    return result
