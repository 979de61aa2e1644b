"""What a locked-out login sees: the same login page (console or admin), status 429, with the
lockout as the form's error, and a Retry-After header.

django-axes calls `lockout_response` (settings.AXES_LOCKOUT_CALLABLE) from its middleware once a
login attempt is refused for a locked-out username and address. The login view has already
answered with its page and "wrong username or password"; that would be misleading (the
password may well be right), so the page is rendered again with the lockout message instead.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

LOCKED_OUT = 429  # Too Many Requests


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None,
    credentials: dict | None,
) -> HttpResponse:
    message = settings.AXES_COOLOFF_MESSAGE
    context = getattr(original_response, "context_data", None)
    form = (context or {}).get("form")
    if isinstance(original_response, TemplateResponse) and form is not None:
        form.errors.clear()
        form.add_error(None, message)
        response: HttpResponse = TemplateResponse(
            request,
            original_response.template_name,
            context,
            status=LOCKED_OUT,
            using=original_response.using,
        )
        response.render()
    else:  # a login path we do not know: still say why, in plain text
        response = HttpResponse(message, status=LOCKED_OUT, content_type="text/plain")
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
