"""Chat routing and its beat job: offers, timeouts and declines, capacity, routes, business hours, the wait limit,
presence grace, transfers; the chat's ticket seen from the ticket page and the API."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_inbox.chat import services
from channels_inbox.chat.tasks import expire_chat_offers
from channels_inbox.models import ChatAgentPresence, ChatEntry, ChatRoute, ChatSession
from escalation.models import BusinessHours, OpenInterval
from helpdesk.models import Group, Tier
from helpdesk.teams import AgentProfile
from tests.factories import AgentFactory
from tickets import services as ticket_services
from tickets.models import OutgoingDelivery

pytestmark = pytest.mark.django_db


def connected(*agents, seen=None):
    for agent in agents:
        ChatAgentPresence.objects.update_or_create(user=agent, defaults={
            "sockets": 1, "seen_at": seen or timezone.now()})
    return agents


def start(**kw):
    data = {"name": "Вера", "email": "vera@example.com", "message": "Принтер не печатает",
            "page_url": "https://shop.example/help/printers", "language": "ru", **kw}
    return services.start_chat(**data)


def codes(session):
    return [e.system["code"] for e in session.entries.filter(kind=ChatEntry.Kind.SYSTEM).order_by("seq")]


@pytest.fixture
def team():
    tier = Tier.objects.create(level=1, name="L1")
    group = Group.objects.create(name="Printers", tier=tier)
    return tier, group


def test_offers_go_to_the_least_loaded_then_the_next_on_decline_and_timeout(team):
    tier, group = team
    busy, free, third = AgentFactory(), AgentFactory(), AgentFactory()
    group.members.add(busy, free, third)
    connected(busy, free, third)
    services.start_chat(name="A", email="a@example.com", message="first")  # offered to the first in id order
    assert ChatSession.objects.get().offered_to == busy
    session = start()
    assert session.status == "waiting" and session.offered_to == free  # busy already has an offer in flight

    services.decline_offer(session=session, agent=free)
    session.refresh_from_db()
    assert session.offered_to == third and session.tried == [free.pk]

    ChatSession.objects.filter(pk=session.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    result = expire_chat_offers()
    session.refresh_from_db()
    assert result["expired"] == 1
    # busy's first offer expired at the same time? No: only this one was past its time.
    assert session.offered_to == busy  # holds one of three slots; free and third were tried
    assert sorted(session.tried) == sorted([free.pk, third.pk])


def test_nobody_left_stays_waiting_then_is_offered_when_a_slot_frees(team):
    tier, group = team
    agent = AgentFactory()
    group.members.add(agent)
    connected(agent)
    session = start()
    services.decline_offer(session=session, agent=agent)
    session.refresh_from_db()
    assert session.status == "waiting" and session.offered_to is None and codes(session) == ["waiting"]
    # The decline stands for this agent; another one connects and gets it.
    other = AgentFactory()
    group.members.add(other)
    connected(other)
    assert services.offer_waiting_chats() == 1
    session.refresh_from_db()
    assert session.offered_to == other


def test_capacity_is_respected(team):
    tier, group = team
    full, spare = AgentFactory(), AgentFactory()
    AgentProfile.objects.create(user=full, max_concurrent_chats=1)
    group.members.add(full, spare)
    connected(full, spare)
    first = start(email="one@example.com")
    assert first.offered_to == full
    services.accept_offer(session=first, agent=full)
    second = start(email="two@example.com")
    assert second.offered_to == spare  # full holds one chat of one


def test_routes_pick_the_group_and_business_hours_make_it_offline(team, time_machine):
    tier, group = team
    other_group = Group.objects.create(name="Billing", tier=Tier.objects.create(level=2, name="L2"))
    printers_agent, billing_agent = AgentFactory(), AgentFactory()
    group.members.add(printers_agent)
    other_group.members.add(billing_agent)
    hours = BusinessHours.objects.create(name="Office", time_zone="UTC")
    OpenInterval.objects.create(calendar=hours, weekday=0, opens=time(9), closes=time(17))
    ChatRoute.objects.create(name="Billing pages", position=1, url_prefix="https://shop.example/billing",
                             group=other_group, business_hours=hours)
    ChatRoute.objects.create(name="Russian on shop", position=2, site="shop.example", language="ru", group=group)
    ChatRoute.objects.create(name="Inactive", position=0, active=False, group=other_group)

    time_machine.move_to(datetime(2026, 11, 30, 10, 0, tzinfo=UTC), tick=False)  # a Monday, open
    connected(printers_agent, billing_agent)
    billing = start(page_url="https://shop.example/billing/invoice", email="b@example.com")
    assert (billing.group, billing.offered_to, billing.status) == (other_group, billing_agent, "waiting")
    assert (billing.ticket.group, billing.ticket.tier) == (other_group, other_group.tier)
    # Routed at creation: no second event moves the ticket to the route's group.
    assert not billing.ticket.events.filter(kind="group_changed").exists()
    printers = start(email="p@example.com")
    assert (printers.group, printers.offered_to) == (group, printers_agent)
    english = start(language="en", email="e@example.com")
    assert english.group is None  # no route: any online agent

    time_machine.move_to(datetime(2026, 11, 30, 20, 0, tzinfo=UTC), tick=False)  # closed
    connected(printers_agent, billing_agent)
    late = start(page_url="https://shop.example/billing/x", email="l@example.com")
    assert late.status == "offline" and late.offered_to is None and codes(late) == ["offline"]
    assert late.ticket.status == "new" and late.ticket.channel == "chat"


def test_nobody_in_the_group_is_offline(team):
    tier, group = team
    ChatRoute.objects.create(name="All", group=group)
    connected(AgentFactory())  # online, but not in the group
    assert start().status == "offline"


def test_wait_limit_turns_a_waiting_chat_offline(team, settings):
    tier, group = team
    agent = AgentFactory()
    connected(agent)
    session = start()
    services.decline_offer(session=session, agent=agent)
    ChatSession.objects.filter(pk=session.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_WAIT_LIMIT + 1))
    assert expire_chat_offers()["offline"] == 1
    session.refresh_from_db()
    assert session.status == "offline" and codes(session) == ["waiting", "offline"]


def test_silent_chat_sockets_turn_an_online_agent_away_after_the_grace(settings):
    gone, here, chose_online_later = AgentFactory(), AgentFactory(), AgentFactory()
    long_ago = timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_PRESENCE_GRACE + 5)
    for agent in (gone, here, chose_online_later):
        AgentProfile.objects.create(user=agent, presence="online")
    AgentProfile.objects.filter(user__in=[gone, here]).update(presence_changed_at=long_ago - timedelta(minutes=1))
    connected(gone, chose_online_later, seen=long_ago)
    connected(here)
    assert expire_chat_offers()["away"] == 1
    presence = dict(AgentProfile.objects.values_list("user_id", "presence"))
    assert presence == {gone.pk: "away", here.pk: "online", chose_online_later.pk: "online"}
    assert ChatAgentPresence.objects.get(user=gone).sockets == 0


def test_transfer_to_an_agent_and_to_a_group(team):
    tier, group = team
    first, second, in_group = AgentFactory(), AgentFactory(), AgentFactory()
    other_group = Group.objects.create(name="Billing", tier=Tier.objects.create(level=2, name="L2"))
    other_group.members.add(in_group)
    connected(first, second, in_group)
    session = start()
    services.accept_offer(session=session, agent=session.offered_to)
    holder = ChatSession.objects.get(pk=session.pk).agent
    target = second if holder != second else first
    services.transfer_chat(session=session, actor=holder, to_agent=target, note="VIP, знает модель")
    session.refresh_from_db()
    assert session.agent == target and session.ticket.assignee == target and session.status == "active"
    kinds = list(session.entries.order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == ["note", "system"] and codes(session)[-1] == "transferred"

    with pytest.raises(services.NotYours):
        services.transfer_chat(session=session, actor=holder, to_group=other_group)
    services.transfer_chat(session=session, actor=target, to_group=other_group)
    session.refresh_from_db()
    assert session.status == "waiting" and session.agent is None and session.offered_to == in_group
    assert session.ticket.group == other_group and session.ticket.assignee is None
    assert session.ticket.tier == other_group.tier == session.tier
    with pytest.raises(ValidationError):
        services.transfer_chat(session=session, actor=target, to_group=other_group, to_agent=first)


@pytest.mark.django_db(transaction=True)
def test_ticket_page_replies_reach_the_chat_once_and_offline_chats_answer_by_email(agent):
    connected(agent)
    live = start(email="live@example.com")
    services.accept_offer(session=live, agent=agent)
    entry, _created = services.post_message(session=live, author=agent, role="agent", body="из чата", client_id="c1")
    reply = ticket_services.add_message(ticket=live.ticket, author=agent, body="со страницы тикета")
    entries = list(live.entries.order_by("seq").values_list("kind", "author_role", "message_id"))
    assert entries[-2:] == [("message", "agent", entry.message_id), ("message", "agent", reply.pk)]
    assert ChatEntry.objects.filter(message__body="из чата").count() == 1

    ChatAgentPresence.objects.all().delete()
    offline = start(email="away@example.com")
    assert offline.status == "offline"
    ticket_services.add_message(ticket=offline.ticket, author=agent, body="Ответ по почте")
    mails = OutgoingDelivery.objects.filter(ticket_id=offline.ticket.pk)
    assert [m.payload["to"] for m in mails] == [["away@example.com"]]
    assert ChatEntry.objects.filter(message__body="Ответ по почте").count() == 0  # offline: no chat line


def test_the_chat_ticket_is_a_ticket_in_the_api(api, agent):
    connected(agent)
    session = start()
    services.accept_offer(session=session, agent=agent)
    services.post_message(session=session, author=agent, role="agent", body="Здравствуйте", client_id="x")
    services.post_message(session=session, author=agent, role="agent", body="заметка", client_id="y", internal=True)
    api.as_user(agent)
    listed = api.get("/api/v1/tickets/").json()["results"]
    assert [(t["number"], t["channel"]) for t in listed] == [(session.ticket.number, "chat")]
    messages = api.get(f"/api/v1/tickets/{session.ticket.pk}/messages/").json()
    rows = messages["results"] if isinstance(messages, dict) else messages
    assert [(m["body"], m["internal"]) for m in rows] == [
        ("Принтер не печатает", False), ("Здравствуйте", False), ("заметка", True)]
    assert {m["channel"] for m in rows} == {"chat"}
    assert api.get(f"/api/v1/tickets/{session.ticket.pk}/").json()["number"] == session.ticket.number


def test_the_beat_job_is_scheduled_and_registered(settings):
    from helpdesk.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["expire-chat-offers"] == {
        "task": "channels_inbox.chat.tasks.expire_chat_offers", "schedule": 5.0}
    assert "channels_inbox.chat.tasks.expire_chat_offers" in app.tasks


def test_a_chat_message_is_a_few_statements_when_the_one_statement_steps_aside(agent, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels_inbox.chat import sql as chat_sql

    connected(agent)
    session = start()
    services.accept_offer(session=session, agent=agent)
    # The first agent line is the ticket's first response (add_message, once per chat: test_chat_follow); count
    # the ones after it.
    services.post_message(session=session.pk, author=agent, role="agent", body="Здравствуйте", client_id="q-0")
    monkeypatch.setattr(chat_sql, "post_line", lambda **kw: None)  # the full path (the one statement: test_chat_sql)
    with CaptureQueriesContext(connection) as queries:
        services.post_message(session=session.pk, author=agent, role="agent", body="Чем помочь?", client_id="q-1")
    sql = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # The savepoint pair of the test's transaction, then: lock the session, look up the client_id, insert the
    # Message, insert the ChatEntry, update last_seq.
    assert [s for s in sql if s not in ("SAVEPOINT", "RELEASE")] == ["SELECT", "SELECT", "INSERT", "INSERT", "UPDATE"]
    assert "FOR UPDATE" in next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT"))


def test_a_route_for_a_ticket_type(client, team):
    from tickets.models import TicketType

    tier, group = team
    billing = TicketType.objects.create(name="Billing")
    agent = AgentFactory()
    group.members.add(agent)
    connected(agent)
    ChatRoute.objects.create(name="Billing chats", ticket_type=billing, group=group)
    body = {"name": "A", "email": "a@example.com", "message": "счёт", "type": "billing"}
    response = client.post("/chat/api/start/", body, content_type="application/json")
    assert response.status_code == 201
    session = ChatSession.objects.get(public_id=response.json()["chat"])
    assert (session.group, session.ticket.type, session.offered_to) == (group, billing, agent)
    untyped = services.start_chat(name="B", email="b@example.com", message="привет")
    assert untyped.group is None
    bad = client.post("/chat/api/start/", {**body, "type": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"type"}
