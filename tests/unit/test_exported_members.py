"""labkit's public API is exactly its sorted __all__, and importing it starts nothing."""

import subprocess
import sys

import labkit


def test_all_is_sorted_and_complete():
    assert labkit.__all__ == sorted(labkit.__all__)
    public = {name for name in vars(labkit) if not name.startswith("_")}
    # submodules imported along the way are not API
    modules = {name for name in public if type(getattr(labkit, name)).__name__ == "module"} - {"checks"}
    assert public - modules == set(labkit.__all__) - {"__version__"}


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import os, labkit; "
        "assert not any(k.startswith('AWS_ENDPOINT_URL') for k in os.environ), 'endpoint set'; "
        "assert not os.path.exists(os.environ['LABKIT_HOME']), 'home created'"
    )
    env = {"PATH": "/usr/bin:/bin", "LABKIT_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
