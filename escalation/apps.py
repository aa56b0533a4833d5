from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = _("Tiers and escalation")

    def ready(self) -> None:
        from tickets import clocks, deliveries, receivers

        from . import deadlines, tasks
        from .engine import run_triggers

        # First of the outbox's handlers: the mail and the pushes see what the triggers changed.
        receivers.subscribe(run_triggers, order=10)
        # SLA due times and escalation checks move with each change, in its transaction.
        clocks.register(deadlines.on_change)
        # Trigger webhooks share the outgoing deliveries with mail (written with the firing, never lost).
        deliveries.register("webhook", tasks.send_webhook_row, max_attempts=tasks.WEBHOOK_MAX_ATTEMPTS)
