"""The start-up hook installed with the package: ``import nengo_dl`` on its own."""

import importlib.util
import os
import subprocess
import sys

import pytest


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )


def test_import_nengo_dl_first_works_in_a_fresh_interpreter():
    pytest.importorskip("tensorflow")
    result = _run(
        "import sys, nengo_dl; "
        "print(nengo_dl.__version__, 'nengo_softlif' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    version, softlif_imported = result.stdout.split()
    assert version.startswith("3.6") and softlif_imported == "False"


def test_the_hook_imports_nothing_heavy():
    result = _run(
        "import sys; print(sorted(m for m in ('nengo', 'tensorflow', 'keras', "
        "'nengo_softlif') if m in sys.modules))"
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]"
    assert (
        "nengo_softlif_startup" in _run("import sys; print(list(sys.modules))").stdout
    )


def _fake_packages(root, packages):
    """Write stand-in packages (``{"a/b.py": "source"}``) under ``root``."""
    for relative, source in packages.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent.parts and not init.exists():
                init.write_text("")


def _run_with(root, code, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS",)}
    environ.update(env, PYTHONPATH=str(root))
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )


FAKE_TENSORFLOW = {
    "tensorflow/__init__.py": "import os\nLEGACY = os.environ.get('TF_USE_LEGACY_KERAS')\n"
}
READ_LEGACY = "import tensorflow; print(tensorflow.LEGACY)"


@pytest.mark.parametrize(
    "user_value, expected", [(None, "1"), ("0", "0"), ("True", "True")]
)
def test_tensorflow_gets_legacy_keras_when_tf_keras_is_installed(
    tmp_path, user_value, expected
):
    _fake_packages(tmp_path, {**FAKE_TENSORFLOW, "tf_keras/__init__.py": ""})
    env = {} if user_value is None else {"TF_USE_LEGACY_KERAS": user_value}
    result = _run_with(tmp_path, READ_LEGACY, **env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == expected


def test_tensorflow_without_tf_keras_is_left_alone(tmp_path):
    if importlib.util.find_spec("tf_keras") is not None:
        pytest.skip("tf-keras is installed here")
    _fake_packages(tmp_path, FAKE_TENSORFLOW)
    result = _run_with(tmp_path, READ_LEGACY)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "None"


def test_keras_engine_comes_from_tf_keras_next_to_keras_3(tmp_path):
    _fake_packages(
        tmp_path,
        {
            "keras/__init__.py": "__version__ = '3.0.0'\n",  # Keras 3: no engine
            "keras/layers/__init__.py": "",
            "tf_keras/src/engine/functional.py": "class Functional: pass\n",
            "tf_keras/src/layers/__init__.py": (
                "class BatchNormalizationV1: pass\nclass BatchNormalizationV2: pass\n"
            ),
        },
    )
    result = _run_with(
        tmp_path,
        "import keras.engine.functional as f, keras.layers as kl, tf_keras.src as t\n"
        "print(f is t.engine.functional, "
        "kl.BatchNormalizationV2 is t.layers.BatchNormalizationV2)",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True"]
