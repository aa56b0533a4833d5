"""Choosing an agent inside a group: round robin, least loaded, or by skills.
Correct under concurrency: the group row is locked while its next member is
chosen, so two workers never hand out the same turn or the last free slot."""

from django.contrib.auth import get_user_model
from django.db.models import Q

from .models import AgentProfile, Group

STRATEGIES = ("round_robin", "least_loaded", "skills")
FALLBACKS = ("none", "least_loaded", "lead")


def _members(group):
    """Active, online members of the group, in id order, each with `load_count`
    (unsolved tickets, from AgentLoad: one row per member, no ticket count)."""
    User = get_user_model()
    members = list(
        User.objects.filter(agent_groups=group, is_active=True, role__in=[User.Role.AGENT, User.Role.ADMIN])
        .filter(Q(agent_profile__isnull=True) | Q(agent_profile__presence=AgentProfile.Presence.ONLINE))
        .select_related("agent_profile", "load")
        .order_by("id")
    )
    for user in members:
        load = getattr(user, "load", None)  # no row yet: never had a ticket
        user.load_count = load.open_tickets if load is not None else 0
    return members


def _capacity(user):
    profile = getattr(user, "agent_profile", None)
    return profile.max_open_tickets if profile else 20


def _candidates(group):
    """Online members under capacity."""
    return [u for u in _members(group) if _has_room(u)]


def _skills(user):
    profile = getattr(user, "agent_profile", None)
    return set(profile.skills if profile else [])


def _least_loaded(members):
    return min(members, key=lambda m: (m.load_count, m.id)) if members else None


def _has_room(user):
    return user.load_count < _capacity(user)


def choose_agent(group, *, strategy, ticket=None, fallback="none", locked=False):
    """The agent to assign, or None. Call inside a transaction: the group row
    stays locked until it commits (`locked`: the caller read it FOR UPDATE)."""
    if not locked:
        group = Group.objects.select_for_update().get(pk=group.pk)
    available = None  # members under capacity, read once and reused by the fallback
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
        # Round robin: the next online member after the cursor who has room.
        available = _candidates(group)
        after = group.last_assigned_id or 0
        ordered = [m for m in available if m.id > after] + [m for m in available if m.id <= after]
        chosen = ordered[0] if ordered else None
    if chosen is None and fallback == "least_loaded":
        chosen = _least_loaded(available)
    elif chosen is None and fallback == "lead" and group.lead_id and group.lead.is_active:
        chosen = group.lead
    if chosen is not None:
        Group.objects.filter(pk=group.pk).update(last_assigned=chosen)
    return chosen
