from django.core.management import call_command

from helpdesk.models import User
from tickets.models import Ticket, TicketEvent, TicketType


def test_seed_demo_is_idempotent_and_prints_logins(db, capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), Ticket.objects.count(), TicketType.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Ticket.objects.count(), TicketType.objects.count()) == counts
    assert counts[1] >= 24
    assert "admin" in first and "olga@acme.example" in first and "demo-pass-2026" in first
    assert User.objects.get(username="admin").is_staff
    assert User.objects.filter(role="customer", organization__isnull=False).values("organization").distinct().count() == 2
    assert Ticket.objects.filter(subject__contains="Принтер").exists()
    assert Ticket.objects.filter(messages__internal=True).exists()
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()


def test_seed_demo_routes_new_tickets(db):
    from escalation.models import Trigger
    from helpdesk.models import Group, Tier
    from tickets import services
    from tickets.tasks import process_events

    call_command("seed_demo")
    assert Tier.objects.count() == 4 and Group.objects.count() == 4 and Trigger.objects.count() == 5
    olga = User.objects.get(email="olga@acme.example")
    ticket = services.create_ticket(requester=olga, subject="Charged twice", body="b",
                                    type=TicketType.objects.get(name="payment"))
    process_events()
    ticket.refresh_from_db()
    assert ticket.group.name == "Billing L1" and ticket.assignee.username in ("marco", "sam")


def test_demo_payment_tickets_sit_in_billing(db):
    call_command("seed_demo")
    payment = Ticket.objects.filter(type__name="payment")
    assert payment.exists() and all(t.group.name == "Billing L1" for t in payment)


def test_demo_new_tickets_arrive_routed_with_the_explanation(db, mailoutbox):
    from escalation.models import TriggerFiring

    call_command("seed_demo")
    routed = Ticket.objects.filter(events__kind=TicketEvent.Kind.ASSIGNEE, events__actor__username="system").distinct()
    assert routed.count() >= 4
    for ticket in routed:
        assert ticket.assignee is not None and ticket.group is not None and ticket.status == "open"
        firing = TriggerFiring.objects.filter(ticket=ticket).first()
        assert firing is not None and firing.errors == [] and firing.actions_done
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()
    assert mailoutbox == []  # the demo's customers are not mailed about its history
