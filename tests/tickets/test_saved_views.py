"""Saved views over HTTP: an agent saves the queue's filters as a personal
view (checked by the filter set), sees it in the sidebar with its count,
renames and deletes it; nobody else can."""

import pytest
from django.urls import reverse

from tests.factories import AgentFactory
from tickets import services
from tickets.models import SavedView


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def toner(customer, make_ticket):
    return [make_ticket(customer, subject=f"Toner che perde {i}") for i in range(3)] + [
        make_ticket(customer, subject="Invoice question")]


def test_save_the_current_filters_and_see_the_view_with_its_count(agent_client, agent, toner):
    response = agent_client.post(reverse("agent:saved_views"),
                                 {"name": "Toner", "query": "view=open&status=&priority=&q=toner&ordering="})
    assert response.status_code == 302 and response["Location"] == "/agent/?view=open&q=toner"
    view = SavedView.objects.get(owner=agent)
    assert (view.name, view.query) == ("Toner", "view=open&q=toner")
    html = agent_client.get(reverse("agent:counts"), {"view": "open", "q": "toner"}).content.decode()
    assert f'data-count="saved-{view.pk}">3<' in html and "Toner" in html
    assert f'active" data-saved-view="{view.pk}"' in html  # the view the queue shows now
    # The page the view links to shows those tickets.
    page = agent_client.get("/agent/?view=open&q=toner").content.decode()
    assert page.count(">Toner che perde ") == 3 and "Invoice question" not in page


def test_invalid_filters_or_name_are_field_errors(agent_client, agent, toner):
    response = agent_client.post(reverse("agent:saved_views"), {"name": "Bad", "query": "status=bogus"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = agent_client.post(reverse("agent:saved_views"), {"name": "   ", "query": "view=open"})
    assert response.status_code == 400
    assert 'id="create-name-error"' in response.content.decode()
    services.create_saved_view(owner=agent, name="Mine", query="view=mine")
    response = agent_client.post(reverse("agent:saved_views"), {"name": "mine", "query": "view=open"})
    assert response.status_code == 400 and "already have a view" in response.content.decode()
    assert SavedView.objects.filter(owner=agent).count() == 1


def test_rename_and_delete_only_ones_own(agent_client, agent, client, toner):
    view = services.create_saved_view(owner=agent, name="Toner", query="q=toner")
    response = agent_client.post(reverse("agent:saved_view_rename", args=[view.pk]), {"name": "Toner leaks"})
    assert response.status_code == 302
    view.refresh_from_db()
    assert view.name == "Toner leaks"
    response = agent_client.post(reverse("agent:saved_view_rename", args=[view.pk]), {"name": ""})
    assert response.status_code == 400 and "Give the view a name" in response.content.decode()

    other = AgentFactory()
    client.force_login(other)
    assert client.post(reverse("agent:saved_view_rename", args=[view.pk]), {"name": "Mine now"}).status_code == 404
    assert client.post(reverse("agent:saved_view_delete", args=[view.pk])).status_code == 404
    assert "Toner leaks" not in client.get(reverse("agent:counts")).content.decode()

    client.force_login(agent)
    assert client.post(reverse("agent:saved_view_delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_customers_have_no_saved_views(client, customer):
    client.force_login(customer)
    assert client.post(reverse("agent:saved_views"), {"name": "x", "query": "q=a"}).status_code == 403
    assert not SavedView.objects.exists()


def test_counts_are_capped_and_stay_in_the_agents_scope(agent_client, agent, customer, make_ticket, settings):
    from helpdesk.models import Group, Tier

    tier = Tier.objects.create(name="L3", level=3) if not Tier.objects.filter(level=3).exists() else Tier.objects.get(level=3)
    group = Group.objects.create(name="Secret", tier=tier)
    hidden = make_ticket(customer, subject="Toner secret")
    services.update_ticket(ticket=hidden, actor=agent, group=group, tier=tier)
    view = services.create_saved_view(owner=agent, name="All toner", query="view=all&q=toner")
    html = agent_client.get(reverse("agent:counts")).content.decode()
    assert f'data-count="saved-{view.pk}">0<' in html  # the L3 ticket is out of this agent's scope

    from tickets import selectors

    for i in range(4):
        make_ticket(customer, subject=f"toner {i}")
    assert selectors.saved_view_counts(agent, [view], cap=3) == [(view, "3+")]


def test_at_most_twenty_views(agent):
    for i in range(services.SAVED_VIEWS_MAX):
        services.create_saved_view(owner=agent, name=f"v{i}", query="view=open")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.create_saved_view(owner=agent, name="one more", query="view=open")


def test_saved_views_api(api, agent, customer, toner):
    api.as_user(agent)
    response = api.post("/api/v1/saved-views/", {"name": "Toner", "query": "view=open&q=toner&status="}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["query"], body["count"]) == ("Toner", "view=open&q=toner", "3")
    response = api.post("/api/v1/saved-views/", {"name": "Bad", "query": "type=1e30"}, format="json")
    assert response.status_code == 400 and "query" in response.json()
    view_id = body["id"]
    response = api.patch(f"/api/v1/saved-views/{view_id}/", {"name": "Toner leaks"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Toner leaks"
    assert [v["name"] for v in api.get("/api/v1/saved-views/").json()["results"]] == ["Toner leaks"]

    other = AgentFactory()
    api.as_user(other)
    assert api.get(f"/api/v1/saved-views/{view_id}/").status_code == 404
    assert api.delete(f"/api/v1/saved-views/{view_id}/").status_code == 404
    assert api.as_user(customer).get("/api/v1/saved-views/").status_code == 403

    assert api.as_user(agent).delete(f"/api/v1/saved-views/{view_id}/").status_code == 204
    assert not SavedView.objects.exists()
