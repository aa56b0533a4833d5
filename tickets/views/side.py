"""Side conversations on the agent's ticket page (issue 17): ask an outside expert by mail, write again,
close. Thin: the services check who may, write and queue the mail; htmx swaps the page's main part."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..models import SideConversation, Ticket
from .agent import _gone, _ticket_context, agent_required

FIELDS = ("to", "subject", "body", "include_messages", "include_attachments")


def _page(request: HttpRequest, ticket: Ticket, *, side: dict | None = None, status: int = 200) -> HttpResponse:
    """The ticket page after an action: its main part for htmx (with the toasts), else a redirect (or the whole
    page with the errors)."""
    if status == 200 and not request.htmx:  # type: ignore[attr-defined]
        return redirect("agent:ticket", number=ticket.number)
    template = "agent/_ticket_main.html" if request.htmx else "agent/ticket.html"  # type: ignore[attr-defined]
    return render(request, template, _ticket_context(request, ticket, side=side), status=status)


@agent_required
@require_POST
def side_start(request: HttpRequest, number: int) -> HttpResponse:
    """Ask an expert: the form's addresses, subject, question and the chosen messages and attachments."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number, unsent=request.POST.get("body", "")[:200_000])
    data = request.POST
    try:
        side = services.start_side_conversation(
            ticket=ticket, agent=request.user, to=data.get("to", ""), subject=data.get("subject", ""),  # type: ignore[arg-type]
            body=data.get("body", ""), include_message_ids=data.getlist("include_messages"),
            include_attachment_ids=data.getlist("include_attachments"))
    except ValidationError as exc:
        errors = {k if k in FIELDS else "to": v for k, v in exc.message_dict.items()}
        values = {"to": data.get("to", ""), "subject": data.get("subject", ""), "body": data.get("body", ""),
                  "include_messages": data.getlist("include_messages"),
                  "include_attachments": data.getlist("include_attachments")}
        messages.error(request, _("The question was not sent: see the form."))
        return _page(request, ticket, side={"errors": errors, "values": values, "open": True}, status=400)
    messages.success(request, _("Question sent to %(to)s (side conversation S%(n)d).") % {
        "to": side.to_display, "n": side.number})
    return _page(request, ticket)


def _side(request: HttpRequest, number: int, pk: int) -> tuple[Ticket, SideConversation]:
    ticket = selectors.get_visible_ticket(request.user, number=number)
    return ticket, selectors.get_side_conversation(request.user, ticket, pk)


@agent_required
@require_POST
def side_reply(request: HttpRequest, number: int, pk: int) -> HttpResponse:
    """Write again to the expert, in the side conversation's mail thread."""
    try:
        ticket, side = _side(request, number, pk)
    except (Ticket.DoesNotExist, SideConversation.DoesNotExist):
        return _gone(request, number, unsent=request.POST.get("body", "")[:200_000])
    try:
        services.reply_side_conversation(side_conversation=side, agent=request.user,  # type: ignore[arg-type]
                                         body=request.POST.get("body", ""))
    except ValidationError as exc:
        errors = exc.message_dict.get("body", exc.messages)
        messages.error(request, _("The reply was not sent: %(why)s") % {"why": " ".join(errors)})
        return _page(request, ticket, side={"reply_to": side.pk, "reply_errors": errors,
                                            "reply_value": request.POST.get("body", "")}, status=400)
    messages.success(request, _("Reply sent to %(to)s.") % {"to": side.to_display})
    return _page(request, ticket)


@agent_required
@require_POST
def side_close(request: HttpRequest, number: int, pk: int) -> HttpResponse:
    """Close a side conversation (an answer that comes later still lands, and opens it again)."""
    try:
        ticket, side = _side(request, number, pk)
    except (Ticket.DoesNotExist, SideConversation.DoesNotExist):
        return _gone(request, number, unsaved=True)
    services.close_side_conversation(side_conversation=side, agent=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Side conversation S%(n)d closed.") % {"n": side.number})
    return _page(request, ticket)
