"""Production settings must pass Django's deployment checks; missing secrets must fail loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for key in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"):
        base.pop(key, None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="k" * 20 + "Production-Secret-Value-0123456789-abcdefghij",
        DEBUG="0",
        ALLOWED_HOSTS="status.example.com",
        HELIOGRAPH_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_in_production_is_refused(tmp_path):
    result = _manage("check", DEBUG="0", HELIOGRAPH_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "status.example.com",
}


def test_check_deploy_fails_on_the_public_dev_key_with_debug_off(tmp_path):
    """HELIOGRAPH_INSECURE_DEV_KEY=1 lets DEBUG=0 start without SECRET_KEY (benchmarks), but
    the key it then uses is public: the deployment check must refuse it, as an error."""
    result = _manage(
        "check",
        "--deploy",
        HELIOGRAPH_INSECURE_DEV_KEY="1",
        HELIOGRAPH_VAR_DIR=str(tmp_path),
        **PRODUCTION,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "heliograph.E001" in result.stderr
    assert "public development key and DEBUG=0" in result.stderr


def test_check_deploy_fails_on_a_short_secret_key(tmp_path):
    result = _manage(
        "check", "--deploy", SECRET_KEY="short-key", HELIOGRAPH_VAR_DIR=str(tmp_path), **PRODUCTION
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "heliograph.E002" in result.stderr


def test_check_deploy_fails_on_a_key_of_few_different_characters(tmp_path):
    result = _manage(
        "check", "--deploy", SECRET_KEY="ab" * 40, HELIOGRAPH_VAR_DIR=str(tmp_path), **PRODUCTION
    )
    assert result.returncode != 0
    assert "heliograph.E002" in result.stderr


def _settings(names: list[str], **env: str) -> list[str]:
    """The repr of each setting, as a fresh process computes it from `env`."""
    code = "from django.conf import settings; " + "; ".join(
        f"print(repr(settings.{name}))" for name in names
    )
    result = _manage("shell", "-v", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-len(names) :]


def test_hsts_preload_and_subdomains_are_opt_in(tmp_path):
    """A status page on status.example.com must not commit example.com to HSTS preload."""
    env = {
        "SECRET_KEY": "k" * 20 + "Production-Secret-Value-0123456789-abcdefghij",
        "HELIOGRAPH_VAR_DIR": str(tmp_path),
        **PRODUCTION,
    }
    names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD", "SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert _settings(names, **env) == ["31536000", "False", "False"]
    opted_in = {**env, "SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1"}
    # Opted in, Django's own warnings about them are no longer silenced (nothing to warn of).
    assert _settings([*names, "SILENCED_SYSTEM_CHECKS"], **opted_in) == [
        "31536000",
        "True",
        "True",
        "[]",
    ]
