"""Choosing an agent inside a group: round robin, least loaded, or by skills.
Correct under concurrency: the group row is locked while its next member is
chosen, so two workers never hand out the same turn or the last free slot."""

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection

from helpdesk.models import Group, User
from tickets import sql as ticket_sql
from tickets.models import Ticket

from . import sql

STRATEGIES = ("round_robin", "least_loaded", "skills")
FALLBACKS = ("none", "least_loaded", "lead")


DEFAULT_CAPACITY = 20  # an agent with no profile


@dataclass
class Member:
    id: int
    values: list[Any]  # the user's sql.member_attnames() values
    load_count: int  # unsolved tickets, from AgentLoad
    capacity: int
    skills: set[str]

    @cached_property
    def user(self) -> User:
        """The User, built only for the member who is chosen."""
        return User.from_db(connection.alias, sql.member_attnames(), self.values)


def _members(group: Group) -> list[Member]:
    """Active, online members of the group, in id order: one row each (user,
    profile and AgentLoad joined, no ticket count); a User is built only for
    the member who is chosen."""
    found = sql.online_members(group.pk)
    id_at = sql.member_attnames().index("id")
    members = []
    for *values, profile_id, capacity, skills, load in found:
        if isinstance(skills, str | bytes):  # JSON comes as text from both backends
            skills = json.loads(skills)
        members.append(Member(
            id=values[id_at], values=values, load_count=load or 0,  # no AgentLoad row yet: never had a ticket
            capacity=capacity if profile_id is not None else DEFAULT_CAPACITY, skills=set(skills or ()),
        ))
    return members


def _candidates(group: Group) -> list[Member]:
    """Online members under capacity."""
    return [m for m in _members(group) if m.load_count < m.capacity]


def _least_loaded(members: list[Member]) -> Member | None:
    return min(members, key=lambda m: (m.load_count, m.id)) if members else None


def choose_agent(group: Group, *, strategy: str, ticket: Ticket | None = None, fallback: str = "none",
                 locked: bool = False) -> User | None:
    """The agent to assign, or None. Call inside a transaction: the group row
    stays locked until it commits (`locked`: the caller read it FOR UPDATE)."""
    if not locked:
        group = Group.objects.select_for_update().get(pk=group.pk)
    available: list[Member]  # members under capacity, read once and reused by the fallback
    if strategy == "skills" and ticket is not None:
        wanted = {t.name for t in ticket_sql.ticket_tags(ticket)} | ({ticket.language} if ticket.language else set())
        available = _candidates(group)
        if wanted:
            # Everyone with every skill, else the best partial match (none: fallback).
            scored = [(len(m.skills & wanted), m) for m in available]
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
    agent = chosen.user if chosen is not None else None
    if agent is None and fallback == "lead" and group.lead_id:
        lead = group.lead
        if lead is not None and lead.is_active:
            agent = lead
    if agent is not None:
        group.last_assigned = agent
        sql.save_round_robin_cursor(group)
    return agent
