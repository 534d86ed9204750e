#!/bin/sh
# Install nengo-softlif with the stack tested on this Python (constraints.txt) into
# the active environment. The arguments are pip's, e.g.
#     sh install.sh -e ".[tests,loihi,distributed]"
# Python 3.10-3.11: the same as `pip install -c constraints.txt ARGS`.
# Python 3.12-3.13: builds nengo-dl 3.6 first (see nengo_softlif/compat.py: its
# source distribution's build needs setuptools<70, outside pip's build isolation).
# It installs into the environment of `python3` (the active one).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
python=python3
# a Python that nengo-softlif does not support gets a message that says what to do
"$python" "$here/setup.py" --check-python
if "$python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    "$python" -m pip install --quiet -c "$here/constraints.txt" "setuptools>=61,<70" wheel
    "$python" -m pip install --quiet -c "$here/constraints.txt" \
        --no-build-isolation --no-deps nengo-dl
fi
"$python" -m pip install -c "$here/constraints.txt" "$@"
