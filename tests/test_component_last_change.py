"""statuspage.selectors.component_last_change: the one answer to "when did this component
last change status", which automation uses to give a component back only if nobody else
changed it since."""

from __future__ import annotations

from statuspage.selectors import component_last_change
from statuspage.services import component_set_status


def test_it_is_the_newest_change_of_that_component_only(catalogue, actor):
    us, eu = catalogue["runs_us"], catalogue["runs_eu"]
    assert component_last_change(us) is None
    first = component_set_status(component=us, status="major_outage", actor=actor, reason="a")
    second = component_set_status(component=us, status="operational", actor=actor, reason="b")
    other = component_set_status(component=eu, status="partial_outage", actor=actor, reason="c")
    assert first is not None and second is not None and other is not None
    assert component_last_change(us) == second
    assert component_last_change(eu) == other
