"""Issue 13, canned replies (macros): rendering and placeholders, visibility,
the services' rules, the API (CRUD permissions, preview, schema), the agent
pages and the reply that sends a macro's changes."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from escalation.models import Group, Tier
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
