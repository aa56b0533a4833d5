from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from . import deliveries, mail, receivers, signals  # noqa: F401  (signals registers the receivers)
        from .models import TicketEvent
        from .notifications import notify_requester

        # After the trigger engine's changes, before the live pushes.
        receivers.subscribe(notify_requester, kinds={TicketEvent.Kind.MESSAGE}, order=20, writes=False)
        # Mail is an outgoing delivery kind (escalation registers its webhooks).
        deliveries.register("mail", mail.send_row, max_attempts=mail.MAX_ATTEMPTS, on_failure=mail.undelivered)
        # Account mail (sign-up, password reset) rides the same rows: written with the account change.
        from helpdesk import mail as account_mail

        account_mail.SENDER = mail.queue_account_mail
