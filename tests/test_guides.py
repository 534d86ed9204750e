"""The guides' Python examples run as written (docs/guides/*.rst, docs/keras.rst)."""

import pathlib
import re
import textwrap

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
GUIDES = sorted((DOCS / "guides").glob("*.rst")) + [DOCS / "keras.rst"]


def python_blocks(path):
    """The ``.. code-block:: python`` blocks of a reST file, dedented, in order."""
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(
        r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, flags=re.MULTILINE
    )
    return [textwrap.dedent(block) for block in blocks]


@pytest.mark.parametrize(
    "guide", [str(p.relative_to(DOCS)) for p in GUIDES if p.exists()]
)
def test_guide_examples_run(guide, tmp_path, monkeypatch):
    blocks = python_blocks(DOCS / guide)
    if not blocks:
        pytest.skip(f"{guide} has no Python example")
    if "nengo_loihi" in "".join(blocks) or 'backend="loihi"' in "".join(blocks):
        pytest.importorskip("nengo_loihi")
    pytest.importorskip("tensorflow")
    monkeypatch.chdir(tmp_path)  # whatever an example writes lands here
    namespace = {"__name__": "__guide__"}
    for block in blocks:  # one namespace: later blocks use earlier names
        exec(compile(block, f"{guide}:example", "exec"), namespace)  # noqa: S102
