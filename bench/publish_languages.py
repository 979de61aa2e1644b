"""Benchmark: what publishing the public pages in six languages costs.

    .venv/bin/python bench/publish_languages.py

Every public HTML page (page, history, incident pages, embed) is rendered once per rendering of
`statuspage.public.snapshot.RENDERINGS`: English without prefix and each of the six languages
under its prefix, seven in all. This measures, in one run on the demo data (`load_demo`: three
regions, seven services, 90 days of history, the June 2026 incident) in a throw-away SQLite:

- a full publish (every document) and an incremental publish (after one incident update: the
  page-wide documents and that incident's pages), each repeated, median seconds;
- the same with RENDERINGS cut to English only (the baseline: what v0.1's one language cost);
- and prints the ratios, languages ÷ English only.

The alert → page time of bench/detect.py includes the incremental publish.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def main() -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="hg-bench-lang-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "DEBUG": "1",
            "HELIOGRAPH_VAR_DIR": str(var_dir),
            "CELERY_TASK_ALWAYS_EAGER": "1",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0)
    call_command("compilemessages", verbosity=0, ignore_patterns=[".venv"])

    from incidents.models import Incident
    from incidents.services import incident_post_update
    from statuspage.public import snapshot
    from statuspage.services import Actor

    incident = Incident.objects.order_by("-created_at").first()
    actor = Actor(user=None, name="bench")
    all_renderings = list(snapshot.RENDERINGS)
    figures: dict[str, dict[str, list[float]]] = {"all": {}, "en": {}}

    def timed(label: str, kind: str, func) -> None:
        start = time.perf_counter()
        func()
        figures[label].setdefault(kind, []).append(time.perf_counter() - start)

    with override_settings(SNAPSHOT_DIR=var_dir / "snapshot", PUBLISH_TARGETS=[]):
        for round_ in range(ROUNDS):
            for label, renderings in (("en", all_renderings[:1]), ("all", all_renderings)):
                snapshot.RENDERINGS[:] = renderings
                timed(label, "full", lambda: snapshot.snapshot_publish(full=True, buckets=False))
                incident.refresh_from_db()
                if incident.status in ("resolved", "completed"):
                    incident = (
                        Incident.objects.exclude(status__in=["resolved", "completed"]).first()
                        or incident
                    )
                if incident.status not in ("resolved", "completed"):
                    incident_post_update(
                        incident=incident,
                        status=incident.status,
                        body=f"Round {round_}",
                        actor=actor,
                        component_statuses={},
                        deliver_notifications=False,
                    )
                timed(label, "incremental", lambda: snapshot.snapshot_publish(buckets=False))
        snapshot.RENDERINGS[:] = all_renderings
        documents = len(snapshot.read_manifest()["documents"])

    print(f"documents published with every language: {documents}")
    for kind in ("full", "incremental"):
        en = statistics.median(figures["en"][kind])
        every = statistics.median(figures["all"][kind])
        print(
            f"{kind:12} English only {en * 1000:8.1f} ms   six languages {every * 1000:8.1f} ms"
            f"   ratio {every / en:5.2f}"
        )


if __name__ == "__main__":
    main()
