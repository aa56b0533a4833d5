"""The trigger engine end to end through the outbox (Celery eager in these
tests; tests/escalation/test_worker.py uses real worker processes)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from escalation.actions import system_actor
from escalation.engine import MAX_CHAIN_DEPTH
from escalation.models import TriggerFiring
from helpdesk.models import AgentProfile, Group
from tests.factories import AgentFactory, TicketTypeFactory
from tests.sql import reads_from, statements
from tickets import services
from tickets.models import AgentLoad, Notification, Tag, Ticket, TicketEvent
from tickets.tasks import process_events


def create(customer, **kw):
    kw.setdefault("subject", "Card charged twice")
    kw.setdefault("body", "Please refund")
    ticket = services.create_ticket(requester=customer, **kw)
    for _ in range(10):  # the trigger's own changes are events too
        if not process_events():
            break
    ticket.refresh_from_db()
    return ticket


def test_payment_tickets_go_to_billing_round_robin_with_explanation(customer, billing, make_trigger):
    payment = TicketTypeFactory(name="payment")
    trigger = make_trigger(name="Payments → Billing L1", all=[{"field": "type", "operator": "is", "value": "payment"}],
                           actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}])
    tickets = [create(customer, type=payment) for _ in range(10)]
    counts = {a.pk: sum(t.assignee_id == a.pk for t in tickets) for a in billing.agents}
    assert list(counts.values()) == [2] * 5
    first = tickets[0]
    assert first.group == billing and first.tier.level == 1
    firing = TriggerFiring.objects.get(ticket=first)
    assert firing.trigger == trigger and firing.errors == []
    assert firing.matched == [{"field": "type", "operator": "is", "value": "payment"}]
    assert "round_robin" in firing.actions_done[0]
    event = first.events.get(kind=TicketEvent.Kind.ASSIGNEE)
    assert event.data["trigger_name"] == "Payments → Billing L1" and event.cause.kind == "ticket_created"
    assert event.actor.username == "system"


def test_explanation_on_the_ticket_page(client, customer, billing, make_trigger, admin_user):
    payment = TicketTypeFactory(name="payment")
    make_trigger(name="Payments → Billing L1", all=[{"field": "type", "operator": "is", "value": "payment"}],
                 actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}])
    ticket = create(customer, type=payment)
    client.force_login(admin_user)
    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert f"Automation assigned the ticket to {ticket.assignee.display_name}" in html
    assert "by trigger “Payments → Billing L1” (round robin)" in html
    assert '<dd class="col-6" data-testid="tier-group">L1 · Billing L1</dd>' in html  # where it sits now
    assert "opened the ticket via Portal" in html  # the channel's name, not its code
    # In the reader's language, the triggers' account and the channel too.
    admin_user.language = "ru"
    admin_user.save()
    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert f"Автоматизация назначил(а) заявку: {ticket.assignee.display_name}" in html
    assert "создал(а) заявку через Портал" in html


def test_non_matching_trigger_does_nothing(customer, billing, make_trigger):
    make_trigger(all=[{"field": "priority", "operator": "is", "value": "urgent"}],
                 actions=[{"type": "set_tier", "value": "L2"}])
    ticket = create(customer)
    assert ticket.tier.level == 1 and not TriggerFiring.objects.exists()


def test_every_action(customer, billing, make_trigger, tiers, mailoutbox, django_capture_on_commit_callbacks):
    lead = billing.agents[0]
    billing.lead = lead
    billing.save()
    make_trigger(name="everything", actions=[
        {"type": "set_priority", "value": "urgent"},
        {"type": "set_type", "value": TicketTypeFactory(name="repair").name},
        {"type": "add_tags", "tags": ["vip", "auto"]},
        {"type": "remove_tags", "tags": ["auto"]},
        {"type": "set_group", "value": "Billing L1"},
        {"type": "assign", "agent": billing.agents[2].username},
        {"type": "add_note", "body": "Routed #{ticket_number} automatically"},
        {"type": "notify", "to": "lead", "message": "Urgent: {ticket_subject}", "email": True},
        {"type": "reply", "body": "Hello {requester_name}, we got ticket #{ticket_number}."},
        {"type": "set_status", "value": "pending"},
    ])
    with django_capture_on_commit_callbacks(execute=True):  # the requester's mail leaves after commit
        ticket = create(customer)
    assert ticket.priority == "urgent" and ticket.type.name == "repair"
    assert list(ticket.tags.values_list("name", flat=True)) == ["vip"]
    assert ticket.group == billing and ticket.assignee == billing.agents[2] and ticket.status == "pending"
    note, reply = ticket.messages.order_by("id")[1:3]
    assert note.internal and note.body == f"Routed #{ticket.number} automatically"
    assert not reply.internal and reply.body.startswith(f"Hello {customer.display_name}")
    assert Notification.objects.get(user=lead).text == "Urgent: Card charged twice"
    assert [m.to for m in mailoutbox] == [[lead.email], [customer.email]]  # lead notified; requester gets the reply
    assert TriggerFiring.objects.get().errors == []


def test_escalate_to_tier(customer, billing, make_trigger, tiers):
    l2 = Group.objects.create(name="Tech L2", tier=tiers[2])
    make_trigger(all=[{"field": "subject", "operator": "contains", "value": "outage"}],
                 actions=[{"type": "escalate", "tier": "L2"}])
    ticket = create(customer, subject="Total outage")
    assert ticket.tier == tiers[2] and ticket.group == l2 and ticket.assignee is None


def test_order_and_stop_processing(customer, billing, make_trigger):
    make_trigger(name="second", position=2, actions=[{"type": "add_tags", "tags": ["second"]}])
    make_trigger(name="first", position=1, stop=True, all=[{"field": "subject", "operator": "contains", "value": "stop"}],
                 actions=[{"type": "add_tags", "tags": ["first"]}])
    stopped = create(customer, subject="please stop")
    assert list(stopped.tags.values_list("name", flat=True)) == ["first"]
    both = create(customer, subject="carry on")
    assert list(both.tags.values_list("name", flat=True)) == ["second"]


def test_later_triggers_see_earlier_changes(customer, billing, make_trigger):
    make_trigger(name="a", position=1, actions=[{"type": "set_priority", "value": "urgent"}])
    make_trigger(name="b", position=2, all=[{"field": "priority", "operator": "is", "value": "urgent"}],
                 actions=[{"type": "add_tags", "tags": ["hot"]}])
    assert list(create(customer).tags.values_list("name", flat=True)) == ["hot"]


def test_loop_guard_stops_flip_flopping_triggers(customer, billing, make_trigger):
    make_trigger(name="up", events=["ticket_created", "ticket_updated"],
                 all=[{"field": "priority", "operator": "is_not", "value": "high"}],
                 actions=[{"type": "set_priority", "value": "high"}])
    make_trigger(name="down", events=["ticket_updated"], all=[{"field": "priority", "operator": "is", "value": "high"}],
                 actions=[{"type": "set_priority", "value": "low"}])
    ticket = create(customer)
    for _ in range(10):
        if not process_events():
            break
    assert process_events() == 0  # the chain ended by itself
    ticket.refresh_from_db()
    fired = list(TriggerFiring.objects.filter(ticket=ticket).values_list("trigger__name", flat=True))
    assert sorted(fired) == ["down", "up"]  # each once in the chain
    assert ticket.priority == "low"


def test_chain_depth_cap(customer, billing, make_trigger, caplog):
    ticket = create(customer)
    event = ticket.events.first()
    deep = TicketEvent.objects.create(ticket=ticket, kind="ticket_updated", chain_depth=MAX_CHAIN_DEPTH,
                                      cause=event, data={"batch": "x", "chain": "x"})
    make_trigger(events=["ticket_updated"], actions=[{"type": "add_tags", "tags": ["never"]}])
    process_events([deep.id])
    assert "chain stopped" in caplog.text
    assert not ticket.tags.filter(name="never").exists()


def test_one_update_is_one_evaluation(customer, agent, billing, make_trigger):
    ticket = create(customer)
    make_trigger(events=["ticket_updated"], actions=[{"type": "add_note", "body": "updated"}])
    services.update_ticket(ticket=ticket, actor=agent, priority="high", tags=["a", "b"], status="pending")
    process_events()
    process_events()
    assert ticket.messages.filter(internal=True, body="updated").count() == 1


def test_message_added_conditions(customer, agent, billing, make_trigger):
    ticket = create(customer)
    make_trigger(events=["message_added"], all=[
        {"field": "message_author_role", "operator": "is", "value": "customer"},
        {"field": "message_internal", "operator": "is", "value": False},
        {"field": "body", "operator": "contains", "value": "angry"}],
        actions=[{"type": "set_priority", "value": "high"}])
    services.add_message(ticket=ticket, author=agent, body="angry note", internal=True)
    process_events()
    ticket.refresh_from_db()
    assert ticket.priority == "normal"
    services.add_message(ticket=ticket, author=customer, body="I am angry")
    process_events()
    ticket.refresh_from_db()
    assert ticket.priority == "high"


def test_a_low_rating_fires_a_rated_trigger(customer, make_trigger):
    make_trigger(events=["rated"], all=[{"field": "rating", "operator": "lt", "value": 3}],
                 actions=[{"type": "add_tags", "tags": ["low-rating"]}, {"type": "set_priority", "value": "high"}])
    happy, unhappy = create(customer), create(customer)
    services.record_rating(ticket=happy, actor=customer, score=5, comment="Great", source="chat")
    services.record_rating(ticket=unhappy, actor=customer, score=2, comment="Slow", source="chat")
    services.add_message(ticket=happy, author=customer, body="One more thing")  # no rating on this event
    process_events()
    assert list(unhappy.tags.values_list("name", flat=True)) == ["low-rating"]
    assert not happy.tags.exists()
    unhappy.refresh_from_db()
    assert unhappy.priority == "high"


def test_failing_action_does_not_block_the_others(customer, billing, make_trigger):
    trigger = make_trigger(actions=[{"type": "set_status", "value": "closed"},  # new → closed is refused
                                    {"type": "add_tags", "tags": ["still"]}])
    ticket = create(customer)
    assert list(ticket.tags.values_list("name", flat=True)) == ["still"]
    firing = TriggerFiring.objects.get(trigger=trigger)
    assert firing.errors and "set_status" in firing.errors[0]


def test_a_routed_ticket_takes_no_savepoint(customer, billing, make_trigger):
    """A pass runs without savepoints (two statements each, one per action
    and per round), and only runs again with them when something failed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_trigger(actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"},
                          {"type": "add_tags", "tags": ["routed"]}, {"type": "set_priority", "value": "high"}])
    make_trigger(name="on update", position=1, events=("ticket_updated",),
                 all=[{"field": "priority", "operator": "changed"}], actions=[{"type": "add_tags", "tags": ["seen"]}])
    # What a desk has after its first day (each first time takes get_or_create's savepoint).
    system_actor()
    Tag.objects.bulk_create([Tag(name="routed"), Tag(name="seen")])
    AgentLoad.objects.bulk_create([AgentLoad(agent=a, open_tickets=0) for a in billing.agents])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    with CaptureQueriesContext(connection) as q:
        assert process_events() == len(ticket.events.all())
    savepoints = [s["sql"] for s in q.captured_queries if s["sql"].startswith("SAVEPOINT")]
    # One: the pass's own transaction, a savepoint inside the test's.
    assert len(savepoints) == 1, savepoints
    assert set(ticket.tags.values_list("name", flat=True)) == {"routed", "seen"}
    # A round's events go in one INSERT: the five of the first round's three
    # actions (group, assignee, status, tag, priority), then the second round's tag.
    inserts = [sql for sql in statements(q.captured_queries) if sql.startswith("INSERT INTO tickets_ticketevent")]
    assert len(inserts) == 2 and ticket.events.count() == 1 + 5 + 1, inserts
    # The ticket's row is written by the assignment and the priority; the tag
    # changes would only move updated_at, which this transaction moved already.
    updates = [sql for sql in statements(q.captured_queries) if sql.startswith("UPDATE tickets_ticket ")]
    assert len(updates) == 2, updates


