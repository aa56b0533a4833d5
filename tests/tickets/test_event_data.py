"""TicketEvent.data as tickets.events declares it: every key a service writes
has a name and a place in its kind's TypedDict, and the required ones are there."""

from tickets import events, services
from tickets.models import TicketEvent

Kind = TicketEvent.Kind
SHAPES = {
    Kind.CREATED: events.CreatedData,
    Kind.MESSAGE: events.MessageData,
    Kind.FOLLOW_UP: events.FollowUpData,
    Kind.DELIVERY_FAILED: events.DeliveryFailedData,
    Kind.MERGED_INTO: events.MergedIntoData,
    Kind.MERGED_FROM: events.MergedFromData,
}


def _check(event):
    shape = SHAPES.get(event.kind, events.EventData)
    allowed = shape.__required_keys__ | shape.__optional_keys__
    assert set(event.data) <= allowed, (event.kind, set(event.data) - allowed)
    assert shape.__required_keys__ - events.EventData.__optional_keys__ <= set(event.data), event.kind
    assert {events.BATCH, events.CHAIN} <= set(event.data)


def test_the_services_write_the_declared_keys(customer, agent):
    source = services.create_ticket(requester=customer, subject="s", body="b", actor=agent)
    first_message = source.messages.get()
    services.add_message(ticket=source, author=agent, body="reply", internal=False)
    services.update_ticket(ticket=source, actor=agent, priority="high", tags=["x"])
    services.record_delivery_failure(ticket_id=source.pk, to=["c@example.com"], reason="550", message_id=None)
    target = services.create_ticket(requester=customer, subject="t", body="b")
    services.merge_tickets(source=source, target=target, agent=agent)
    written = list(TicketEvent.objects.order_by("id"))
    assert {e.kind for e in written} >= set(SHAPES) - {Kind.FOLLOW_UP}
    for event in written:
        _check(event)
    created = written[0]
    assert created.data[events.SUBMITTED_BY] == agent.pk  # filed on the requester's behalf
    assert created.data[events.MESSAGE_ID] == first_message.pk


def test_a_follow_up_names_the_ticket_both_ways(customer):
    first = services.create_ticket(requester=customer, subject="s", body="b")
    follow_up = services.create_ticket(requester=customer, subject="again", body="b", follow_up_of=first)
    note = first.events.get(kind=Kind.FOLLOW_UP)
    _check(note)
    assert note.data[events.FOLLOW_UP] == follow_up.number
    assert follow_up.events.get(kind=Kind.CREATED).data[events.FOLLOW_UP_OF] == first.number
