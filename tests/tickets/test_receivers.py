"""Outbox subscriptions (tickets.receivers): each app subscribes its handlers
in its ready(); the outbox calls them by order, each with the kinds it asked
for, and names none of them."""

import re
from pathlib import Path

import pytest
from django.apps import apps

from tickets import receivers, services
from tickets.models import TicketEvent
from tickets.tasks import process_events

CALLS: list[tuple[str, list[str]]] = []


def first(events):
    CALLS.append(("first", [e.kind for e in events]))


def second(events):
    CALLS.append(("second", [e.kind for e in events]))


def third(events):
    CALLS.append(("third", [e.kind for e in events]))


def messages_only(events):
    CALLS.append(("messages", [e.id for e in events]))


def everything(events):
    CALLS.append(("everything", [e.id for e in events]))


def reader(events):
    CALLS.append(("reader", [e.kind for e in events]))


def writer(events):
    """Changes the ticket in its first round: a second round follows."""
    CALLS.append(("writer", [e.kind for e in events]))
    if len([c for c in CALLS if c[0] == "writer"]) == 1:
        from django.contrib.auth import get_user_model

        actor = get_user_model().objects.get(username="receivers-bot")
        services.update_ticket(ticket=events[0].ticket, actor=actor, priority="high")


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def test_the_apps_subscribe_their_handlers_in_order():
    from channels_inbox.chat.services import relay_ticket_messages
    from channels_inbox.realtime import broadcast_ticket_event
    from escalation.engine import run_triggers
    from tickets.notifications import notify_requester

    subscribed = receivers.subscriptions()
    assert [s.handler for s in subscribed] == [run_triggers, notify_requester, relay_ticket_messages,
                                               broadcast_ticket_event]
    assert [s.writes for s in subscribed] == [True, False, False, False]
    assert subscribed[1].kinds == subscribed[2].kinds == {TicketEvent.Kind.MESSAGE}
    assert subscribed[0].kinds is None and subscribed[3].kinds is None


def test_handlers_run_by_order_not_by_subscription(ticket):
    with receivers.override():
        receivers.subscribe(third, order=30)
        receivers.subscribe(first, order=10)
        receivers.subscribe(second, order=20)
        assert process_events() == 1
    assert [name for name, _kinds in CALLS] == ["first", "second", "third"]


def test_equal_orders_keep_the_order_of_subscription(ticket):
    with receivers.override():
        receivers.subscribe(second)
        receivers.subscribe(first)
        process_events()
    assert [name for name, _kinds in CALLS] == ["second", "first"]


def test_a_handler_gets_only_the_kinds_it_subscribed_to_in_id_order(ticket, agent):
    services.add_message(ticket=ticket, author=agent, body="one", internal=False)
    services.update_ticket(ticket=ticket, actor=agent, priority="high")
    services.add_message(ticket=ticket, author=agent, body="two", internal=True)
    events = list(ticket.events.order_by("id").values_list("id", "kind"))
    with receivers.override():
        receivers.subscribe(messages_only, kinds={TicketEvent.Kind.MESSAGE})
        receivers.subscribe(everything)
        assert process_events() == len(events)
    assert CALLS == [
        ("messages", [i for i, kind in events if kind == TicketEvent.Kind.MESSAGE]),
        ("everything", [i for i, _kind in events]),
    ]
    assert len(CALLS[0][1]) == 2


def test_a_handler_is_not_called_without_events_of_its_kinds(ticket):
    with receivers.override():
        receivers.subscribe(messages_only, kinds={TicketEvent.Kind.MESSAGE})
        receivers.subscribe(everything)
        assert process_events() == 1
    assert [name for name, _ids in CALLS] == ["everything"]


def test_a_reader_runs_once_after_the_rounds_with_every_event(ticket):
    from tests.factories import AgentFactory

    AgentFactory(username="receivers-bot")
    with receivers.override():
        receivers.subscribe(reader, order=0, writes=False)  # a lower order, but it does not write
        receivers.subscribe(writer, order=10)
        assert process_events() == 2
    assert CALLS == [
        ("writer", ["ticket_created"]),
        ("writer", ["priority_changed"]),
        ("reader", ["ticket_created", "priority_changed"]),
    ]


def test_the_decorator_form_and_unsubscribe(ticket):
    with receivers.override():
        decorated = receivers.subscribe(order=5)(first)
        assert decorated is first
        receivers.subscribe(second, order=1)
        receivers.unsubscribe(second)
        receivers.unsubscribe(third)  # never subscribed: nothing happens
        assert [s.handler for s in receivers.subscriptions()] == [first]
        process_events()
    assert [name for name, _kinds in CALLS] == ["first"]


def test_override_swaps_the_subscriptions_and_gives_them_back(event_handlers):
    before = receivers.subscriptions()
    with receivers.override(second, first) as swapped:
        assert [s.handler for s in swapped] == [second, first]
        assert [s.handler for s in receivers.subscriptions()] == [second, first]
    assert receivers.subscriptions() == before
    event_handlers(third)
    assert [s.handler for s in receivers.subscriptions()] == [third]


def test_ready_twice_subscribes_once():
    before = receivers.subscriptions()
    for label in ("escalation", "tickets", "channels_inbox"):
        apps.get_app_config(label).ready()
        apps.get_app_config(label).ready()
    assert receivers.subscriptions() == before


def test_subscribing_again_replaces_in_place():
    with receivers.override():
        receivers.subscribe(first, order=1)
        receivers.subscribe(second, order=1)
        receivers.subscribe(first, order=1, kinds={"tag_added"})
        assert [(s.handler, s.kinds) for s in receivers.subscriptions()] == [
            (first, {"tag_added"}), (second, None)]


def test_a_consumer_of_another_app_is_called_though_tickets_never_names_it(ticket, agent):
    """This module is such a consumer: it subscribes, the outbox calls it."""
    with receivers.override():
        receivers.subscribe(everything)
        process_events()
    assert CALLS == [("everything", [ticket.events.get().id])]
    # And no consumer outside tickets is named in tickets' code.
    source = "\n".join(p.read_text() for p in Path(apps.get_app_config("tickets").path).rglob("*.py"))
    for name in ("run_triggers", "broadcast_ticket_event", "escalation.engine"):
        assert not re.search(re.escape(name), source), name