def test_a_tag_change_after_a_failed_update_still_moves_updated_at(customer, make_trigger, monkeypatch):
    """The failed action's row update went with its savepoint: the tag change
    after it must write updated_at itself."""
    original = services._save_events

    def fail_on_priority(events):
        if any(e.kind == "priority_changed" for e in events):
            raise RuntimeError("after the row was written")
        original(events)

    monkeypatch.setattr(services, "_save_events", fail_on_priority)
    make_trigger(actions=[{"type": "set_priority", "value": "high"}, {"type": "add_tags", "tags": ["after"]}])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    created = Ticket.objects.get(pk=ticket.pk).updated_at
    process_events()
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and ticket.tags.filter(name="after").exists()
    assert ticket.updated_at > created


def test_a_tag_change_alone_moves_updated_at(customer, make_trigger):
    make_trigger(actions=[{"type": "add_tags", "tags": ["first"]}])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    created = Ticket.objects.get(pk=ticket.pk).updated_at
    process_events()
    ticket.refresh_from_db()
    assert list(ticket.tags.values_list("name", flat=True)) == ["first"] and ticket.updated_at > created


def test_a_failure_runs_the_pass_again_and_nothing_twice(customer, billing, make_trigger, monkeypatch, settings,
                                                        django_capture_on_commit_callbacks):
    """The first run (no savepoints) is rolled back whole when an action
    fails: the careful run does each thing once. The round-robin turn moves
    by one, the webhook is queued once, the notification and events written
    once, and the actions after the failing one are done."""
    settings.WEBHOOK_ALLOWED_NETWORKS, settings.WEBHOOK_ALLOWED_PORTS = ["127.0.0.1/32"], [9]
    make_trigger(actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"},
                          {"type": "notify", "to": "assignee"},
                          {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
                          {"type": "set_status", "value": "closed"},  # open → closed is refused
                          {"type": "add_tags", "tags": ["after"]}])
    from tickets.models import OutgoingDelivery

    with django_capture_on_commit_callbacks(execute=True):
        first = create(customer)
    assert OutgoingDelivery.objects.filter(kind="webhook", ticket_id=first.pk).count() == 1
    firing = TriggerFiring.objects.get(ticket=first)
    assert len(firing.actions_done) == 4
    # (port 9 answers nobody: the webhook's own failure is recorded too, once)
    [refused] = [e for e in firing.errors if not e.startswith("webhook")]
    assert "set_status" in refused and len(firing.errors) == 2
    assert Notification.objects.filter(ticket=first).count() == 1
    assert first.events.filter(kind=TicketEvent.Kind.ASSIGNEE).count() == 1
    assert first.tags.filter(name="after").exists() and first.status == "open"
    second = create(customer)
    assert first.assignee == billing.agents[0] and second.assignee == billing.agents[1]  # one turn each


