"""Choosing an agent inside a group: round robin, least loaded, or by skills.
Correct under concurrency: the group row is locked while its next member is
chosen, so two workers never hand out the same turn or the last free slot."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from tickets.models import UNSOLVED_STATUSES, Ticket

from .models import AgentProfile, Group

STRATEGIES = ("round_robin", "least_loaded", "skills")
FALLBACKS = ("none", "least_loaded", "lead")


def _members(group):
    """Active, online members of the group, in id order."""
    User = get_user_model()
    return list(
        User.objects.filter(agent_groups=group, is_active=True, role__in=[User.Role.AGENT, User.Role.ADMIN])
        .filter(Q(agent_profile__isnull=True) | Q(agent_profile__presence=AgentProfile.Presence.ONLINE))
        .select_related("agent_profile")
        .order_by("id")
    )


def _capacity(user):
    profile = getattr(user, "agent_profile", None)
    return profile.max_open_tickets if profile else 20


def _candidates(group):
    """Online members under capacity, each with `load` (open tickets)."""
    members = _members(group)
    # Open-ticket load per member: one grouped count over the
    # (assignee, status) index, not a join through every ticket they ever had.
    loads = dict(
        Ticket.objects.filter(assignee_id__in=[u.id for u in members], status__in=UNSOLVED_STATUSES)
        .order_by().values_list("assignee_id").annotate(n=Count("id"))
    )
    for user in members:
        user.load = loads.get(user.id, 0)
    return [u for u in members if u.load < _capacity(u)]


def _skills(user):
    profile = getattr(user, "agent_profile", None)
    return set(profile.skills if profile else [])


def _least_loaded(members):
    return min(members, key=lambda m: (m.load, m.id)) if members else None


def _has_room(user):
    """Under capacity? A count that stops at the capacity (index-only)."""
    capacity = _capacity(user)
    return Ticket.objects.filter(assignee=user, status__in=UNSOLVED_STATUSES).order_by().values("id")[:capacity].count() < capacity


def choose_agent(group, *, strategy, ticket=None, fallback="none", locked=False):
    """The agent to assign, or None. Call inside a transaction: the group row
    stays locked until it commits (`locked`: the caller read it FOR UPDATE)."""
    if not locked:
        group = Group.objects.select_for_update().get(pk=group.pk)
    available = None  # members under capacity, loads counted once and reused by the fallback
    if strategy == "skills" and ticket is not None:
        wanted = {t.name for t in ticket.tags.all()} | ({ticket.language} if ticket.language else set())
        available = _candidates(group)
        if wanted:
            # Everyone with every skill, else the best partial match (none: fallback).
            scored = [(len(_skills(m) & wanted), m) for m in available]
            best = max((score for score, _m in scored), default=0)
            matching = [m for score, m in scored if score == best and best > 0]
        else:
            matching = available
        chosen = _least_loaded(matching)
    elif strategy == "least_loaded":
        available = _candidates(group)
        chosen = _least_loaded(available)
    else:
        # Round robin: the next online member after the cursor who has room;
        # loads are only counted for the members actually considered.
        members = _members(group)
        after = group.last_assigned_id or 0
        ordered = [m for m in members if m.id > after] + [m for m in members if m.id <= after]
        chosen = next((m for m in ordered if _has_room(m)), None)
    if chosen is None and fallback == "least_loaded":
        chosen = _least_loaded(available if available is not None else _candidates(group))
    elif chosen is None and fallback == "lead" and group.lead_id and group.lead.is_active:
        chosen = group.lead
    if chosen is not None:
        Group.objects.filter(pk=group.pk).update(last_assigned=chosen)
    return chosen
