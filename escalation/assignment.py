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


def _candidates(group, *, skills=()):
    """Online members under capacity, each with `load` (open tickets)."""
    qs = _members(group)
    # Open-ticket load per member: one grouped count over the
    # (assignee, status) index, not a join through every ticket they ever had.
    loads = dict(
        Ticket.objects.filter(assignee_id__in=[u.id for u in qs], status__in=UNSOLVED_STATUSES)
        .order_by().values_list("assignee_id").annotate(n=Count("id"))
    )
    members = []
    for user in qs:
        user.load = loads.get(user.id, 0)
        if user.load >= _capacity(user):
            continue
        if skills:
            profile = getattr(user, "agent_profile", None)
            if not set(skills) <= set(profile.skills if profile else []):
                continue
        members.append(user)
    return members


def _has_room(user):
    """Under capacity? A count that stops at the capacity (index-only)."""
    capacity = _capacity(user)
    return Ticket.objects.filter(assignee=user, status__in=UNSOLVED_STATUSES).order_by().values("id")[:capacity].count() < capacity


def choose_agent(group, *, strategy, ticket=None, fallback="none"):
    """The agent to assign, or None. Call inside a transaction: the group row
    stays locked until it commits."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    if strategy == "skills" and ticket is not None:
        wanted = sorted({t.name for t in ticket.tags.all()} | ({ticket.language} if ticket.language else set()))
        members = _candidates(group, skills=wanted)
        if not members:
            # Nobody has every skill: the best partial match, then the fallback.
            everyone = _candidates(group)
            scored = [(len(set(getattr(getattr(m, "agent_profile", None), "skills", [])) & set(wanted)), m)
                      for m in everyone]
            best = max((s for s, _ in scored), default=0)
            members = [m for s, m in scored if s == best and best > 0]
        chosen = min(members, key=lambda m: (m.load, m.id)) if members else None
    elif strategy == "least_loaded":
        members = _candidates(group)
        chosen = min(members, key=lambda m: (m.load, m.id)) if members else None
    else:
        # Round robin: the next online member after the cursor who has room;
        # loads are only counted for the members actually considered.
        members = _members(group)
        after = group.last_assigned_id or 0
        ordered = [m for m in members if m.id > after] + [m for m in members if m.id <= after]
        chosen = next((m for m in ordered if _has_room(m)), None)
    if chosen is None and fallback == "least_loaded" and strategy != "least_loaded":
        members = _candidates(group)
        chosen = min(members, key=lambda m: (m.load, m.id)) if members else None
    elif chosen is None and fallback == "lead" and group.lead_id and group.lead.is_active:
        chosen = group.lead
    if chosen is not None:
        Group.objects.filter(pk=group.pk).update(last_assigned=chosen)
    return chosen