def test_an_action_failing_after_writing_its_events_leaves_no_trace_of_them(customer, billing, make_trigger,
                                                                             monkeypatch):
    """The events a failed action wrote are rolled back with its savepoint:
    the next round must not evaluate them (a firing would then point at an
    event that does not exist, and the pass would fail at commit, again and
    again)."""
    calls = []
    original = services._save_events

    def save_then_fail(events):
        original(events)
        if any(e.kind == "priority_changed" for e in events):
            calls.append(events)
            raise RuntimeError("after the events were written")

    monkeypatch.setattr(services, "_save_events", save_then_fail)
    failing = make_trigger(name="fails late", position=1, actions=[{"type": "set_priority", "value": "high"}])
    on_update = make_trigger(name="on update", position=2, events=("ticket_updated",),
                             all=[{"field": "priority", "operator": "changed"}],
                             actions=[{"type": "add_tags", "tags": ["changed"]}])
    ticket = create(customer)
    # Twice: the pass without savepoints, rolled back whole, then the careful one.
    assert len(calls) == 2 and ticket.priority == "normal"
    assert not ticket.events.filter(kind="priority_changed").exists()
    assert TriggerFiring.objects.get(trigger=failing).errors == ["set_priority: after the events were written"]
    assert not TriggerFiring.objects.filter(trigger=on_update).exists()  # nothing changed: nothing to react to
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()


