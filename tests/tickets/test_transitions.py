"""Status rules, reopen rules, numbering and the event log."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tickets import services
from tickets.models import ALLOWED_TRANSITIONS, Status, Ticket, TicketCounter, TicketEvent

Kind = TicketEvent.Kind
ALL = list(Status)
PAIRS = [(a, b) for a in ALL for b in ALL if a != b]


def _put_in(ticket, status, agent):
    """Walk a fresh ticket to `status` through allowed transitions."""
    path = {
        Status.NEW: [], Status.OPEN: [Status.OPEN], Status.PENDING: [Status.PENDING],
        Status.ON_HOLD: [Status.ON_HOLD], Status.SOLVED: [Status.SOLVED],
        Status.CLOSED: [Status.SOLVED, Status.CLOSED],
    }[status]
    for step in path:
        services.change_status(ticket=ticket, actor=agent, status=step)
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused(ticket, agent, old, new):
    ticket = _put_in(ticket, old, agent)
    events_before = ticket.events.count()
    if new in ALLOWED_TRANSITIONS[old]:
        services.change_status(ticket=ticket, actor=agent, status=new)
        ticket.refresh_from_db()
        assert ticket.status == new
        event = ticket.events.filter(kind=Kind.STATUS).last()
        assert (event.old_value, event.new_value, event.actor) == (old, new, agent)
    else:
        with pytest.raises(ValidationError) as exc:
            services.change_status(ticket=ticket, actor=agent, status=new)
        assert "status" in exc.value.message_dict
        ticket.refresh_from_db()
        assert ticket.status == old
        assert ticket.events.count() == events_before


def test_closed_is_final_and_new_is_never_reentered():
    assert ALLOWED_TRANSITIONS[Status.CLOSED] == set()
    assert all(Status.NEW not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert all(Status.CLOSED not in ALLOWED_TRANSITIONS[s] for s in ALL if s != Status.SOLVED)


def test_solved_and_closed_timestamps(ticket, agent):
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket.refresh_from_db()
    assert ticket.solved_at is not None and ticket.closed_at is None
    services.change_status(ticket=ticket, actor=agent, status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.solved_at is None
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    ticket.refresh_from_db()
    assert ticket.closed_at is not None


def test_customer_reply_reopens_solved_ticket(ticket, customer, agent):
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.add_message(ticket=ticket, author=customer, body="It broke again")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.solved_at is None
    assert ticket.events.filter(kind=Kind.REOPENED, actor=customer).count() == 1


@pytest.mark.parametrize("status", [Status.PENDING, Status.ON_HOLD])
def test_customer_reply_on_waiting_ticket_reopens(ticket, customer, agent, status):
    services.change_status(ticket=ticket, actor=agent, status=status)
    services.add_message(ticket=ticket, author=customer, body="Here is the info")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_customer_reply_on_new_ticket_stays_new(ticket, customer):
    services.add_message(ticket=ticket, author=customer, body="One more detail")
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_agent_public_reply_opens_and_sets_first_response(ticket, agent):
    services.add_message(ticket=ticket, author=agent, body="Hello")
    ticket.refresh_from_db()
    first = ticket.first_response_at
    assert ticket.status == Status.OPEN and first is not None
    services.add_message(ticket=ticket, author=agent, body="Again")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first


def test_internal_note_changes_neither_status_nor_first_response(ticket, agent):
    services.add_message(ticket=ticket, author=agent, body="note", internal=True)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.first_response_at is None
    event = ticket.events.get(kind=Kind.MESSAGE)
    assert event.internal is True and event.data["internal"] is True


def test_agent_reply_with_status_in_same_step(ticket, agent):
    services.add_message(ticket=ticket, author=agent, body="Solved it", status=Status.SOLVED)
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED and ticket.solved_at is not None


def test_customers_cannot_write_internal_notes_or_set_other_statuses(ticket, customer):
    with pytest.raises(PermissionDenied):
        services.add_message(ticket=ticket, author=customer, body="x", internal=True)
    with pytest.raises(PermissionDenied):
        services.update_ticket(ticket=ticket, actor=customer, status=Status.PENDING)
    with pytest.raises(PermissionDenied):
        services.update_ticket(ticket=ticket, actor=customer, priority="urgent")
    assert ticket.messages.count() == 1


def test_closed_ticket_refuses_replies(ticket, agent, customer):
    _put_in(ticket, Status.CLOSED, agent)
    for author in (agent, customer):
        with pytest.raises(ValidationError):
            services.add_message(ticket=ticket, author=author, body="hello?")
    assert ticket.messages.count() == 1


def test_receive_message_on_closed_ticket_opens_linked_follow_up(ticket, agent, customer):
    _put_in(ticket, Status.CLOSED, agent)
    new, message, created = services.receive_message(requester=customer, ticket=ticket, body="Back again")
    assert created and new.pk != ticket.pk
    assert new.follow_up_of == ticket and new.subject == ticket.subject
    assert message.ticket == new and message.body == "Back again"
    assert ticket.events.filter(kind=Kind.FOLLOW_UP, data__follow_up=new.number).exists()


def test_receive_message_threads_onto_open_ticket(ticket, customer):
    same, message, created = services.receive_message(requester=customer, ticket=ticket, body="More")
    assert not created and same.pk == ticket.pk and message.ticket_id == ticket.pk


def test_numbers_are_sequential_from_the_counter(customer, make_ticket, settings):
    first = make_ticket(customer)
    second = make_ticket(customer)
    assert first.number == settings.HELPDESK_FIRST_TICKET_NUMBER + 1
    assert second.number == first.number + 1
    assert TicketCounter.objects.get(pk=1).last_number == second.number
    assert first.display_number == f"#{first.number}"


def test_counter_row_is_recreated_after_a_flush(customer, make_ticket):
    make_ticket(customer)
    TicketCounter.objects.all().delete()
    again = make_ticket(customer)
    assert again.number == Ticket.objects.order_by("-number").values_list("number", flat=True)[1] + 1


def test_events_one_per_changed_field(ticket, agent, ticket_type):
    services.update_ticket(ticket=ticket, actor=agent, priority="high", type=ticket_type, assignee=agent, tags=["vip"])
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == [Kind.CREATED, Kind.PRIORITY, Kind.TYPE, Kind.ASSIGNEE, Kind.STATUS, Kind.TAG_ADDED]
    # No change, no event.
    services.update_ticket(ticket=ticket, actor=agent, priority="high", tags=["vip"])
    assert ticket.events.count() == len(kinds)


def test_failed_update_rolls_back_everything(ticket, agent):
    before = ticket.events.count()
    with pytest.raises(ValidationError):
        # priority is valid and applied first; the refused status must undo it.
        services.update_ticket(ticket=ticket, actor=agent, priority="urgent", status=Status.CLOSED)
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and ticket.events.count() == before


def test_failed_update_after_a_valid_field_rolls_back(ticket, agent):
    before = ticket.events.count()
    with pytest.raises(ValidationError):
        services.update_ticket(ticket=ticket, actor=agent, priority="urgent", tags=["ok", "bad tag!"])
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and ticket.events.count() == before and not ticket.tags.exists()


def test_assigning_a_customer_is_refused(ticket, agent, other_customer):
    with pytest.raises(ValidationError) as exc:
        services.assign_ticket(ticket=ticket, actor=agent, assignee=other_customer)
    assert "assignee" in exc.value.message_dict


def test_event_rows_carry_actor_and_old_and_new_values(ticket, agent, admin_user, ticket_type):
    services.update_ticket(ticket=ticket, actor=agent, priority="high", type=ticket_type, assignee=admin_user)
    services.update_ticket(ticket=ticket, actor=admin_user, priority="low", assignee=None, type=None)
    rows = list(ticket.events.exclude(kind__in=[Kind.CREATED, Kind.STATUS])
                .values_list("kind", "actor", "field", "old_value", "new_value"))
    assert rows == [
        (Kind.PRIORITY, agent.pk, "priority", "normal", "high"),
        (Kind.TYPE, agent.pk, "type", None, {"id": ticket_type.pk, "name": ticket_type.name}),
        (Kind.ASSIGNEE, agent.pk, "assignee", None, {"id": admin_user.pk, "name": str(admin_user)}),
        (Kind.PRIORITY, admin_user.pk, "priority", "high", "low"),
        (Kind.TYPE, admin_user.pk, "type", {"id": ticket_type.pk, "name": ticket_type.name}, None),
        (Kind.ASSIGNEE, admin_user.pk, "assignee", {"id": admin_user.pk, "name": str(admin_user)}, None),
    ]
    services.add_tags(ticket=ticket, actor=agent, tags=["VIP", "printer"])
    services.remove_tags(ticket=ticket, actor=agent, tags=["vip"])
    tag_rows = list(ticket.events.filter(field="tags").values_list("kind", "old_value", "new_value"))
    assert tag_rows == [(Kind.TAG_ADDED, None, "vip"), (Kind.TAG_ADDED, None, "printer"), (Kind.TAG_REMOVED, "vip", None)]
    assert list(ticket.tags.values_list("name", flat=True)) == ["printer"]


def test_customer_reply_on_solved_writes_message_status_and_reopen_events(ticket, agent, customer):
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    last = ticket.events.last().id
    message = services.add_message(ticket=ticket, author=customer, body="Still broken")
    rows = list(ticket.events.filter(id__gt=last).values_list("kind", "actor", "old_value", "new_value", "internal"))
    assert rows == [
        (Kind.MESSAGE, customer.pk, None, None, False),
        (Kind.STATUS, customer.pk, Status.SOLVED, Status.OPEN, False),
        (Kind.REOPENED, customer.pk, None, None, False),
    ]
    assert ticket.events.get(kind=Kind.MESSAGE).data["message_id"] == message.pk


def test_agent_reopening_a_solved_ticket_is_a_reopen_but_closing_is_not(ticket, agent):
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=ticket, actor=agent, status=Status.OPEN)
    assert ticket.events.filter(kind=Kind.REOPENED, actor=agent).count() == 1
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    ticket.refresh_from_db()
    assert ticket.events.filter(kind=Kind.REOPENED).count() == 1
    assert ticket.solved_at is not None and ticket.closed_at >= ticket.solved_at


def test_agent_reply_on_pending_keeps_it_pending(ticket, agent):
    services.change_status(ticket=ticket, actor=agent, status=Status.PENDING)
    services.add_message(ticket=ticket, author=agent, body="Any news?")
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING


def test_refused_reply_writes_nothing(ticket, agent, customer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = (ticket.messages.count(), ticket.events.count())
    with pytest.raises(ValidationError):
        services.add_message(ticket=ticket, author=customer, body="see file",
                             attachments=[SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream")])
    with pytest.raises(ValidationError):
        # The message would be valid; the status it asks for is not: both are undone.
        services.add_message(ticket=ticket, author=agent, body="closing", status=Status.CLOSED)
    ticket.refresh_from_db()
    assert (ticket.messages.count(), ticket.events.count()) == before
    assert ticket.status == Status.NEW and ticket.first_response_at is None


def test_follow_up_of_a_closed_ticket(ticket, agent, customer, ticket_type):
    services.update_ticket(ticket=ticket, actor=agent, type=ticket_type)
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    new, message, created = services.receive_message(requester=customer, ticket=ticket, body="It's back")
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.messages.count() == 1
    assert (new.status, new.type, new.requester, new.follow_up_of) == (Status.NEW, ticket_type, customer, ticket)
    assert list(ticket.follow_ups.all()) == [new]
    created_event = new.events.get(kind=Kind.CREATED)
    assert created_event.data["follow_up_of"] == ticket.number and created_event.data["message_id"] == message.pk
    follow = ticket.events.get(kind=Kind.FOLLOW_UP)
    assert (follow.actor, follow.internal, follow.data["follow_up"]) == (customer, False, new.number)


def test_no_op_update_writes_nothing(ticket, agent):
    services.update_ticket(ticket=ticket, actor=agent, priority="high", tags=["a"])
    ticket.refresh_from_db()
    stamp, events = ticket.updated_at, ticket.events.count()
    services.update_ticket(ticket=ticket, actor=agent, priority="high", tags=["a"], status=Status.NEW)
    services.add_tags(ticket=ticket, actor=agent, tags=["a"])
    ticket.refresh_from_db()
    # Nothing changed: no event and the ticket does not jump to the top of the queue.
    assert (ticket.updated_at, ticket.events.count()) == (stamp, events)


def test_resending_a_retired_type_is_no_change(ticket, agent, ticket_type):
    services.update_ticket(ticket=ticket, actor=agent, type=ticket_type)
    ticket_type.active = False
    ticket_type.save()
    # Clients send the whole property set back; the retired type they got must not block the rest.
    services.update_ticket(ticket=ticket, actor=agent, type=ticket_type.pk, priority="urgent")
    ticket.refresh_from_db()
    assert (ticket.type, ticket.priority) == (ticket_type, "urgent")
    services.update_ticket(ticket=ticket, actor=agent, type=None)
    with pytest.raises(ValidationError):  # choosing the retired type anew is still refused
        services.update_ticket(ticket=ticket, actor=agent, type=ticket_type.pk)


def _in_threads(n, fn):
    import threading

    from django.db import connection

    barrier = threading.Barrier(n)
    errors = []

    def run(i):
        barrier.wait()
        try:
            fn(i)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_gives_unique_gapless_numbers(settings):
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    start = (TicketCounter.objects.values_list("last_number", flat=True).first()
             or settings.HELPDESK_FIRST_TICKET_NUMBER)
    _in_threads(8, lambda i: services.create_ticket(requester=customer, subject=f"race {i}", body="b"))
    numbers = sorted(Ticket.objects.values_list("number", flat=True))
    assert numbers == list(range(start + 1, start + 9))


@pytest.mark.django_db(transaction=True)
def test_concurrent_tag_edits_do_not_undo_each_other():
    from tests.factories import AgentFactory, CustomerFactory

    agent = AgentFactory()
    ticket = services.create_ticket(requester=CustomerFactory(), subject="tags", body="b", tags=["keep", "drop"])
    services_calls = [
        lambda: services.remove_tags(ticket=ticket, actor=agent, tags=["drop"]),
        *[(lambda i=i: services.add_tags(ticket=ticket, actor=agent, tags=[f"t{i}"])) for i in range(7)],
    ]
    _in_threads(len(services_calls), lambda i: services_calls[i]())
    assert set(ticket.tags.values_list("name", flat=True)) == {"keep"} | {f"t{i}" for i in range(7)}
    assert ticket.events.filter(kind=Kind.TAG_REMOVED).count() == 1
