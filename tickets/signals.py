"""The one model hook: a ticket deleted (the admin, a cascade) leaves its
agent's load at once, instead of waiting for the beat's recount. Every other
change to a ticket goes through tickets.services."""

from django.db.models import F
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import AgentLoad, Ticket


@receiver(post_delete, sender=Ticket, dispatch_uid="tickets.agent_load_on_delete")
def ticket_deleted(sender, instance, **kwargs):
    if instance.load_agent_id:
        # Only an update: the agent may be the one being deleted (no row to create).
        AgentLoad.objects.filter(agent_id=instance.load_agent_id, open_tickets__gt=0).update(
            open_tickets=F("open_tickets") - 1)
