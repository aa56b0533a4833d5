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
    from channels_inbox.models import Mailbox

    assert list(Mailbox.objects.values_list("active", flat=True)) == [False]  # one demo mailbox, never polled


def test_seed_demo_routes_new_tickets(db):
    from escalation.models import Trigger
    from helpdesk.models import Group, Tier
    from tickets import services
    from tickets.tasks import process_events

    call_command("seed_demo")
    assert Tier.objects.count() == 4 and Group.objects.count() == 4 and Trigger.objects.count() == 10
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


def test_seed_demo_sets_up_the_sla_once(db):
    from datetime import date, time

    import time_machine

    from escalation.models import BusinessHours, EscalationRule, Holiday, SLAPolicy, Trigger
    from helpdesk.models import Tier

    with time_machine.travel("2026-12-31 23:30 +00:00"):  # already 2027 in Berlin
        call_command("seed_demo")
        counts = [model.objects.count() for model in (BusinessHours, Holiday, SLAPolicy, EscalationRule, Trigger)]
        call_command("seed_demo")
    assert [model.objects.count() for model in (BusinessHours, Holiday, SLAPolicy, EscalationRule, Trigger)] == counts

    calendar = BusinessHours.objects.get()
    assert (calendar.name, calendar.time_zone) == ("Office hours (Berlin)", "Europe/Berlin")
    assert [(i.weekday, i.opens, i.closes) for i in calendar.intervals.all()] == [
        (day, time(9), time(18)) for day in range(5)]
    days = set(calendar.holidays.values_list("date", flat=True))
    assert {date(2027, 10, 3), date(2028, 10, 3), date(2027, 3, 26)} <= days and date(2026, 10, 3) not in days
    assert set(calendar.holidays.values_list("country", flat=True)) == {"DE"}

    targets = {p.priorities[0]: (p.first_response_minutes, p.next_response_minutes, p.resolution_minutes,
                                 p.calendar_id) for p in SLAPolicy.objects.all()}
    assert targets == {"urgent": (30, 60, 240, None), "high": (60, 120, 480, calendar.pk),
                       "normal": (240, 480, 1440, calendar.pk), "low": (480, 960, 2880, calendar.pk)}

    rules = [(r.tier.level, r.condition, r.minutes, r.priorities, r.to_tier) for r in EscalationRule.objects.all()]
    assert rules == [(1, "no_agent_response", 10, ["urgent"], None), (1, "unassigned", 30, [], None),
                     (2, "unresolved", 240, [], None)]
    assert Tier.objects.get(level=2).default_group.name == "Tech L2"
    assert Tier.objects.get(level=3).default_group.name == "Engineering L3"



def test_demo_sla_alerts_reach_the_assignee_or_the_group(db):
    """The demo's alert triggers, run by the engine on an sla_breached / sla_warning event."""
    from django.utils import timezone

    from escalation.engine import run_triggers
    from helpdesk.models import Group
    from tickets import services
    from tickets.models import Notification
    from tickets.tasks import process_events

    call_command("seed_demo")
    assigned = Ticket.objects.filter(assignee__isnull=False, group__name="Support L1").first()
    unassigned = Ticket.objects.filter(group__name="Billing L1").exclude(pk=assigned.pk).first()
    unassigned = services.assign_ticket(ticket=unassigned, actor=User.objects.get(username="admin"), assignee=None)
    TicketEvent.objects.update(processed_at=timezone.now())
    Notification.objects.all().delete()
    events = [TicketEvent.objects.create(ticket=assigned, kind=TicketEvent.Kind.SLA_BREACHED).pk,
              TicketEvent.objects.create(ticket=unassigned, kind=TicketEvent.Kind.SLA_WARNING).pk]
    process_events(events, handlers=[run_triggers])
    texts = {n.user.username: n.params for n in Notification.objects.select_related("user")}
    assert set(texts) == {assigned.assignee.username} | set(
        Group.objects.get(pk=unassigned.group_id).members.values_list("username", flat=True))
    assert f"SLA breached: ticket #{assigned.number}" in str(texts[assigned.assignee.username])


def test_the_demo_shows_an_urgent_ticket_escalating_at_any_hour(db, time_machine):
    """Urgent tickets count around the clock: one nobody answers goes from L1 to L2 after 10 minutes,
    even on a Sunday night, when the beat job runs."""
    from escalation.tasks import check_deadlines
    from helpdesk.models import User
    from tickets import services
    from tickets.models import TicketEvent

    time_machine.move_to("2026-11-29 22:00 +00:00", tick=False)  # Sunday, 23:00 in Berlin
    call_command("seed_demo")
    ivan = User.objects.get(email="ivan@example.net")
    ticket = services.create_ticket(requester=ivan, subject="Site down", body="Nothing loads.", priority="urgent")
    ticket.refresh_from_db()
    assert ticket.tier.level == 1 and ticket.first_response_due_at.isoformat() == "2026-11-29T22:30:00+00:00"
    time_machine.move_to("2026-11-29 22:09 +00:00", tick=False)
    check_deadlines()
    ticket.refresh_from_db()
    assert ticket.tier.level == 1
    time_machine.move_to("2026-11-29 22:11 +00:00", tick=False)
    check_deadlines()
    ticket.refresh_from_db()
    assert ticket.tier.level == 2 and ticket.group.name == "Tech L2"
    [escalated] = TicketEvent.objects.filter(ticket=ticket, kind="escalated")
    assert "without an answer" in escalated.data["reason"]


def test_the_demo_knowledge_base_answers_the_portal_search(db):
    """Issue 16: the demo publishes articles in four languages; the portal's search finds them."""
    from knowledgebase import selectors
    from knowledgebase.models import Article, ArticleTranslation

    call_command("seed_demo")
    counts = (Article.objects.count(), ArticleTranslation.objects.count())
    call_command("seed_demo")
    assert (Article.objects.count(), ArticleTranslation.objects.count()) == counts and counts[1] >= 32
    olga = User.objects.get(email="olga@acme.example")
    for language, query in (("en", "printer"), ("ru", "принтер"), ("it", "stampante"), ("el", "εκτυπωτής")):
        hits = selectors.search_articles(viewer=olga, query=query, language=language).hits
        assert hits and all(hit.language == language for hit in hits), language
    shown = {hit.article_id for hit in selectors.search_articles(viewer=olga, query="refund", limit=50).hits}
    assert not Article.objects.filter(pk__in=shown).exclude(status=Article.Status.PUBLISHED).exists()
    assert selectors.search_articles(viewer=User.objects.get(username="anna"), query="billing console").total
    assert User.objects.get(username="anna").can_edit_kb


def test_seed_demo_has_chat_routes_capacity_and_one_ended_chat(db):
    from channels_inbox.models import ChatAgentPresence, ChatRoute, ChatSession
    from helpdesk.models import AgentProfile

    call_command("seed_demo")
    call_command("seed_demo")
    routes = list(ChatRoute.objects.order_by("position").values_list("url_prefix", "language", "group__name"))
    assert routes == [("/pricing", "", "Billing L1"), ("", "ru", "Support L1")]
    assert AgentProfile.objects.get(user__username="anna").max_concurrent_chats == 4
    chat = ChatSession.objects.select_related("ticket", "agent").get()
    assert chat.status == "ended" and chat.agent.username == "anna" and chat.rating == 5
    assert chat.ticket.channel == "chat" and chat.ticket.status == "solved" and chat.ticket.first_response_at
    assert chat.entries.filter(kind="message").count() == 5
    assert not ChatAgentPresence.objects.filter(sockets__gt=0).exists()  # nobody left "connected"
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()
