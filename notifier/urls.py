"""URLs of the notifier, mounted at the root: /subscribe/ (and its SMS code page),
/<language>/subscribe/ for each of the page's languages (`statuspage.languages`, English
too), /subscriptions/<token>/…, Twilio's inbound webhook /sms/inbound/, and the staff pages
under /console/notifications/."""

import re

from django.urls import path, re_path

from notifier import views
from statuspage import languages

_LANGUAGE = "|".join(re.escape(code) for code in languages.CODES)

app_name = "notifier"

urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    re_path(rf"^(?P<language>{_LANGUAGE})/subscribe/$", views.subscribe, name="subscribe_in"),
    path("subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("subscribe/code/", views.confirm_code, name="confirm_code"),
    path("sms/inbound/", views.sms_inbound, name="sms_inbound"),
    path("subscriptions/<str:token>/", views.manage, name="manage"),
    path("subscriptions/<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
    path("console/notifications/", views.console_index, name="console_index"),
    path(
        "console/notifications/subscribers/",
        views.console_subscribers,
        name="console_subscribers",
    ),
    path(
        "console/notifications/channels/new/",
        views.console_channel_new,
        name="console_channel_new",
    ),
    path(
        "console/notifications/channels/<int:pk>/",
        views.console_channel,
        name="console_channel",
    ),
    path(
        "console/notifications/channels/<int:pk>/test/",
        views.console_channel_test,
        name="console_channel_test",
    ),
    path(
        "console/notifications/channels/<int:pk>/delete/",
        views.console_channel_delete,
        name="console_channel_delete",
    ),
    path(
        "console/notifications/updates/<str:public_id>/",
        views.console_update,
        name="console_update",
    ),
    path(
        "console/notifications/updates/<str:public_id>/retry-dead/",
        views.console_update_retry_dead,
        name="console_update_retry_dead",
    ),
]
