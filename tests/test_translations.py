"""Every language's catalogue is complete (issue 13): a string that the code or a template
marks for translation and some catalogue lacks, or has only as a fuzzy guess, fails here by
name. So does a catalogue that is out of date with the code (run `make translations`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from statuspage import languages

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["statuspage", "incidents", "notifier", "templates", "locale", "manage.py"]
LANGUAGE_DIRS = {"pt-br": "pt_BR"}


def _catalogue(root: Path, code: str) -> Path:
    return root / "locale" / LANGUAGE_DIRS.get(code, code) / "LC_MESSAGES" / "django.po"


def _entries(tool: str, po: Path) -> str:
    """The entries `msgattrib` selects (untranslated or fuzzy), without the header."""
    out = subprocess.run(
        ["msgattrib", tool, "--no-wrap", str(po)], capture_output=True, text=True, check=True
    ).stdout
    return "\n".join(
        line for line in out.splitlines() if line.startswith("msgid ") and line != 'msgid ""'
    )


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    """A copy of the sources with every catalogue updated from the code and templates."""
    if shutil.which("msgattrib") is None:
        pytest.fail("gettext is not installed: `make test` installs it (Debian's gettext)")
    root = tmp_path_factory.mktemp("i18n")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static")
            )
        else:
            shutil.copy(source, root / name)
    codes = [LANGUAGE_DIRS.get(c, c) for c in languages.CODES if c != languages.DEFAULT]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--no-obsolete", "--no-location"]
        + [f"--locale={code}" for code in codes],
        cwd=root,
        env={**os.environ, "DEBUG": "1", "PYTHONPATH": str(root)},
        capture_output=True,
        check=True,
    )
    return root


@pytest.mark.parametrize("code", [c for c in languages.CODES if c != languages.DEFAULT])
def test_it_has_every_string_translated(code, refreshed):
    assert _catalogue(ROOT, code).exists(), f"no catalogue for {code}"
    po = _catalogue(refreshed, code)
    untranslated = _entries("--untranslated", po)
    fuzzy = _entries("--only-fuzzy", po)
    assert not untranslated, f"{code}: untranslated (run `make translations`):\n{untranslated}"
    assert not fuzzy, f"{code}: fuzzy, to check:\n{fuzzy}"


def test_it_compiles_every_catalogue():
    for code in languages.CODES:
        if code == languages.DEFAULT:
            continue
        result = subprocess.run(
            ["msgfmt", "--check", "-o", os.devnull, str(_catalogue(ROOT, code))],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
