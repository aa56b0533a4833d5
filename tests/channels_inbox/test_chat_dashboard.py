"""The agent chat dashboard's HTTP side (/agent/chats/): what the page and a
chat's column show, to whom, in how many queries; the navbar's Chats badge."""

import re

import pytest
from django.urls import reverse

from channels_inbox.chat import services as chat_services
from channels_inbox.models import ChatSession
from helpdesk.models import AgentProfile, Group, Tier
from tests.factories import AgentFactory, CustomerFactory
from tickets import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(db):
    agent = AgentFactory(username="anna", first_name="Anna", last_name="Agent")
    AgentProfile.objects.update_or_create(user=agent, defaults={"presence": "online", "max_concurrent_chats": 50})
    chat_services.agent_connected(user=agent)  # as her open dashboard socket would
    return agent


def _chat(agent, n, *, accept=True):
    """A chat from a new visitor with one earlier ticket, accepted by `agent`."""
    visitor = CustomerFactory(email=f"visitor{n}@example.com", first_name=f"Visitor{n}", last_name="Test")
    services.create_ticket(requester=visitor, subject=f"Earlier problem {n}", body="It broke before.")
    session = chat_services.start_chat(name=f"Visitor{n} Test", email=visitor.email, message=f"Question {n}",
                                       page_url=f"https://shop.example/p/{n}", page_title="Shop", language="en")
    if accept:
        session = chat_services.accept_offer(session=session, agent=agent)
    return session


def _columns(html):
    return re.findall(r'<section class="card chat-col" id="chat-([0-9a-f-]+)"', html)


def test_the_page_shows_my_chats_with_visitor_page_and_earlier_tickets(client, anna):
    first, second = _chat(anna, 1), _chat(anna, 2)
    client.force_login(anna)
    response = client.get(reverse("agent_chats:chats"))
    assert response.status_code == 200
    html = response.content.decode()
    assert _columns(html) == [str(first.public_id), str(second.public_id)]
    assert "https://shop.example/p/1" in html and "Earlier problem 1" in html and "Earlier problem 2" in html
    assert f"Ticket #{first.ticket.number}" in html
    # The presence switch is in the page header once (not also in the navbar).
    assert html.count('id="presence"') == 1


def test_the_empty_page_says_what_to_do(client, anna):
    client.force_login(anna)
    html = client.get(reverse("agent_chats:chats")).content.decode()
    assert _columns(html) == []
    assert "No open chats" in html and "Stay online with this page open" in html


def test_the_page_query_count_does_not_grow_with_the_chats(client, anna, django_assert_max_num_queries):
    for n in range(2):
        _chat(anna, n)
    client.force_login(anna)
    url = reverse("agent_chats:chats")
    client.get(url)  # the session and the caches warm up
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    for n in range(2, 8):
        _chat(anna, n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(_columns(response.content.decode())) == 8


def test_a_chat_column_is_for_agents_who_see_its_ticket(client, anna):
    session = _chat(anna, 1)
    client.force_login(anna)
    url = reverse("agent_chats:column", args=[session.public_id])
    response = client.get(url)
    assert response.status_code == 200
    assert _columns(response.content.decode()) == [str(session.public_id)]
    assert f'data-chat-tab="{session.public_id}"' in response.content.decode()

    # Routed to a tier and group Marco is not in, assigned to Anna: Marco cannot open it, nor guess it.
    l2 = Tier.objects.create(level=2, name="L2")
    services.update_ticket(ticket=session.ticket, actor=anna, tier=l2, group=Group.objects.create(name="L2 desk", tier=l2))
    marco = AgentFactory(username="marco")
    client.force_login(marco)
    assert client.get(url).status_code == 404
    assert client.get(reverse("agent_chats:column", args=["6f1c7a52-0000-4000-8000-000000000000"])).status_code == 404


def test_customers_and_visitors_do_not_get_the_dashboard(client, anna):
    session = _chat(anna, 1)
    assert client.get(reverse("agent_chats:chats")).status_code == 302  # to the login
    client.force_login(session.visitor)
    assert client.get(reverse("agent_chats:chats")).status_code == 403
    assert client.get(reverse("agent_chats:column", args=[session.public_id])).status_code == 403


def _badge(client):
    html = client.get(reverse("agent:queue")).content.decode()
    match = re.search(r'id="chats-badge" data-count="(\d+)"', html)
    assert match, "no Chats badge in the navbar"
    return int(match.group(1))


def test_the_navbar_badge_counts_offers_and_chats_with_unread_lines(client, anna):
    client.force_login(anna)
    assert _badge(client) == 0
    offered = _chat(anna, 1, accept=False)
    assert ChatSession.objects.get(pk=offered.pk).offered_to == anna
    assert _badge(client) == 1  # an offer waits
    chat_services.accept_offer(session=offered, agent=anna)
    chat_services.mark_read(session=offered, role="agent", seq=ChatSession.objects.get(pk=offered.pk).last_seq)
    assert _badge(client) == 0
    entry, _created = chat_services.post_message(session=offered, author=offered.visitor, role="visitor", body="Hello?")
    assert _badge(client) == 1  # an unread visitor line
    chat_services.post_message(session=offered, author=anna, role="agent", body="Note", internal=True)
    chat_services.mark_read(session=offered, role="agent", seq=entry.seq)
    assert _badge(client) == 0


def test_the_team_list_shows_colleagues_chats_to_watch_and_a_watched_column_writes_notes_only(client, anna):
    mine, theirs = _chat(anna, 1), _chat(anna, 2)
    marco = AgentFactory(username="marco", first_name="Marco", last_name="Rossi")
    AgentProfile.objects.update_or_create(user=marco, defaults={"presence": "online", "max_concurrent_chats": 5})
    chat_services.transfer_chat(session=theirs, actor=anna, to_agent=marco)
    waiting = _chat(anna, 3, accept=False)
    client.force_login(anna)
    html = client.get(reverse("agent_chats:chats")).content.decode()
    listed = re.findall(r'data-team-chat="([0-9a-f-]+)"', html)
    assert listed == [str(theirs.public_id), str(waiting.public_id)]  # oldest first; not her own chat
    assert "Marco Rossi" in html and "Waiting" in html
    assert 'aria-label="Watch the chat with Visitor2 Test"' in html
    assert str(mine.public_id) not in listed
    # The list the page refreshes: the same rows, and the count for the summary.
    partial = client.get(reverse("agent_chats:team"), HTTP_HX_REQUEST="true").content.decode()
    assert re.findall(r'data-team-chat="([0-9a-f-]+)"', partial) == listed
    assert 'id="team-chats-count" hx-swap-oob="true">2<' in partial
    # Watching Marco's chat: no transfer, end or file; the reply box writes internal notes only.
    column = client.get(reverse("agent_chats:column", args=[theirs.public_id])).content.decode()
    assert "data-watching" in column and "Watching Marco Rossi's chat" in column
    assert "data-chat-transfer" not in column and "data-chat-end" not in column and "data-chat-file" not in column
    assert re.search(r'data-chat-internal checked disabled', column)
    own = client.get(reverse("agent_chats:column", args=[mine.public_id])).content.decode()
    assert "data-watching" not in own and "data-chat-end" in own


def test_a_customer_gets_no_team_list(client, anna):
    session = _chat(anna, 1)
    client.force_login(session.visitor)
    assert client.get(reverse("agent_chats:team")).status_code == 403
