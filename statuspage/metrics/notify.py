"""Staff notification of metric alerts: a plain email to every active staff user with an
address (sent over one connection). Public channels are not told: an alert is a signal for
staff to look, not a declared incident."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection

from statuspage.metrics.models import MetricAlert
from statuspage.text import one_line


def metric_alert_email_staff(*, alert_id: int) -> int:
    alert = MetricAlert.objects.select_related("metric").filter(pk=alert_id).first()
    if alert is None:
        return 0
    metric = alert.metric
    recipients = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    state = "cleared" if alert.closed_at else alert.level
    # One line: a name stored before `clean_text` must not make the Subject a BadHeaderError.
    subject = one_line(
        f"[{settings.SITE_NAME}] {metric.name}: {state} ({alert.last_value:g}{metric.unit})"
    )
    body = (
        f"{metric.name} crossed its {alert.level} threshold at {alert.opened_at:%Y-%m-%d %H:%M} UTC.\n"
        f"First value {alert.first_value:g}{metric.unit}, peak {alert.peak_value:g}{metric.unit}, "
        f"last {alert.last_value:g}{metric.unit}.\n\n"
        f"Console: {settings.SITE_URL}/console/metrics/\n"
    )
    connection = get_connection()
    messages = [
        EmailMessage(subject, body, to=[address], connection=connection) for address in recipients
    ]
    return connection.send_messages(messages) or 0
