"""Settings for the test suite: the real settings, with test-only defaults filled in.

DATABASE_URL and REDIS_URL are taken from the environment as in production (.ci/run points
them at PostgreSQL and Redis); without them the tests run on SQLite.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("HELIOGRAPH_VAR_DIR", tempfile.mkdtemp(prefix="heliograph-test-"))
# Whatever the shell running the tests has set (e.g. `make run`'s defaults), the tests see
# the same page: no debug mode, the test client's host, no HTTPS redirect.
os.environ["DEBUG"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["ALLOWED_HOSTS"] = "*"
os.environ["HELIOGRAPH_SITE_URL"] = "http://testserver"

from statuspage.conf.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise looks for it)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the tests that start web nodes as separate processes
    # (tests/public) share the test database with them, as they do PostgreSQL's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
