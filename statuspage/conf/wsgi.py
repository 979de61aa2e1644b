"""WSGI entry point. A process started from here serves requests, so it also keeps this
host's snapshot current with the other web nodes' (statuspage.public.replication)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statuspage.conf.settings")
application = get_wsgi_application()

from statuspage.public import replication  # noqa: E402 - needs the settings loaded above

replication.sync_enable()
