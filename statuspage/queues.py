"""Celery tasks by name, for service modules.

A tasks module imports its app's services (tasks are thin wrappers over them), so a services
module that enqueues a task looks it up by name here instead of importing the tasks module
back. Every app that has tasks imports its tasks module in `AppConfig.ready()`, so the names
are registered in every process (web, worker, commands), and `celery.current_app` is the
project's app (statuspage.conf loads it with the settings).
"""

from __future__ import annotations

from celery import Task, current_app


def task(name: str) -> Task:
    """The registered task called `name`, e.g. "notifier.tasks.deliver_email"."""
    return current_app.tasks[name]
