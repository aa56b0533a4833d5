from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsInboxConfig(AppConfig):
    name = "channels_inbox"
    verbose_name = _("Channels")

    def ready(self):
        from .realtime import connect_signals

        connect_signals()