def test_hostile_regex_is_logged_not_stalling(customer, billing, make_trigger):
    make_trigger(all=[{"field": "body", "operator": "matches_regex", "value": r"(a+)+$b"}],
                 actions=[{"type": "add_tags", "tags": ["x"]}])
    ticket = create(customer, body="a" * 5000)
    firing = TriggerFiring.objects.get(ticket=ticket)
    assert "timed out" in firing.errors[0] and not ticket.tags.exists()


def test_least_loaded_respects_capacity_and_presence(customer, billing, make_trigger):
    a, b, c, d, e = billing.agents
    AgentProfile.objects.filter(user__in=[a, b, c]).update(max_open_tickets=2)
    AgentProfile.objects.filter(user__in=[d]).update(presence="offline")
    AgentProfile.objects.filter(user__in=[e]).update(presence="away")
    make_trigger(actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "least_loaded"}])
    tickets = [create(customer) for _ in range(8)]
    loads = [sum(t.assignee_id == x.pk for t in tickets) for x in (a, b, c, d, e)]
    assert loads == [2, 2, 2, 0, 0]
    assert [t.assignee for t in tickets[6:]] == [None, None]  # everyone full: queued in the group
    assert all(t.group == billing for t in tickets)


def test_skills_strategy_and_fallback(customer, billing, make_trigger):
    a, b, *_ = billing.agents
    AgentProfile.objects.filter(user=b).update(skills=["ru", "printers"])
    make_trigger(actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "skills", "fallback": "lead"}])
    customer.language = "ru"
    customer.save()
    ticket = create(customer, tags=["printers"], language="ru")
    assert ticket.assignee == b
    AgentProfile.objects.filter(user=b).update(presence="offline")
    billing.lead = a
    billing.save()
    customer.language = "el"
    customer.save()
    other = create(customer, tags=["scanners"], language="el")
    assert other.assignee == a  # nobody has the skills: the lead


