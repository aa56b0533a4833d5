from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsInboxConfig(AppConfig):
    name = "channels_inbox"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from tickets import mail, notifications, receivers
        from tickets.models import TicketEvent

        from .chat.selectors import visitor_is_here
        from .chat.services import relay_ticket_messages
        from .email.threading import remember_outbound
        from .realtime import broadcast_ticket_event, connect_signals

        connect_signals()
        from django.db.models.signals import post_delete, post_save

        from .email.noise import forget_mailbox_addresses
        from .models import Mailbox

        post_save.connect(forget_mailbox_addresses, sender=Mailbox, dispatch_uid="mailbox-addresses-save")
        post_delete.connect(forget_mailbox_addresses, sender=Mailbox, dispatch_uid="mailbox-addresses-delete")
        # Last of the outbox's handlers: one push with everything the pass changed.
        receivers.subscribe(broadcast_ticket_event, order=30, writes=False)
        # A reply written on a chat's ticket page (not in the chat) reaches the chat's sockets; writes a ChatEntry.
        receivers.subscribe(relay_ticket_messages, kinds=[TicketEvent.Kind.MESSAGE], order=25, writes=False)
        if remember_outbound not in mail.ON_TICKET_MAIL:
            mail.ON_TICKET_MAIL.append(remember_outbound)  # our Message-IDs thread the replies
        if visitor_is_here not in notifications.MAIL_NOT_NEEDED:
            notifications.MAIL_NOT_NEEDED.append(visitor_is_here)  # a live chat's visitor reads the reply there
