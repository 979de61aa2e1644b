"""Upgrading a v0.1 database: the layout of issue 8 moved API tokens, metrics and credits to
apps of their own. Their tables stay where v0.1 created them, so `migrate` on a database
created by v0.1 (with the demo loaded) must succeed and lose nothing.

The v0.1 code itself builds that database: it is taken from git (the commit v0.1 landed as)
and run with this virtualenv, against a fresh database on the same server as the tests
(PostgreSQL in CI), then the current code migrates it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
V01 = "4448bc6b47666db4488b728141bbf913ce2cf56f"  # "v0.1 on main": the last commit before issue 8

MOVED = {
    "api": ["apitoken"],
    "metrics": ["metric", "metricalert", "metricpoint"],
    "credits": [
        "account",
        "creditpolicy",
        "creditpolicycurrency",
        "creditreport",
        "creditreportaddon",
        "creditreportline",
        "creditreporttotal",
        "spendrecord",
    ],
}


def _extract_v01(target: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", V01],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


@contextmanager
def _fresh_database(tmp_path: Path) -> Iterator[tuple[str, callable]]:
    """A new, empty database beside the test database: its URL and a function running a
    query on it."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path / "v01.sqlite3"

        def query(sql: str) -> list[tuple]:
            with sqlite3.connect(path) as conn:
                return conn.execute(sql).fetchall()

        yield f"sqlite:///{path}", query
        return
    name = f"heliograph_v01_{uuid.uuid4().hex[:8]}"
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def query(sql: str) -> list[tuple]:
        with psycopg.connect(dbname=name, **server) as conn:
            return conn.execute(sql).fetchall()

    auth = f"{server['user']}:{server['password']}@" if server["password"] else f"{server['user']}@"
    try:
        yield f"postgres://{auth}{server['host']}:{server['port']}/{name}", query
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(cwd: Path, env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _tables(query, vendor_sqlite: bool) -> list[str]:
    if vendor_sqlite:
        rows = query(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return sorted(r[0] for r in rows)


def _counts(query, tables: list[str]) -> dict[str, int]:
    return {t: query(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in tables}


def test_migrate_keeps_every_row_of_a_v01_database_with_the_demo(tmp_path):
    old_tree = tmp_path / "v01"
    _extract_v01(old_tree)
    sqlite = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    with _fresh_database(tmp_path) as (url, query):
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "PYTHONPATH")
        }
        env.update(
            DATABASE_URL=url,
            DEBUG="1",
            SECRET_KEY="upgrade-test-secret-key-0123456789abcdef0123456789",
            HELIOGRAPH_VAR_DIR=str(tmp_path / "var"),
            HELIOGRAPH_ADMIN_PASSWORD="pw-upgrade-test-1",
        )
        # v0.1, by its own code: the schema, the demo, and a token for a script.
        _manage(old_tree, env, "migrate", "--no-input")
        _manage(old_tree, env, "load_demo")
        token_line = _manage(old_tree, env, "create_api_token", "v01-script")
        raw_token = next(
            line.split()[-1] for line in token_line.splitlines() if line.startswith("token:")
        )
        before_tables = _tables(query, sqlite)
        before = _counts(query, before_tables)
        old_types = dict(query("SELECT app_label || '.' || model, id FROM django_content_type"))
        old_permissions = set(query("SELECT id, codename, content_type_id FROM auth_permission"))

        # The current code migrates it, then does what `make run` does on start.
        _manage(ROOT, env, "migrate", "--no-input")
        after_tables = _tables(query, sqlite)
        # No table is renamed or dropped (v0.2's apps add tables of their own: the notifier's
        # event stamps, login attempts, detection, the public app's releases, …).
        assert set(before_tables) <= set(after_tables)
        assert "notifier_event" in after_tables
        after = _counts(query, before_tables)
        assert after.pop("django_migrations") > before.pop("django_migrations")
        # New models add content types and permissions; none of v0.1's is lost (checked row by
        # row below).
        assert after.pop("django_content_type") >= before.pop("django_content_type")
        assert after.pop("auth_permission") >= before.pop("auth_permission")
        assert after == before, "every row of every table is kept"
        assert before["incidents_incident"] > 0 and before["incidents_spendrecord"] > 0
        assert before["statuspage_metricpoint"] > 0 and before["statuspage_apitoken"] == 1

        # The moved models' content types are relabelled in place, so permissions granted
        # on them (and admin log entries) follow them.
        new_types = dict(query("SELECT app_label || '.' || model, id FROM django_content_type"))
        for app, models in MOVED.items():
            old_label = "incidents" if app == "credits" else "statuspage"
            for model in models:
                assert new_types[f"{app}.{model}"] == old_types[f"{old_label}.{model}"]
                assert f"{old_label}.{model}" not in new_types
        # Every v0.1 permission row is still there, on the same content type (relabelled or not).
        new_permissions = set(query("SELECT id, codename, content_type_id FROM auth_permission"))
        assert old_permissions <= new_permissions

        _manage(ROOT, env, "load_demo")  # idempotent on an upgraded database
        # The v0.1 token still works with the current code.
        check = _manage(
            ROOT,
            env,
            "shell",
            "-c",
            "from statuspage.api.services import api_token_authenticate; "
            f"print(api_token_authenticate(raw={raw_token!r}).name)",
        )
        assert check.strip().endswith("v01-script")
