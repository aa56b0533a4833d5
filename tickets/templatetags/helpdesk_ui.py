from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from helpdesk.templatetags.helpdesk_time import ago

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


register.simple_tag(ago, name="ago")  # the core's, for the agent and portal templates


@register.filter
def strategy_label(value):
    from django.utils.translation import gettext as _

    return {"round_robin": _("round robin"), "least_loaded": _("least loaded"), "skills": _("by skills")}.get(value, value)
