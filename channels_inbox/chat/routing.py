"""Which group a new chat goes to (ChatRoute), whether it is open now, and which agent is offered it next."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from escalation import business_time
from escalation.calendars import AROUND_THE_CLOCK, Snapshot
from helpdesk.models import Group, Tier, User
from helpdesk.teams import AgentProfile
from tickets.models import TicketType

from ..models import ChatAgentPresence, ChatRoute, ChatSession

DEFAULT_CHAT_CAPACITY = 3  # an agent with no profile (AgentProfile's default)


@dataclass(frozen=True)
class Routed:
    route: ChatRoute | None
    group: Group | None
    open_now: bool  # within the route's business hours (always, without them)


def _matches(route: ChatRoute, *, page_url: str, site: str, language: str, ticket_type: TicketType | None) -> bool:
    return ((not route.url_prefix or page_url.startswith(route.url_prefix))
            and (not route.site or route.site.lower() == site.lower())
            and (not route.language or route.language.lower() == language[:len(route.language)].lower())
            and (route.ticket_type_id is None or (ticket_type is not None and route.ticket_type_id == ticket_type.pk)))


def route_chat(*, page_url: str, language: str, ticket_type: TicketType | None = None,
               now: datetime | None = None) -> Routed:
    """The first active route whose conditions all match; none: any online agent."""
    site = urlsplit(page_url).hostname or ""
    for route in ChatRoute.objects.filter(active=True).select_related("group"):
        if _matches(route, page_url=page_url, site=site, language=language, ticket_type=ticket_type):
            return Routed(route, route.group, _open(route, now or timezone.now()))
    return Routed(None, None, True)


def _open(route: ChatRoute, now: datetime) -> bool:
    if route.business_hours_id is None:
        return True
    calendar = Snapshot(stamp=(), policies=(), calendars={}).calendar(route.business_hours_id)
    return calendar is AROUND_THE_CLOCK or business_time.is_open(calendar, now)


def chat_load() -> Subquery:
    """Per agent (OuterRef pk): chats they hold or are being offered."""
    return Subquery(
        ChatSession.objects.filter(Q(agent=OuterRef("pk"), status=ChatSession.Status.ACTIVE)
                                   | Q(offered_to=OuterRef("pk"), status=ChatSession.Status.WAITING))
        .order_by().annotate(one=Value(1)).values("one").annotate(n=Count("*")).values("n")[:1],
        output_field=IntegerField())


def connected_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_PRESENCE_GRACE)


def available_agents(group: Group | None, *, exclude: Sequence[int] = (), tier: Tier | None = None) -> list[User]:
    """Online agents with a chat socket heard within the grace period, under their chat capacity, least loaded
    (open chats / capacity) first; in `group` (else `tier`) when given."""
    qs = (get_user_model().objects
          .filter(is_active=True, role__in=[User.Role.AGENT, User.Role.ADMIN], chat_presence__sockets__gt=0,
                  chat_presence__seen_at__gte=connected_cutoff())
          .exclude(agent_profile__presence__in=[AgentProfile.Presence.AWAY, AgentProfile.Presence.OFFLINE])
          .exclude(pk__in=list(exclude))
          .annotate(chat_load=Coalesce(chat_load(), 0),
                    chat_capacity=Coalesce("agent_profile__max_concurrent_chats", DEFAULT_CHAT_CAPACITY)))
    if group is not None:
        qs = qs.filter(agent_groups=group)
    elif tier is not None:
        qs = qs.filter(pk__in=Group.members.through.objects.filter(group__tier=tier).values("user_id"))
    rows = sorted((load / max(capacity, 1), pk) for pk, load, capacity
                  in qs.values_list("pk", "chat_load", "chat_capacity") if load < capacity)
    users = get_user_model().objects.in_bulk([pk for _share, pk in rows])
    return [users[pk] for _share, pk in rows if pk in users]


def lock_agent_slot(user: User) -> bool:
    """Lock the agent's presence row (two chats offered at once serialize here) and re-check the capacity."""
    presence = ChatAgentPresence.objects.select_for_update().filter(user=user).first()
    if presence is None:
        return False
    load = ChatSession.objects.filter(Q(agent=user, status=ChatSession.Status.ACTIVE)
                                      | Q(offered_to=user, status=ChatSession.Status.WAITING)).count()
    profile = AgentProfile.objects.filter(user=user).values_list("max_concurrent_chats", flat=True).first()
    return load < (profile if profile is not None else DEFAULT_CHAT_CAPACITY)
