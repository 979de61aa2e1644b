"""Project configuration, not an app: settings, URLs, the Celery app and the WSGI entry point.

It sits above every app and may import any of them. Importing it loads the Celery app, so that
`shared_task`s and `celery.current_app` use it in every process (web, worker, commands).
"""

from statuspage.conf.celery import app as celery_app

__all__ = ["celery_app"]
