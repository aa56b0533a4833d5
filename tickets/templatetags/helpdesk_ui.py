from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ..models import Channel, Priority, Status

register = template.Library()

STATUS_COLOURS = {
    Status.NEW: "bg-yellow-lt",
    Status.OPEN: "bg-red-lt",
    Status.PENDING: "bg-blue-lt",
    Status.ON_HOLD: "bg-purple-lt",
    Status.SOLVED: "bg-green-lt",
    Status.CLOSED: "bg-secondary-lt",
}
PRIORITY_CLASSES = {
    Priority.LOW: "text-secondary",
    Priority.NORMAL: "",
    Priority.HIGH: "text-orange",
    Priority.URGENT: "badge bg-red text-red-fg priority-urgent",
}


@register.simple_tag
def status_badge(ticket_or_status):
    value = getattr(ticket_or_status, "status", ticket_or_status)
    return format_html('<span class="badge {}" data-status="{}">{}</span>', STATUS_COLOURS.get(value, ""), value,
                       Status(value).label)


@register.simple_tag
def priority_label(ticket):
    value = ticket.priority
    icon = ' <i class="ti ti-alert-triangle" aria-hidden="true"></i>' if value == Priority.URGENT else ""
    return format_html('<span class="{}">{}{}</span>', PRIORITY_CLASSES.get(value, ""), Priority(value).label,
                       mark_safe(icon))  # a constant, not user input


def _label(choices, value):
    """The label of a stored choice (an event's old or new value), or the
    value itself when it is no longer one of them."""
    try:
        return choices(value).label
    except ValueError:
        return value


@register.filter
def status_label(value):
    return _label(Status, value)


@register.filter
def channel_label(value):
    return _label(Channel, value)


@register.filter
def priority_text(value):
    return _label(Priority, value)


@register.simple_tag
def ago(moment):
    """"5 minutes ago" in the reader's language, the exact time (in the user's
    zone) on hover. Our own phrases: Django's catalogues lack some languages'
    (Greek had "31 minutes")."""
    from django.template.defaultfilters import date as date_filter
    from django.utils import timezone
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if not moment:
        return "—"
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        text = _("just now")
    elif seconds < 3600:
        n = int(seconds // 60)
        text = ngettext("%(n)d minute ago", "%(n)d minutes ago", n) % {"n": n}
    elif seconds < 86400:
        n = int(seconds // 3600)
        text = ngettext("%(n)d hour ago", "%(n)d hours ago", n) % {"n": n}
    elif seconds < 30 * 86400:
        n = int(seconds // 86400)
        text = ngettext("%(n)d day ago", "%(n)d days ago", n) % {"n": n}
    else:
        text = date_filter(moment, "SHORT_DATE_FORMAT")
    return format_html('<span title="{}">{}</span>', date_filter(moment, "DATETIME_FORMAT"), text)


@register.filter
def strategy_label(value):
    from django.utils.translation import gettext as _

    return {"round_robin": _("round robin"), "least_loaded": _("least loaded"), "skills": _("by skills")}.get(value, value)
