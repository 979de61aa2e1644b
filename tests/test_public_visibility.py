"""Component display flags of the status-page JSON, honoured on the published page."""

from __future__ import annotations

import pytest

from statuspage.public.snapshot import snapshot_publish
from statuspage.services import component_set_status, component_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"


def _matrix_html(client) -> str:
    html = client.get("/").content.decode()
    start = html.index('aria-labelledby="matrix-title"')
    return html[start : html.index("</section>", start)]


def test_only_show_if_degraded_hides_an_operational_component(client, catalogue, actor):
    snapshot_publish(full=True)
    assert "API" in _matrix_html(client)
    component_update(component=catalogue["api_global"], actor=actor, only_show_if_degraded=True)
    snapshot_publish(full=True)
    assert "API" not in _matrix_html(client)
    component_set_status(component=catalogue["api_global"], status="partial_outage", actor=actor)
    snapshot_publish(full=True)
    matrix = _matrix_html(client)
    assert "API" in matrix and "Partial outage" in matrix


def test_showcase_off_keeps_a_component_out_of_the_uptime_bars(client, catalogue, actor):
    snapshot_publish(full=True)
    html = client.get("/").content.decode()
    uptime = html[html.index('aria-labelledby="uptime-title"') :]
    assert "API" in uptime[: uptime.index("</section>")]
    component_update(component=catalogue["api_global"], actor=actor, showcase=False)
    snapshot_publish(full=True)
    html = client.get("/").content.decode()
    uptime = html[html.index('aria-labelledby="uptime-title"') :]
    assert "API" not in uptime[: uptime.index("</section>")]
    assert "API" in _matrix_html(client)
