from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsInboxConfig(AppConfig):
    name = "channels_inbox"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from tickets import receivers

        from .realtime import broadcast_ticket_event, connect_signals

        connect_signals()
        # Last of the outbox's handlers: one push with everything the pass changed.
        receivers.subscribe(broadcast_ticket_event, order=30, writes=False)
