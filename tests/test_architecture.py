"""The layers of docs/architecture.md, as import-linter holds them (pyproject.toml).

import-linter checks the imports between the modules the contract names. The catalogue
(statuspage) and incidents contain apps of higher layers, so the contract names their own
modules one by one; these tests make sure no module of theirs is left out of it (a new
module would otherwise be free to import upwards), and that the contract holds.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    return contract


def _layer_modules() -> set[str]:
    names: set[str] = set()
    for layer in _contract()["layers"]:
        names.update(part.strip() for part in layer.replace("|", ":").split(":"))
    return names


def _children(package: str) -> set[str]:
    """The direct submodules and subpackages of a first-party package."""
    folder = ROOT / package.replace(".", "/")
    found = set()
    for path in folder.iterdir():
        if path.suffix == ".py" and path.name != "__init__.py":
            found.add(f"{package}.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            found.add(f"{package}.{path.name}")
    return found


def test_every_module_of_the_nested_packages_is_in_a_layer():
    listed = _layer_modules()
    for package in ("statuspage", "incidents"):
        missing = sorted(_children(package) - listed)
        assert not missing, f"add to a layer in pyproject.toml: {missing}"


def test_no_import_goes_up_a_layer():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
