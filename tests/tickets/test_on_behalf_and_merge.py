"""Issue 13: agents open tickets on a customer's behalf, and merge a
duplicate into another ticket (services, selectors, API, pages)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from escalation.models import Trigger
from helpdesk.models import Group, Organization, Tier, User
from helpdesk.services import create_customer_by_agent
from tests.factories import AgentFactory, CustomerFactory
from tests.fixtures import wait_for_mail as _wait
from tickets import selectors, services
from tickets.models import Attachment, Channel, Message, Status, Ticket, TicketEvent
from tickets.tasks import process_events

Kind = TicketEvent.Kind


def _trigger(**kw):
    trigger = Trigger(**kw)
    trigger.full_clean()
    trigger.save()
    return trigger


# --- on behalf: services ----------------------------------------------------------------

def test_ticket_on_behalf_is_routed_by_the_same_triggers(agent, customer, django_capture_on_commit_callbacks):
    _trigger(name="Phone → tag", events=["ticket_created"],
             conditions={"all": [{"field": "channel", "operator": "is", "value": "phone"}]},
             actions=[{"type": "add_tags", "tags": ["called-in"]}])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(requester=customer, actor=agent, subject="Printer dead",
                                        body="She called: the printer is dead.", channel=Channel.PHONE)
    process_events()
    ticket.refresh_from_db()
    assert ticket.channel == "phone" and ticket.requester == customer
    assert [t.name for t in ticket.tags.all()] == ["called-in"]
    created = ticket.events.get(kind=Kind.CREATED)
    assert created.actor == agent and created.data["submitted_by"] == agent.pk
    assert ticket.messages.get().author == customer  # the customer's words, as the requester
    own = services.create_ticket(requester=customer, subject="s", body="b")
    assert "submitted_by" not in own.events.get(kind=Kind.CREATED).data  # filed by the customer


def test_in_person_and_other_are_channels(agent, customer):
    for channel in ("in_person", "other"):
        ticket = services.create_ticket(requester=customer, actor=agent, subject="s", body="b", channel=channel)
        assert Ticket.objects.get(pk=ticket.pk).get_channel_display() in ("In person", "Other")


def test_agent_creates_customer_without_password_or_mail(agent, mailoutbox):
    org = Organization.objects.create(name="Acme")
    user, created = create_customer_by_agent(actor=agent, email=" Walk.In@Example.com ", name="Walk In Person",
                                             organization=org)
    assert created and user.role == User.Role.CUSTOMER and user.organization == org
    assert user.email == "Walk.In@Example.com" and (user.first_name, user.last_name) == ("Walk", "In Person")
    assert not user.has_usable_password()
    assert mailoutbox == []
    again, created = create_customer_by_agent(actor=agent, email="walk.in@example.COM", name="Other Name")
    assert again == user and not created  # a duplicate email picks the existing customer


def test_agent_recorded_customer_joins_a_domain_only_by_its_join_policy(agent):
    """The domain of an address an agent typed is no proof either: only an
    auto-join organization adopts it, as at sign-up."""
    Organization.objects.create(name="Closed", domain="closed.example")
    auto = Organization.objects.create(name="Open", domain="open.example", join_policy=Organization.JoinPolicy.AUTO)
    closed_user, _c = create_customer_by_agent(actor=agent, email="a@closed.example")
    open_user, _c = create_customer_by_agent(actor=agent, email="b@open.example")
    assert closed_user.organization is None and open_user.organization == auto


def test_agent_recorded_customer_sets_a_first_password_by_reset(agent, client, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    create_customer_by_agent(actor=agent, email="caller@example.net", name="Cal Ler")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "caller@example.net"})
    assert response.status_code == 302
    messages = [m for m in mailoutbox if "caller@example.net" in m.to]
    assert messages, "no reset mail for a customer an agent recorded"


def test_create_customer_by_agent_refuses(agent, customer):
    with pytest.raises(PermissionDenied):
        create_customer_by_agent(actor=customer, email="x@example.com")
    with pytest.raises(ValidationError) as exc:
        create_customer_by_agent(actor=agent, email="not an email")
    assert "email" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        create_customer_by_agent(actor=agent, email=agent.email.upper())  # staff, not a customer
    assert "email" in exc.value.message_dict


def test_customer_search_by_name_email_and_organization(agent, admin_user, customer):
    acme = Organization.objects.create(name="Acme Dolciaria")
    maria = CustomerFactory(first_name="Maria", last_name="Rossi", email="m.rossi@shop.example", organization=acme)
    AgentFactory(first_name="Maria", last_name="Agent")  # agents are not customers
    CustomerFactory(first_name="Maria", last_name="Gone", is_active=False)
    assert selectors.search_customers(agent, "mari") == [maria]
    assert selectors.search_customers(agent, "maria ross") == [maria]
    assert selectors.search_customers(agent, "shop.example") == [maria]
    assert selectors.search_customers(admin_user, "dolciaria") == [maria]
    assert selectors.search_customers(customer, "maria") == []  # customers search nobody
    assert selectors.search_customers(agent, "m") == []  # too short to mean anything


# --- merge: services ---------------------------------------------------------------------

@pytest.fixture
def pair(customer, agent):
    source = services.create_ticket(requester=customer, subject="Toner leaks", body="First mail",
                                    tags=["toner"], attachments=[SimpleUploadedFile("log.txt", b"leak", "text/plain")])
    services.add_message(ticket=source, author=agent, body="Can you send a photo?")
    target = services.create_ticket(requester=customer, subject="Toner leaking again", body="Second mail",
                                    tags=["printer"])
    # The duplicate was written after the target's first message: ordering must hold.
    Message.objects.filter(ticket=source).update(created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    return source, target


def test_merge_moves_messages_and_attachments_and_closes_the_source(pair, agent, customer):
    source, target = pair
    moved = list(source.messages.values_list("pk", "created_at"))
    result = services.merge_tickets(source=source, target=target, agent=agent)
    assert result.pk == target.pk
    source.refresh_from_db()
    assert source.status == Status.CLOSED and source.merged_into == target and source.closed_at
    assert not source.messages.exists()
    assert set(target.messages.filter(pk__in=[p for p, _ in moved]).values_list("pk", "created_at")) == set(moved)
    assert Attachment.objects.get().message.ticket == target
    assert {t.name for t in target.tags.all()} == {"toner", "printer"}
    assert source.events.get(kind=Kind.MERGED_INTO).data["target"] == target.number
    merged_from = target.events.get(kind=Kind.MERGED_FROM)
    assert merged_from.actor == agent and merged_from.data == {**merged_from.data, "source": source.number, "messages": 2}
    notice = target.messages.order_by("-id").first()
    assert notice.author == agent and not notice.internal
    assert notice.body.startswith(f"Your request #{source.number} was merged into #{target.number}")
    # The timeline stays in time order: the moved (older) messages first.
    bodies = [m.body for kind, m in selectors.timeline(agent, target) if kind == "message"]
    assert bodies[:3] == ["First mail", "Can you send a photo?", "Second mail"]


def test_merge_notice_is_mailed_to_the_requester(smtp, pair, agent, customer,  # noqa: F811
                                                 django_capture_on_commit_callbacks):
    source, target = pair
    with django_capture_on_commit_callbacks(execute=True):
        services.merge_tickets(source=source, target=target, agent=agent)
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    mails = [m for m in _wait(smtp) if f"was merged into #{target.number}" in m.get_body(("plain",)).get_content()]
    assert len(mails) == 1 and mails[0]["To"] == customer.email


def test_replies_to_a_merged_ticket_land_on_the_target(pair, agent, customer):
    source, target = pair
    services.merge_tickets(source=source, target=target, agent=agent)
    ticket, message, created = services.receive_message(requester=customer, ticket=source, body="Any news?",
                                                        channel=Channel.EMAIL)
    assert not created and ticket.pk == target.pk and message.ticket_id == target.pk
    note = services.add_message(ticket=source, author=agent, body="Looking", internal=True)
    assert note.ticket_id == target.pk


def test_merge_refusals(pair, agent, customer, other_customer):
    source, target = pair
    with pytest.raises(ValidationError, match="itself"):
        services.merge_tickets(source=source, target=source, agent=agent)
    with pytest.raises(PermissionDenied):
        services.merge_tickets(source=source, target=target, agent=customer)
    stranger = services.create_ticket(requester=other_customer, subject="Other", body="b")
    with pytest.raises(ValidationError, match="different requesters"):
        services.merge_tickets(source=source, target=stranger, agent=agent)
    closed = services.create_ticket(requester=customer, subject="Old", body="b")
    services.change_status(ticket=closed, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=closed, actor=agent, status=Status.CLOSED)
    with pytest.raises(ValidationError, match="closed"):
        services.merge_tickets(source=source, target=closed, agent=agent)
    services.merge_tickets(source=source, target=target, agent=agent)
    third = services.create_ticket(requester=customer, subject="Third", body="b")
    with pytest.raises(ValidationError, match="merged into another"):
        services.merge_tickets(source=third, target=source, agent=agent)
    with pytest.raises(ValidationError, match="already merged"):
        services.merge_tickets(source=source, target=third, agent=agent)
    assert Ticket.objects.get(pk=third.pk).status == Status.NEW and not Ticket.objects.get(pk=third.pk).merged_into


def test_merge_needs_both_tickets_visible_to_the_agent(pair, customer):
    source, target = pair
    l1, l2 = Tier.objects.create(level=1, name="L1"), Tier.objects.create(level=2, name="L2")
    g1, g2 = Group.objects.create(name="Support", tier=l1), Group.objects.create(name="Tech", tier=l2)
    anna = AgentFactory()
    g1.members.add(anna)
    lead = AgentFactory()
    services.update_ticket(ticket=source, actor=lead, tier=l1, group=g1)
    services.update_ticket(ticket=target, actor=lead, tier=l2, group=g2)
    with pytest.raises(ValidationError, match="can see"):
        services.merge_tickets(source=source, target=target, agent=anna)
    assert Ticket.objects.get(pk=source.pk).merged_into is None


def test_merge_of_different_requesters_when_confirmed_hides_their_words(pair, agent, other_customer):
    source, _target = pair
    other = services.create_ticket(requester=other_customer, subject="Also toner", body="Mine leaks too")
    services.merge_tickets(source=source, target=other, agent=agent, allow_other_requester=True)
    assert not other.messages.filter(body__in=["First mail", "Can you send a photo?"], internal=False).exists()
    assert other.messages.filter(body="First mail", internal=True).exists()
    assert other.messages.order_by("-id").first().internal  # the notice is for the agents only
    # The source's requester writing again gets a follow-up, not a seat on another's ticket.
    ticket, _m, created = services.receive_message(requester=source.requester, ticket=source, body="Hello?")
    assert created and ticket.follow_up_of_id == source.pk


# --- API ----------------------------------------------------------------------------------

def test_api_agent_files_for_requester_by_email_with_channel(api, agent, customer):
    response = api.as_user(agent).post("/api/v1/tickets/", {
        "subject": "Called", "body": "On the phone", "requester": customer.email.upper(), "channel": "phone",
    }, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["requester"]["id"] == customer.pk and data["channel"] == "phone"
    response = api.post("/api/v1/tickets/", {"subject": "Letter", "body": "A forwarded letter",
                                             "requester": "new.person@example.org", "channel": "email"}, format="json")
    assert response.status_code == 201
    new = User.objects.get(email="new.person@example.org")
    assert new.is_customer and not new.has_usable_password()
    assert Ticket.objects.get(number=response.json()["number"]).requester == new


def test_api_on_behalf_refusals(api, agent, customer):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "channel": "phone"},
                                          format="json")
    # Well-formed but not a customer's to set: 403 naming the field (as the schema says).
    assert response.status_code == 403 and "channel" in response.json()["detail"]
    response = api.as_user(agent).post("/api/v1/tickets/", {"subject": "s", "body": "b", "requester": agent.pk},
                                       format="json")
    assert response.status_code == 400 and "requester" in response.json()
    response = api.post("/api/v1/tickets/", {"subject": "s", "body": "b", "requester": "nope", "channel": "fax"},
                        format="json")
    assert response.status_code == 400 and {"channel"} <= set(response.json())
    response = api.post("/api/v1/tickets/", {"subject": "s", "body": "b", "requester": "nope"}, format="json")
    assert response.status_code == 400 and "requester" in response.json()
    assert not Ticket.objects.exists()


def test_api_merge(api, pair, agent, customer):
    source, target = pair
    url = f"/api/v1/tickets/{source.pk}/merge/"
    assert api.as_user(customer).post(url, {"target": target.pk}, format="json").status_code == 403
    response = api.as_user(agent).post(url, {"target": source.pk}, format="json")
    assert response.status_code == 400 and "target" in response.json()
    assert api.post(url, {"target": 99999999}, format="json").status_code == 400
    response = api.post(url, {"target": target.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == target.pk
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk
    assert api.get(f"/api/v1/tickets/{source.pk}/").json()["merged_into"] == target.pk
    kinds = [e["kind"] for e in api.get(f"/api/v1/tickets/{source.pk}/events/").json()["results"]]
    assert "merged_into" in kinds


# --- pages --------------------------------------------------------------------------------

@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_new_ticket_page_files_for_a_picked_customer(agent_client, agent, customer):
    page = agent_client.get(reverse("agent:new_ticket"))
    html = page.content.decode()
    assert page.status_code == 200 and 'role="combobox"' in html and "The customer&#x27;s request" in html
    assert 'href="/agent/tickets/new/"' in agent_client.get(reverse("agent:queue")).content.decode()
    response = agent_client.post(reverse("agent:new_ticket"), {
        "requester": customer.pk, "channel": "in_person", "subject": "Walk-in", "body": "Came to the desk",
        "priority": "high",
    })
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("agent:ticket", args=[ticket.number])
    assert (ticket.requester, ticket.channel, ticket.priority) == (customer, "in_person", "high")
    assert ticket.events.get(kind=Kind.CREATED).actor == agent


def test_new_ticket_page_adds_a_customer_inline_or_picks_the_existing(agent_client, customer):
    response = agent_client.post(reverse("agent:new_ticket"), {
        "new_name": "Ada Lovelace", "new_email": "ada@example.net", "channel": "phone", "subject": "s", "body": "b",
    })
    assert response.status_code == 302
    ada = User.objects.get(email="ada@example.net")
    assert Ticket.objects.get().requester == ada and not ada.has_usable_password()
    response = agent_client.post(reverse("agent:new_ticket"), {
        "new_name": "Someone", "new_email": customer.email.upper(), "channel": "other", "subject": "s2", "body": "b",
    })
    assert response.status_code == 302
    assert Ticket.objects.get(subject="s2").requester == customer
    assert User.objects.filter(email__iexact=customer.email).count() == 1


def test_new_ticket_page_shows_errors_beside_fields_and_writes_nothing(agent_client, agent):
    response = agent_client.post(reverse("agent:new_ticket"), {"channel": "fax", "subject": "", "body": "b"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="requester-error"' in html and "Find the customer" in html
    response = agent_client.post(reverse("agent:new_ticket"), {
        "new_email": agent.email, "channel": "phone", "subject": "s", "body": "b"})
    assert response.status_code == 400 and "not a customer" in response.content.decode()
    assert not Ticket.objects.exists()


def test_customer_search_partial_is_a_labelled_listbox(agent_client, customer, client):
    response = agent_client.get(reverse("agent:customer_search"), {"q": customer.last_name})
    html = response.content.decode()
    assert 'role="listbox"' in html and 'aria-label="Customers found"' in html
    assert f'data-customer="{customer.pk}"' in html and 'role="option"' in html


def test_customer_search_query_count_is_constant(agent_client, django_assert_max_num_queries):
    org = Organization.objects.create(name="Zeta")
    CustomerFactory(first_name="Zed", organization=org)
    with django_assert_max_num_queries(6) as few:
        agent_client.get(reverse("agent:customer_search"), {"q": "zeta"})
    for i in range(15):
        CustomerFactory(first_name=f"Zed{i}", organization=Organization.objects.create(name=f"Zeta {i}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = agent_client.get(reverse("agent:customer_search"), {"q": "zeta"})
    assert response.content.decode().count('role="option"') == 10


def test_customers_cannot_use_on_behalf_pages(client, customer, ticket):
    client.force_login(customer)
    assert client.get(reverse("agent:new_ticket")).status_code == 403
    assert client.get(reverse("agent:customer_search"), {"q": "ab"}).status_code == 403
    assert client.get(reverse("agent:merge", args=[ticket.number])).status_code == 403


def test_merge_page_confirms_then_merges(agent_client, pair, customer):
    source, target = pair
    page = agent_client.get(reverse("agent:ticket", args=[source.number]))
    assert reverse("agent:merge", args=[source.number]) in page.content.decode()
    listing = agent_client.get(reverse("agent:merge", args=[source.number]), {"q": "leaking"})
    assert f"?target={target.number}" in listing.content.decode()
    confirm = agent_client.get(reverse("agent:merge", args=[source.number]), {"q": f"#{target.number}"})
    html = confirm.content.decode()
    assert 'data-testid="merge-confirm"' in html and "What will happen" in html and "cannot be undone" in html
    assert not Ticket.objects.get(pk=source.pk).merged_into_id  # looking changes nothing
    response = agent_client.post(reverse("agent:merge", args=[source.number]), {"target": target.number})
    assert response.status_code == 302 and response["Location"] == reverse("agent:ticket", args=[target.number])
    html = agent_client.get(response["Location"]).content.decode()
    assert "First mail" in html and 'data-testid="event-merged-from"' in html
    html = agent_client.get(reverse("agent:ticket", args=[source.number])).content.decode()
    assert 'data-testid="merged-into"' in html and f'href="/agent/tickets/{target.number}/"' in html


def test_merge_page_refusal_is_shown(agent_client, pair, other_customer):
    source, _target = pair
    other = services.create_ticket(requester=other_customer, subject="Someone else's", body="b")
    confirm = agent_client.get(reverse("agent:merge", args=[source.number]), {"target": other.number})
    assert "different requesters" in confirm.content.decode()
    response = agent_client.post(reverse("agent:merge", args=[source.number]), {"target": other.number})
    assert response.status_code == 400 and "confirm to merge them anyway" in response.content.decode()
    response = agent_client.post(reverse("agent:merge", args=[source.number]), {"target": source.number})
    assert response.status_code == 400
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None


def test_portal_shows_merged_into_with_a_link(client, pair, agent, customer):
    source, target = pair
    services.merge_tickets(source=source, target=target, agent=agent)
    client.force_login(customer)
    html = client.get(reverse("portal:ticket", args=[source.number])).content.decode()
    assert 'data-testid="merged-into"' in html and f'href="/portal/tickets/{target.number}/"' in html
    response = client.post(reverse("portal:reply", args=[source.number]), {"body": "Thanks"})
    assert response["Location"] == reverse("portal:ticket", args=[target.number])
    assert target.messages.filter(body="Thanks", author=customer).exists()


@pytest.mark.django_db(transaction=True)
def test_opposite_merges_at_once_one_wins_no_deadlock():
    """A→B and B→A at the same moment: both rows are locked in id order, so
    the second waits for the first and is refused (no deadlock, no cycle)."""
    import threading

    from django.db import connection

    customer = CustomerFactory()
    agent = AgentFactory()
    a = services.create_ticket(requester=customer, subject="A", body="a")
    b = services.create_ticket(requester=customer, subject="B", body="b")
    barrier, outcomes = threading.Barrier(2), []

    def merge(source, target):
        try:
            barrier.wait(timeout=5)
            services.merge_tickets(source=source, target=target, agent=agent)
            outcomes.append("merged")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # a deadlock would land here
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["merged", "refused"]
    merged = Ticket.objects.filter(merged_into__isnull=False)
    assert merged.count() == 1 and merged.get().status == Status.CLOSED
