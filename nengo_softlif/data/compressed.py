"""Reading files that may be compressed (gzip, bzip2 or xz), detected by content.

The compression is recognised from a file's first bytes, not its name, so a
``.gz`` file that was decompressed in place (or an uncompressed file named
``.gz``) still reads correctly.
"""

import gzip
import zlib

#: First bytes of a gzip stream.
GZIP_MAGIC = b"\x1f\x8b"


def open_decompressed(path):
    """Open a possibly compressed file for binary reading.

    Parameters
    ----------
    path : str or os.PathLike
        File to open; gzip, bzip2 and xz are recognised by their magic bytes,
        anything else is read as is.

    Returns
    -------
    file object
        A binary file object yielding the decompressed bytes.
    """
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == GZIP_MAGIC:
        return gzip.open(path, "rb")
    if magic[:3] == b"BZh":
        import bz2

        return bz2.open(path, "rb")
    if magic == b"\xfd7zXZ\x00":
        import lzma

        return lzma.open(path, "rb")
    return open(path, "rb")


def _decompression_errors():
    errors = (OSError, EOFError, zlib.error)
    try:
        import lzma
    except ImportError:  # pragma: no cover - Python built without lzma
        return errors
    return errors + (lzma.LZMAError,)


#: Exceptions that reading a truncated or corrupt (compressed) file can raise.
DECOMPRESSION_ERRORS = _decompression_errors()