def test_type_defaults_route_new_tickets(customer, billing, tiers):
    payment = TicketTypeFactory(name="payment", default_group=billing)
    ticket = create(customer, type=payment)
    assert ticket.group == billing and ticket.tier == tiers[1]
    escalated = TicketTypeFactory(name="security", default_tier=tiers[3])
    assert create(customer, type=escalated).tier == tiers[3]
    assert create(customer).tier == tiers[1]  # L1 by default


class Hook(BaseHTTPRequestHandler):
    received: list[object] = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Hook.fail_first:
            Hook.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        Hook.received.append((self.headers["X-Helpdesk-Signature"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    Hook.received, Hook.fail_first = [], 0
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_webhook_is_signed(customer, billing, make_trigger, hook_server, settings,
                           django_capture_on_commit_callbacks):
    import hashlib
    import hmac

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # loopback is refused unless allowed
    settings.WEBHOOK_ALLOWED_PORTS = [int(hook_server.rsplit(":", 1)[1].split("/")[0])]
    make_trigger(actions=[{"type": "webhook", "url": hook_server, "secret": "s3cret"},
                          {"type": "add_tags", "tags": ["after-webhook"]}])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(requester=customer, subject="Hook me", body="b")
        process_events()
    [(signature, body)] = Hook.received
    timestamp = signature.split(",")[0].removeprefix("t=")
    assert signature == f"t={timestamp},v1=" + hmac.new(b"s3cret", f"{timestamp}.".encode() + body,
                                                        hashlib.sha256).hexdigest()
    assert json.loads(body)["ticket"]["number"] == ticket.number
    assert ticket.tags.filter(name="after-webhook").exists()


def test_webhook_retries_with_backoff(hook_server, settings):
    from escalation.tasks import WebhookFailed, deliver_webhook, post_webhook

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_ALLOWED_PORTS = [int(hook_server.rsplit(":", 1)[1].split("/")[0]), 9]
    Hook.fail_first = 1
    first = post_webhook(hook_server, "k", {"x": 1})
    assert (first.status_code, first.error, first.retryable) == (503, "HTTP 503", True)  # the task retries on it
    assert post_webhook(hook_server, "k", {"x": 1}).status_code == 204
    assert len(Hook.received) == 1
    assert deliver_webhook.autoretry_for == (WebhookFailed,)
    assert deliver_webhook.retry_backoff == 2 and deliver_webhook.max_retries == 6
    nobody = post_webhook("http://127.0.0.1:9/nothing-listens", "", {})
    assert nobody.retryable and nobody.status_code is None and "could not connect" in nobody.error


def test_tier_scoping_in_api_and_ui(api, client, customer, tiers, make_ticket):
    l1_agent, l3_agent = AgentFactory(), AgentFactory()
    Group.objects.create(name="Support L1", tier=tiers[1]).members.add(l1_agent)
    Group.objects.create(name="Engineering L3", tier=tiers[3]).members.add(l3_agent)
    l3_only = TicketTypeFactory(name="bug", default_tier=tiers[3])
    deep = make_ticket(customer, type=l3_only)
    shallow = make_ticket(customer)
    assert api.as_user(l1_agent).get(f"/api/v1/tickets/{deep.pk}/").status_code == 404
    assert api.as_user(l3_agent).get(f"/api/v1/tickets/{deep.pk}/").status_code == 200
    assert {t["number"] for t in api.as_user(l1_agent).get("/api/v1/tickets/").json()["results"]} == {shallow.number}
    client.force_login(l1_agent)
    assert client.get(reverse("agent:ticket", args=[deep.number])).status_code == 404
    services.assign_ticket(ticket=deep, actor=l3_agent, assignee=l1_agent)
    assert client.get(reverse("agent:ticket", args=[deep.number])).status_code == 200  # assigned to them


def test_system_actor_is_not_assignable(customer, billing, make_trigger):
    from tickets.selectors import assignable_agents

    make_trigger(actions=[{"type": "add_note", "body": "hi"}])
    create(customer)
    assert not assignable_agents().filter(username="system").exists()
    assert Ticket.objects.count() == 1


def test_kept_triggers_follow_every_change(customer, billing, make_trigger):
    """The engine keeps the triggers between passes; an edit, a deactivation,
    a new trigger and a delete are each seen by the very next ticket."""
    tag = make_trigger(name="tag", actions=[{"type": "add_tags", "tags": ["one"]}])
    assert set(create(customer).tags.values_list("name", flat=True)) == {"one"}
    tag.actions = [{"type": "add_tags", "tags": ["two"]}]
    tag.save()
    assert set(create(customer).tags.values_list("name", flat=True)) == {"two"}
    tag.active = False
    tag.save()
    assert not create(customer).tags.exists()
    other = make_trigger(name="other", actions=[{"type": "add_tags", "tags": ["three"]}])
    assert set(create(customer).tags.values_list("name", flat=True)) == {"three"}
    other.delete()
    assert not create(customer).tags.exists()


def test_hostile_regex_times_out_once_per_chain(customer, billing, make_trigger, caplog):
    """The timed-out trigger counts as fired for the chain: the updates another
    trigger makes in the same pass do not run it (and time out) again."""
    make_trigger(name="hostile", position=1, events=["ticket_created", "ticket_updated"],
                 all=[{"field": "body", "operator": "matches_regex", "value": r"(a+)+$b"}],
                 actions=[{"type": "add_tags", "tags": ["x"]}])
    make_trigger(name="router", position=2, actions=[{"type": "set_priority", "value": "high"}])
    ticket = create(customer, body="a" * 5000)
    assert ticket.priority == "high"  # the router's update was evaluated in the same pass
    firings = list(TriggerFiring.objects.filter(ticket=ticket).values_list("trigger__name", flat=True))
    assert sorted(firings) == ["hostile", "router"]
    assert "event handler" not in caplog.text  # no handler failed (e.g. on a duplicate firing)


def _ticket_reads(queries):
    """Reads of the ticket row (not the count of an agent's first load)."""
    return [sql for sql in reads_from(queries, "tickets_ticket") if "COUNT(" not in sql]


def test_a_pass_reads_the_ticket_and_its_tags_once(customer, billing, make_trigger):
    """The claim reads the ticket under the lock the pass holds; the engine
    and the services its actions call work on that row and the copies they
    return, and the tags its own actions set are known without a read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    payment = TicketTypeFactory(name="payment")
    make_trigger(name="route", position=1, all=[{"field": "type", "operator": "is", "value": "payment"}],
                 actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"},
                          {"type": "add_tags", "tags": ["billing"]}, {"type": "set_priority", "value": "high"}])
    make_trigger(name="sees the tag", position=2, all=[{"field": "tags", "operator": "contains", "value": "billing"}],
                 actions=[{"type": "add_tags", "tags": ["seen"]}])
    make_trigger(name="on updates", events=("ticket_updated",),
                 all=[{"field": "tags", "operator": "contains", "value": "nothing-has-this"}],
                 actions=[{"type": "add_tags", "tags": ["never"]}])
    ticket = services.create_ticket(requester=customer, subject="Card charged twice", body="Refund", type=payment)
    with CaptureQueriesContext(connection) as q:
        process_events()
    ticket.refresh_from_db()
    assert ticket.assignee in billing.agents and ticket.priority == "high"
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing", "seen"]
    assert len(_ticket_reads(q.captured_queries)) == 1, _ticket_reads(q.captured_queries)
    tag_reads = [s for s in statements(q.captured_queries)
                 if s.startswith("SELECT") and "JOIN tickets_ticket_tags" in s.replace('"', "")]
    # The conditions read them once, as the ticket's prefetched tags, which the
    # first add_tags service reuses; the second one (on the first's copy) reads them.
    assert len(tag_reads) == 1 + 1, tag_reads



def test_the_kept_system_account_follows_its_row(customer, billing, make_trigger):
    """The system account is kept per process, checked each pass against its
    id: deleted (or recreated), the next pass uses the account that exists."""
    from django.contrib.auth import get_user_model

    make_trigger(actions=[{"type": "set_priority", "value": "high"}])
    first = create(customer)
    old = first.events.get(kind=TicketEvent.Kind.PRIORITY).actor
    get_user_model().objects.filter(pk=old.pk).delete()
    second = create(customer)
    actor = second.events.get(kind=TicketEvent.Kind.PRIORITY).actor
    assert actor.username == "system" and actor.pk != old.pk


def test_tags_known_after_an_action_are_the_stored_names(customer, billing, make_trigger):
    """A trigger saved before its tags were cleaned (or edited in the database)
    still leaves the next trigger seeing the tag as stored."""
    from escalation.models import Trigger

    first = make_trigger(name="tagger", position=1, all=[{"field": "tags", "operator": "is_not_set"}],
                         actions=[{"type": "add_tags", "tags": ["vip"]}])  # the tags are read, then known
    Trigger.objects.filter(pk=first.pk).update(actions=[{"type": "add_tags", "tags": ["  VIP "]}])
    make_trigger(name="sees it", position=2, all=[{"field": "tags", "operator": "contains", "value": "vip"}],
                 actions=[{"type": "set_priority", "value": "high"}])
    ticket = create(customer)
    assert list(ticket.tags.values_list("name", flat=True)) == ["vip"] and ticket.priority == "high"


def test_a_requests_update_is_evaluated_without_reading_events_back(customer, agent, billing, make_trigger):
    """An agent's update (three events, one batch) is one evaluation, and the
    pass reads no event rows beyond its claim: a batch is written in one
    transaction and claimed whole, so nothing needs checking."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    trigger = make_trigger(name="on update", events=("ticket_updated",),
                           all=[{"field": "priority", "operator": "changed_to", "value": "urgent"}],
                           actions=[{"type": "add_tags", "tags": ["hot"]}])
    ticket = create(customer)
    services.update_ticket(ticket=ticket, actor=agent, priority="urgent", assignee=agent)
    with CaptureQueriesContext(connection) as q:
        process_events()
    reads = [x["sql"] for x in q.captured_queries if x["sql"].startswith("SELECT")
             and "tickets_ticketevent" in x["sql"].split(" WHERE")[0]
             and "processed_at IS NULL" not in x["sql"]]  # the outbox's own
    assert reads == []
    assert TriggerFiring.objects.filter(trigger=trigger).count() == 1
    assert list(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == ["hot"]


def test_firings_carry_only_the_indexes_their_queries_use(db, billing, make_trigger):
    """Each index costs every firing's insert (one or more per routed ticket).
    The trigger's lookups go through the two indexes that lead with it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'escalation_triggerfiring'")
        columns = sorted(d.split("(", 1)[1].rstrip(")") for (d,) in cursor.fetchall())
    assert columns == ["event_id", "id", "ticket_id", "trigger_id, created_at", "trigger_id, ticket_id, chain"]
    trigger = make_trigger(actions=[{"type": "add_tags", "tags": ["x"]}])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT id FROM escalation_triggerfiring WHERE trigger_id = %s", [trigger.pk])
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "firing_trigger_created" in plan or "trigger_once_per_chain" in plan
