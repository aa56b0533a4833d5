"""Issue 13, canned replies (macros): rendering and placeholders, visibility,
the services' rules, the API (CRUD permissions, preview, schema), the agent
pages and the reply that sends a macro's changes."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from helpdesk.models import Group, Tier
from tests.factories import AdminFactory, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import selectors, services
from tickets.models import Macro, Message, Priority, Status, Ticket, TicketEvent


@pytest.fixture
def desk(db):
    l1 = Tier.objects.create(level=1, name="L1")
    l2 = Tier.objects.create(level=2, name="L2")
    support = Group.objects.create(name="Support", tier=l1)
    billing = Group.objects.create(name="Billing", tier=l1)
    tech = Group.objects.create(name="Tech L2", tier=l2)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Petrova")
    marco = AgentFactory(username="marco", first_name="Marco", last_name="Rossi")
    support.members.add(anna)
    billing.members.add(marco)
    admin = AdminFactory(first_name="Ada")
    olga = CustomerFactory(first_name="Olga", last_name="Smirnova", organization=OrganizationFactory(name="Acme"))
    ticket = services.create_ticket(requester=olga, subject="Toner leaks", body="Powder everywhere.")
    return {"anna": anna, "marco": marco, "admin": admin, "olga": olga, "ticket": ticket,
            "support": support, "billing": billing, "tech": tech}


def shared(admin, name="Ask", body="Hello {requester_first_name}", **kw):
    return services.create_macro(actor=admin, name=name, body=body, shared=True, **kw)


# --- services: rendering and placeholders -------------------------------------------

def test_render_fills_every_placeholder(desk):
    macro = shared(desk["admin"], body=(
        "Hi {requester_first_name} ({requester_name}, {organization}): #{ticket_number} “{ticket_subject}”. "
        "{agent_first_name}"))
    preview = services.apply_macro(ticket=desk["ticket"], macro=macro, agent=desk["anna"])
    assert preview.text == (f"Hi Olga (Olga Smirnova, Acme): #{desk['ticket'].number} “Toner leaks”. Anna")


def test_placeholder_values_are_text_not_rescanned(desk):
    """A subject that itself looks like a placeholder is inserted as it is."""
    ticket = services.create_ticket(requester=desk["olga"], subject="{agent_first_name} {0.__class__}", body="b")
    macro = shared(desk["admin"], body="Re: {ticket_subject} / {agent_first_name}")
    assert services.apply_macro(ticket=ticket, macro=macro, agent=desk["anna"]).text == \
        "Re: {agent_first_name} {0.__class__} / Anna"


@pytest.mark.parametrize("body", [
    "Hi {requester_first_name.__class__}",
    "Hi {ticket_number:>20}",
    "Hi {requester_first_name!r}",
    "Hi {ticket.requester.password}",
    "Hi {0}",
    "Hi {first_name}",
    "Hi {}",
])
def test_format_specs_attribute_access_and_unknown_names_are_refused_at_save(desk, body):
    with pytest.raises(ValidationError) as exc:
        shared(desk["admin"], body=body)
    assert "Unknown placeholder" in exc.value.message_dict["body"][0]
    assert "{requester_first_name}" in exc.value.message_dict["body"][0]  # says what is allowed
    assert not Macro.objects.exists()


def test_braces_around_words_stay_literal(desk):
    macro = shared(desk["admin"], body="Use { the rear tray } please, {requester_first_name}.")
    assert services.apply_macro(ticket=desk["ticket"], macro=macro, agent=desk["anna"]).text == \
        "Use { the rear tray } please, Olga."


def test_property_changes_validated_like_the_ticket(desk):
    with pytest.raises(ValidationError) as exc:
        services.create_macro(actor=desk["anna"], name="x", body="b", set_status="closed", set_priority="asap",
                              add_tags=["ok", "no way!"])
    errors = exc.value.message_dict
    assert set(errors) == {"set_status", "set_priority", "add_tags"}
    assert "not a valid tag" in errors["add_tags"][0]


def test_preview_writes_nothing_and_lists_only_real_changes(desk):
    ticket = desk["ticket"]
    services.update_ticket(ticket=ticket, actor=desk["anna"], tags=["printer"])
    macro = shared(desk["admin"], set_status=Status.SOLVED, set_priority=Priority.HIGH,
                   add_tags=["printer", "toner"], set_group=desk["billing"])
    before = (TicketEvent.objects.count(), Message.objects.count())
    preview = services.apply_macro(ticket=ticket, macro=macro, agent=desk["anna"])
    assert preview.changes == {"status": "solved", "priority": "high", "add_tags": ["toner"],
                               "group": {"id": desk["billing"].pk, "name": "Billing"}}
    assert (TicketEvent.objects.count(), Message.objects.count()) == before
    macro.refresh_from_db()
    assert macro.usage_count == 0 and macro.last_used_at is None


def test_preview_warns_about_a_status_the_ticket_cannot_take(desk):
    ticket = desk["ticket"]
    services.update_ticket(ticket=ticket, actor=desk["anna"], status=Status.SOLVED)
    macro = shared(desk["admin"], set_status=Status.PENDING)
    preview = services.apply_macro(ticket=Ticket.objects.get(pk=ticket.pk), macro=macro, agent=desk["anna"])
    assert "status" not in preview.changes
    assert "cannot go from Solved to Pending" in preview.warnings[0]


# --- services: visibility and who manages what ----------------------------------------

def test_visibility_personal_shared_and_group_limited(desk):
    anna, marco, admin = desk["anna"], desk["marco"], desk["admin"]
    mine = services.create_macro(actor=anna, name="Mine", body="b")
    everyone = shared(admin, name="Everyone")
    billing_only = shared(admin, name="Billing only", groups=[desk["billing"]])
    shared(admin, name="Retired", active=False)
    assert set(selectors.usable_macros(anna)) == {mine, everyone}
    assert set(selectors.usable_macros(marco)) == {everyone, billing_only}
    assert set(selectors.usable_macros(desk["olga"])) == set()
    with pytest.raises(Macro.DoesNotExist):
        services.apply_macro(ticket=desk["ticket"], macro=mine, agent=marco)
    with pytest.raises(Macro.DoesNotExist):
        services.apply_macro(ticket=desk["ticket"], macro=billing_only, agent=anna)


def test_agents_manage_their_own_admins_the_shared(desk):
    anna, marco, admin = desk["anna"], desk["marco"], desk["admin"]
    with pytest.raises(PermissionDenied):
        services.create_macro(actor=anna, name="x", body="b", shared=True)
    mine = services.create_macro(actor=anna, name="Mine", body="b")
    team = shared(admin, name="Team")
    for macro in (mine, team):
        with pytest.raises(PermissionDenied):
            services.update_macro(macro=macro, actor=marco, body="changed")
    with pytest.raises(PermissionDenied):
        services.update_macro(macro=team, actor=anna, body="changed")
    with pytest.raises(PermissionDenied):
        services.delete_macro(macro=team, actor=anna)
    with pytest.raises(PermissionDenied):
        services.update_macro(macro=mine, actor=anna, shared=True)
    with pytest.raises(PermissionDenied):
        services.create_macro(actor=desk["olga"], name="x", body="b")
    services.update_macro(macro=mine, actor=anna, body="new {ticket_number}")
    services.delete_macro(macro=team, actor=admin)
    assert Macro.objects.get(pk=mine.pk).body == "new {ticket_number}"
    assert not Macro.objects.filter(pk=team.pk).exists()
    # Every change leaves an audit row.
    assert list(LogEntry.objects.order_by("id").values_list("object_repr", "action_flag")) == [
        ("Mine", 1), ("Team", 1), ("Mine", 2), ("Team", 3)]


def test_names_unique_per_owner_and_among_shared(desk):
    services.create_macro(actor=desk["anna"], name="Hello", body="b")
    services.create_macro(actor=desk["marco"], name="Hello", body="b")  # another agent's: fine
    shared(desk["admin"], name="Hello")
    for kwargs in ({"actor": desk["anna"]}, {"actor": desk["admin"], "shared": True}):
        with pytest.raises(ValidationError) as exc:
            services.create_macro(name=" Hello ", body="b", **kwargs)
        assert exc.value.message_dict["name"] == ["There is already a macro with this name."]


def test_groups_only_for_shared_macros(desk):
    with pytest.raises(ValidationError) as exc:
        services.create_macro(actor=desk["admin"], name="x", body="b", groups=[desk["support"]])
    assert "groups" in exc.value.message_dict


# --- sending: the reply with the macro's changes --------------------------------------

def test_send_reply_writes_message_changes_and_counts_the_use_in_one_batch(desk):
    ticket, anna = desk["ticket"], desk["anna"]
    macro = shared(desk["admin"], set_status=Status.PENDING, set_priority=Priority.HIGH, add_tags=["toner"],
                   set_group=desk["tech"])
    services.send_reply(ticket=ticket, author=anna, body="Hello Olga", status=Status.PENDING, priority="high",
                        group=desk["tech"], add_tags=["toner"], macro=macro)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.priority, ticket.group, ticket.tier.level) == ("pending", "high", desk["tech"], 2)
    assert list(ticket.tags.values_list("name", flat=True)) == ["toner"]
    assert ticket.messages.filter(internal=False, author=anna, body="Hello Olga").exists()
    events = TicketEvent.objects.filter(ticket=ticket, actor=anna)
    assert {e.data["batch"] for e in events} == {events[0].data["batch"]}
    assert all(e.data["macro"] == {"id": macro.pk, "name": "Ask"} for e in events)
    macro.refresh_from_db()
    assert macro.usage_count == 1 and macro.last_used_at is not None


def test_send_reply_refuses_a_macro_the_agent_may_not_use_and_writes_nothing(desk):
    mine = services.create_macro(actor=desk["marco"], name="Marco's", body="b")
    with pytest.raises(ValidationError) as exc:
        services.send_reply(ticket=desk["ticket"], author=desk["anna"], body="Hi", macro=mine, priority="high")
    assert "macro" in exc.value.message_dict
    assert desk["ticket"].messages.count() == 1
    assert Macro.objects.get(pk=mine.pk).usage_count == 0


def test_seed_demo_adds_shared_macros_once(db):
    call_command("seed_demo")
    call_command("seed_demo")
    names = set(Macro.objects.filter(owner__isnull=True).values_list("name", flat=True))
    assert {"Ask for details", "Solved: toner replaced"} <= names
    assert Macro.objects.filter(owner__isnull=True).count() == len(names)


# --- API ------------------------------------------------------------------------------------

def test_api_customer_gets_403_everywhere(api, desk):
    macro = shared(desk["admin"])
    api.as_user(desk["olga"])
    assert api.get("/api/v1/macros/").status_code == 403
    assert api.post("/api/v1/macros/", {"name": "x", "body": "b"}, format="json").status_code == 403
    assert api.post(f"/api/v1/macros/{macro.pk}/preview/", {"ticket": desk["ticket"].pk}, format="json").status_code == 403
    assert not Macro.objects.exclude(pk=macro.pk).exists()


def test_api_list_is_what_the_agent_may_use(api, desk):
    mine = services.create_macro(actor=desk["anna"], name="Mine", body="b")
    services.create_macro(actor=desk["marco"], name="Marco's", body="b")
    team = shared(desk["admin"], name="Team")
    shared(desk["admin"], name="Billing only", groups=[desk["billing"]])
    body = api.as_user(desk["anna"]).get("/api/v1/macros/").json()
    rows = {r["name"]: r for r in body["results"]}
    assert set(rows) == {"Mine", "Team"}
    assert rows["Mine"]["visibility"] == "personal" and rows["Mine"]["can_edit"] is True
    assert rows["Team"]["visibility"] == "shared" and rows["Team"]["can_edit"] is False
    assert rows["Mine"]["id"] == mine.pk and rows["Team"]["id"] == team.pk
    # An admin manages every shared macro, their groups' or not, and not others' personal ones.
    names = {r["name"] for r in api.as_user(desk["admin"]).get("/api/v1/macros/").json()["results"]}
    assert names == {"Team", "Billing only"}


def test_api_agent_crud_on_personal_macros(api, desk):
    api.as_user(desk["anna"])
    response = api.post("/api/v1/macros/", {
        "name": "Reboot", "body": "Hi {requester_first_name}, please reboot.", "set_status": "pending",
        "set_priority": "high", "add_tags": ["Reboot"], "set_group": desk["support"].pk}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["visibility"] == "personal" and created["add_tags"] == ["reboot"]
    assert Macro.objects.get(pk=created["id"]).owner == desk["anna"]
    response = api.patch(f"/api/v1/macros/{created['id']}/", {"active": False}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    assert response.json()["body"] == "Hi {requester_first_name}, please reboot."  # untouched
    assert api.delete(f"/api/v1/macros/{created['id']}/").status_code == 204
    assert not Macro.objects.exists()


def test_api_agent_cannot_create_or_change_shared_nor_touch_others(api, desk):
    team = shared(desk["admin"], name="Team")
    marcos = services.create_macro(actor=desk["marco"], name="Marco's", body="b")
    api.as_user(desk["anna"])
    response = api.post("/api/v1/macros/", {"name": "x", "body": "b", "visibility": "shared"}, format="json")
    assert response.status_code == 403
    assert api.patch(f"/api/v1/macros/{team.pk}/", {"body": "hacked"}, format="json").status_code == 403
    assert api.delete(f"/api/v1/macros/{team.pk}/").status_code == 403
    assert api.patch(f"/api/v1/macros/{marcos.pk}/", {"body": "hacked"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/macros/{marcos.pk}/").status_code == 404
    assert Macro.objects.get(pk=team.pk).body == "Hello {requester_first_name}"
    assert Macro.objects.get(pk=marcos.pk).body == "b"
    assert Macro.objects.count() == 2


def test_api_admin_manages_shared_macros(api, desk):
    api.as_user(desk["admin"])
    response = api.post("/api/v1/macros/", {"name": "Team", "body": "b", "visibility": "shared",
                                            "groups": [desk["support"].pk]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["groups"] == [desk["support"].pk]
    pk = response.json()["id"]
    assert api.patch(f"/api/v1/macros/{pk}/", {"groups": []}, format="json").json()["groups"] == []
    assert api.delete(f"/api/v1/macros/{pk}/").status_code == 204


def test_api_bad_input_is_400_with_field_errors(api, desk):
    api.as_user(desk["anna"])
    response = api.post("/api/v1/macros/", {"name": "", "body": "Hi {ticket.requester.email}",
                                            "set_status": "closed", "add_tags": "x"}, format="json")
    assert response.status_code == 400
    assert {"name", "set_status", "add_tags"} <= set(response.json())
    response = api.post("/api/v1/macros/", {"name": "n", "body": "Hi {ticket.requester.email}"}, format="json")
    assert response.status_code == 400
    assert "Unknown placeholder: {ticket.requester.email}" in response.json()["body"][0]
    assert not Macro.objects.exists()


def test_api_preview_renders_and_changes_nothing(api, desk):
    macro = shared(desk["admin"], body="Hi {requester_first_name}, #{ticket_number}", set_status="solved",
                   add_tags=["toner"])
    ticket = desk["ticket"]
    api.as_user(desk["anna"])
    response = api.post(f"/api/v1/macros/{macro.pk}/preview/", {"ticket": ticket.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"text": f"Hi Olga, #{ticket.number}",
                               "changes": {"status": "solved", "add_tags": ["toner"]}, "warnings": []}
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW
    assert Macro.objects.get(pk=macro.pk).usage_count == 0
    # A ticket the agent cannot see, a macro they may not use, a bad body.
    hidden = services.create_ticket(requester=desk["olga"], subject="s", body="b")
    services.update_ticket(ticket=hidden, actor=desk["admin"], tier=desk["tech"].tier, group=desk["tech"])
    assert api.post(f"/api/v1/macros/{macro.pk}/preview/", {"ticket": hidden.pk}, format="json").status_code == 404
    marcos = services.create_macro(actor=desk["marco"], name="m", body="b")
    assert api.post(f"/api/v1/macros/{marcos.pk}/preview/", {"ticket": ticket.pk}, format="json").status_code == 404
    assert api.post(f"/api/v1/macros/{macro.pk}/preview/", {"ticket": "x"}, format="json").status_code == 400


def test_schema_documents_macros(client, agent):
    client.force_login(agent)  # the schema is for signed-in users (API_DOCS_PUBLIC)
    schema = client.get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/macros/", "/api/v1/macros/{id}/", "/api/v1/macros/{id}/preview/"} <= set(schema["paths"])
    preview = schema["paths"]["/api/v1/macros/{id}/preview/"]["post"]
    assert preview["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MacroPreview")
    assert set(schema["paths"]["/api/v1/macros/{id}/"]) >= {"get", "patch", "delete"}
    assert "put" not in schema["paths"]["/api/v1/macros/{id}/"]


def test_macro_list_query_count_is_constant(api, desk, django_assert_max_num_queries):
    for i in range(3):
        shared(desk["admin"], name=f"Team {i}", groups=[desk["support"]], set_group=desk["billing"])
    api.as_user(desk["anna"])
    api.get("/api/v1/macros/")  # warm the content types
    with django_assert_max_num_queries(8) as few:
        api.get("/api/v1/macros/")
    for i in range(30):
        shared(desk["admin"], name=f"More {i}", groups=[desk["support"], desk["billing"]], set_group=desk["tech"])
        services.create_macro(actor=desk["anna"], name=f"Mine {i}", body="b")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get("/api/v1/macros/").json()["count"] == 63


# --- agent pages ------------------------------------------------------------------------------

def test_macros_page_lists_and_its_query_count_is_constant(client, desk, django_assert_max_num_queries):
    for i in range(3):
        shared(desk["admin"], name=f"Team {i}", groups=[desk["support"]], set_group=desk["billing"])
    client.force_login(desk["anna"])
    client.get("/agent/macros/")
    with django_assert_max_num_queries(20) as few:
        client.get("/agent/macros/")
    for i in range(30):
        shared(desk["admin"], name=f"More {i}", groups=[desk["support"]], set_group=desk["tech"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/agent/macros/")
    assert response.status_code == 200 and b"More 29" in response.content


def test_customer_cannot_open_the_macro_pages(client, desk):
    client.force_login(desk["olga"])
    assert client.get("/agent/macros/").status_code == 403
    assert client.post("/agent/macros/new/", {"name": "x", "body": "b"}).status_code == 403
    assert not Macro.objects.exists()


def test_agent_creates_edits_and_deletes_a_personal_macro_over_http(client, desk):
    client.force_login(desk["anna"])
    page = client.get("/agent/macros/new/").content.decode()
    assert 'name="shared"' not in page and "{requester_first_name}" in page  # agents: personal only; placeholders listed
    response = client.post("/agent/macros/new/", {"name": "Reboot", "body": "Hi {requester_first_name}",
                                                  "set_status": "pending", "add_tags": "reboot printer",
                                                  "active": "on"})
    assert response.status_code == 302 and response["Location"] == "/agent/macros/"
    macro = Macro.objects.get()
    assert (macro.owner, macro.add_tags, macro.set_status) == (desk["anna"], ["reboot", "printer"], "pending")
    response = client.post(f"/agent/macros/{macro.pk}/edit/", {"name": "Reboot", "body": "Hi {oops}", "active": "on"})
    assert response.status_code == 400
    assert "Unknown placeholder: {oops}" in response.content.decode()
    assert Macro.objects.get().body == "Hi {requester_first_name}"
    assert client.get(f"/agent/macros/{macro.pk}/delete/").status_code == 200  # asks first
    assert client.post(f"/agent/macros/{macro.pk}/delete/").status_code == 302
    assert not Macro.objects.exists()


def test_agent_pages_refuse_shared_and_others_macros(client, desk):
    team = shared(desk["admin"], name="Team")
    marcos = services.create_macro(actor=desk["marco"], name="Marco's", body="b")
    client.force_login(desk["anna"])
    page = client.get("/agent/macros/").content.decode()
    assert "Team" in page and "Marco's" not in page and f"/agent/macros/{team.pk}/edit/" not in page
    assert client.post(f"/agent/macros/{team.pk}/edit/", {"name": "Team", "body": "hacked"}).status_code == 403
    assert client.post(f"/agent/macros/{team.pk}/delete/").status_code == 403
    assert client.post(f"/agent/macros/{marcos.pk}/delete/").status_code == 404
    assert client.post("/agent/macros/new/", {"name": "S", "body": "b", "shared": "on"}).status_code == 302
    assert Macro.objects.get(name="S").owner == desk["anna"]  # the shared box is not for agents
    assert Macro.objects.get(pk=team.pk).body == "Hello {requester_first_name}"


def test_admin_creates_a_shared_macro_for_a_group_on_the_agent_page(client, desk):
    client.force_login(desk["admin"])
    response = client.post("/agent/macros/new/", {"name": "Team", "body": "b", "shared": "on",
                                                  "groups": [desk["support"].pk], "active": "on"})
    assert response.status_code == 302
    macro = Macro.objects.get()
    assert macro.is_shared and list(macro.groups.all()) == [desk["support"]]


def test_ticket_page_offers_the_agents_macros(client, desk):
    shared(desk["admin"], name="Team")
    services.create_macro(actor=desk["marco"], name="Marco's", body="b")
    client.force_login(desk["anna"])
    page = client.get(f"/agent/tickets/{desk['ticket'].number}/").content.decode()
    assert 'role="combobox"' in page and '<label class="form-label" for="macro-search">Macros</label>' in page
    assert ">Team</li>" in page and "Marco&#x27;s" not in page
    assert "<script>" not in page and "onclick=" not in page and "hx-on" not in page


def test_preview_endpoint_for_the_picker(client, desk):
    macro = shared(desk["admin"], body="Hi {requester_first_name}", set_priority="high")
    client.force_login(desk["anna"])
    url = f"/agent/tickets/{desk['ticket'].number}/macros/{macro.pk}/preview/"
    assert client.get(url).status_code == 405
    data = client.post(url).json()
    assert data["text"] == "Hi Olga" and data["changes"] == {"priority": "high"}
    assert "priority → High" in data["summary"]
    marcos = services.create_macro(actor=desk["marco"], name="m", body="b")
    assert client.post(f"/agent/tickets/{desk['ticket'].number}/macros/{marcos.pk}/preview/").status_code == 404


def test_reply_over_http_sends_the_macros_changes_and_counts_it(client, desk):
    macro = shared(desk["admin"], set_status="pending", set_priority="high", add_tags=["toner"])
    ticket = desk["ticket"]
    client.force_login(desk["anna"])
    response = client.post(f"/agent/tickets/{ticket.number}/reply/", {
        "body": "Hi Olga, a new toner is on its way.", "internal": "", "status": "pending", "priority": "high",
        "add_tags": "toner", "group": "", "macro": str(macro.pk)})
    assert response.status_code == 302
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.priority, list(ticket.tags.values_list("name", flat=True))) == \
        ("pending", "high", ["toner"])
    assert ticket.messages.filter(internal=False, body="Hi Olga, a new toner is on its way.").exists()
    assert Macro.objects.get(pk=macro.pk).usage_count == 1


def test_reply_with_a_bad_change_shows_the_error_and_keeps_everything(client, desk):
    ticket = desk["ticket"]
    marcos = services.create_macro(actor=desk["marco"], name="m", body="b")
    client.force_login(desk["anna"])
    response = client.post(f"/agent/tickets/{ticket.number}/reply/", {
        "body": "My draft", "priority": "asap", "add_tags": "ok", "macro": str(marcos.pk)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "My draft" in page and 'value="ok"' in page and "Select a valid choice" in page
    response = client.post(f"/agent/tickets/{ticket.number}/reply/", {"body": "My draft", "add_tags": "ok no!way"})
    assert response.status_code == 400
    assert 'id="reply-add-tags"' in response.content.decode() and "is not a valid tag" in response.content.decode()
    response = client.post(f"/agent/tickets/{ticket.number}/reply/", {"body": "My draft", "macro": str(marcos.pk)})
    assert response.status_code == 400 and "This macro is not available to you." in response.content.decode()
    assert ticket.messages.count() == 1


def test_django_admin_manages_shared_macros_through_the_services(client, desk):
    desk["admin"].is_staff = True
    desk["admin"].save()
    services.create_macro(actor=desk["anna"], name="Anna's", body="b")
    client.force_login(desk["admin"])
    response = client.post("/admin/tickets/macro/add/", {
        "name": "Team", "body": "Hi {requester_first_name}", "set_status": "solved", "set_priority": "",
        "add_tags": "toner, printer", "set_group": "", "active": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    macro = Macro.objects.get(name="Team")
    assert macro.is_shared and macro.add_tags == ["toner", "printer"]
    assert LogEntry.objects.filter(object_id=str(macro.pk), action_flag=1).count() == 1
    response = client.post(f"/admin/tickets/macro/{macro.pk}/change/", {
        "name": "Team", "body": "Hi {requester.password}", "set_status": "", "set_priority": "",
        "add_tags": "", "set_group": "", "active": "on"})
    assert response.status_code == 200 and "Unknown placeholder" in response.content.decode()
    listing = client.get("/admin/tickets/macro/").content.decode()
    assert "Team" in listing and "Anna&#x27;s" not in listing  # personal macros are their agents'
