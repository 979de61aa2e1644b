from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    """The public site's name and URL, for every template."""
    return {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}
