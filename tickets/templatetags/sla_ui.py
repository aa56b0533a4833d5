"""SLA in the agent workspace: the queue's due badge and the ticket page's SLA panel,
read from the ticket row (sla_due_at and the `sla` JSON, see tickets.clocks)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..clocks import TARGETS, TargetState
from ..filters import SOON  # under an hour to go: a warning, whatever the policy's threshold
from ..models import Priority, Ticket

register = template.Library()

BADGE = {
    "neutral": "bg-secondary-lt",
    "warning": "bg-orange-lt",
    "overdue": "bg-red text-red-fg",
    "paused": "bg-blue-lt",
    "met": "bg-green-lt",
}


def _instant(value: object) -> datetime | None:
    """An ISO 8601 string (or a datetime) as an aware datetime; None for anything else."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def duration(minutes: float) -> str:
    """A compact span: "25 min", "3 h", "1 h 5 min", "2 d 4 h"."""
    minutes = max(0, int(minutes))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    d = ngettext("%(n)d d", "%(n)d d", days) % {"n": days}
    h = ngettext("%(n)d h", "%(n)d h", hours) % {"n": hours}
    m = ngettext("%(n)d min", "%(n)d min", mins) % {"n": mins}
    if days:
        return f"{d} {h}" if hours else d
    if hours:
        return f"{h} {m}" if mins else h
    return m


def relative(moment: datetime, now: datetime) -> str:
    """"in 25 min" before `moment`, "overdue 1 h 5 min" after it."""
    seconds = (moment - now).total_seconds()
    if seconds >= 0:
        return _("in %(time)s") % {"time": duration(max(1, math.ceil(seconds / 60)))}
    return _("overdue %(time)s") % {"time": duration(max(1, -seconds // 60))}


def exact(moment: datetime) -> str:
    """The instant in the reader's time zone (the active one), as the locale writes it."""
    return date_filter(timezone.localtime(moment), "DATETIME_FORMAT")


def _targets(sla: object) -> dict[str, TargetState]:
    targets = sla.get("targets") if isinstance(sla, dict) else None
    return targets if isinstance(targets, dict) else {}


def due_state(ticket: Ticket, now: datetime | None = None) -> tuple[str, datetime | None]:
    """(kind, due) of the ticket's next deadline: kind is neutral, warning, overdue, paused or ""
    (no SLA running)."""
    now = now or timezone.now()
    due = ticket.sla_due_at
    targets = _targets(ticket.sla)
    if due is None:
        paused = any(t.get("state") == "paused" for t in targets.values() if isinstance(t, dict))
        return ("paused" if paused else "", None)
    if due <= now:
        return "overdue", due
    warn_ats = [_instant(t.get("warn_at")) for t in targets.values()
                if isinstance(t, dict) and t.get("state") == "active" and _instant(t.get("due_at")) == due]
    if due - now < SOON or any(w is not None and w <= now for w in warn_ats):
        return "warning", due
    return "neutral", due


@register.simple_tag
def sla_badge(ticket: Ticket) -> str:
    """The queue's Due cell: the next deadline as a badge (text and colour), exact time on hover."""
    kind, due = due_state(ticket)
    if not kind:
        return mark_safe('<span class="text-secondary" data-sla="">—</span>')  # a constant
    if due is None:
        return format_html('<span class="badge {}" data-sla="paused" title="{}">{}</span>',
                           BADGE["paused"], _("The SLA clock is paused while the ticket waits."), _("paused"))
    return format_html('<span class="badge {} sla-badge" data-sla="{}" title="{}">{}</span>',
                       BADGE[kind], kind, exact(due), relative(due, timezone.now()))


def _or_list(words: list[str]) -> str:
    if len(words) < 2:
        return "".join(words)
    return _("%(list)s or %(last)s") % {"list": ", ".join(words[:-1]), "last": words[-1]}


def _priority_word(value: str) -> str:
    try:
        return str(Priority(value).label).lower()
    except ValueError:
        return value


def policy_reason(sla: dict[str, Any]) -> str:
    """Why the policy applies: "first matching policy #2: type is Payment; priority is urgent or high"."""
    reason = sla.get("reason") or {}
    parts = []
    if reason.get("types"):
        parts.append(_("type is %(types)s") % {"types": _or_list([str(t) for t in reason["types"]])})
    if reason.get("priorities"):
        words = [_priority_word(str(p)) for p in reason["priorities"]]
        parts.append(_("priority is %(priorities)s") % {"priorities": _or_list(words)})
    conditions = "; ".join(parts) if parts else _("applies to every ticket")
    return _("first matching policy #%(position)s: %(conditions)s") % {
        "position": reason.get("position", "?"), "conditions": conditions}


def _target_row(name: str, target: TargetState, now: datetime) -> dict[str, Any]:
    labels = {"first_response": _("First response"), "next_response": _("Next response"),
              "resolution": _("Resolution")}
    state = target.get("state", "active")
    due = _instant(target.get("due_at"))
    warn = _instant(target.get("warn_at"))
    row: dict[str, Any] = {
        "name": name, "label": labels.get(name, name), "state": state, "due": due,
        "met_at": _instant(target.get("met_at")), "breached_at": _instant(target.get("breached_at")),
        "breach": duration(target.get("breach_minutes") or 0) if target.get("breach_minutes") else "",
        "used": duration(target.get("used") or 0), "target": duration(target.get("minutes") or 0),
        "relative": relative(due, now) if due else "",
    }
    if state == "met":
        row.update(badge=BADGE["met"], state_label=_("Met"))
    elif state == "paused":
        row.update(badge=BADGE["paused"], state_label=_("Paused"))
    elif state == "breached" or (due is not None and due <= now):
        row.update(badge=BADGE["overdue"], state_label=_("Breached"))
    elif due is not None and (due - now < SOON or (warn is not None and warn <= now)):
        row.update(badge=BADGE["warning"], state_label=_("Due soon"))
    else:
        row.update(badge=BADGE["neutral"], state_label=_("Running"))
    return row


@register.simple_tag
def sla_panel(ticket: Ticket) -> dict[str, Any] | None:
    """What the ticket page's SLA panel shows, or None when no SLA applies."""
    sla = ticket.sla if isinstance(ticket.sla, dict) else {}
    targets = _targets(sla)
    if not sla or not (sla.get("policy") or targets):
        return None
    now = timezone.now()
    calendar = sla.get("calendar")
    return {
        "policy": (sla.get("policy") or {}).get("name", ""),
        "reason": policy_reason(sla) if sla.get("reason") else "",
        "calendar": calendar.get("name", "") if isinstance(calendar, dict) else None,
        "targets": [_target_row(name, targets[name], now) for name in TARGETS if isinstance(targets.get(name), dict)],
    }


@register.filter
def exact_time(moment: datetime | None) -> str:
    return exact(moment) if moment else ""


@register.filter
def short_time(moment: datetime | None) -> str:
    """As the rest of the ticket page writes times (SHORT_DATETIME_FORMAT), in the reader's zone."""
    return date_filter(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else ""
