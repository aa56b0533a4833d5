"""The customer portal. Works without JavaScript; htmx only improves it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.pagination import CappedPaginator
from knowledgebase import services as kb_services
from knowledgebase.services import new_deflection_token, valid_token

from .. import selectors, services
from ..custom_fields import check_values as check_custom_values
from ..custom_fields import display_values as display_custom_values
from ..forms import NewTicketForm, ReplyForm
from ..models import Channel, Status, Ticket


def _ticket_or_404(request, number):
    try:
        return selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None


def _apply_errors(form, exc):
    for field, errs in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errs)


def home(request):
    recent = []
    if request.user.is_authenticated:
        recent = selectors.ticket_list(request.user).order_by("-updated_at")[:5]
    return render(request, "portal/home.html", {"recent_tickets": recent})


@login_required
def ticket_list(request):
    qs = selectors.ticket_list(request.user).order_by("-updated_at", "-id")
    status = request.GET.get("status", "")
    if status == "open":
        qs = qs.exclude(status__in=[Status.SOLVED, Status.CLOSED])
    elif status == "solved":
        qs = qs.filter(status__in=[Status.SOLVED, Status.CLOSED])
    page = CappedPaginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "portal/ticket_list.html", {"page": page, "tickets": page.object_list, "status": status})


def _suggest_as_you_type(form):
    """The subject asks the KB for suggestions as the customer types (htmx, debounced)."""
    form.fields["subject"].widget.attrs.update({
        "hx-get": reverse("kb:suggest"), "hx-trigger": "keyup changed delay:300ms",
        "hx-target": "#kb-suggestions", "hx-include": "#deflection-token", "hx-sync": "this:replace",
        "autocomplete": "off", "aria-describedby": "kb-suggestions",
    })


@login_required
def new_ticket(request):
    form = NewTicketForm(request.POST or None, request.FILES or None)
    # Ties this form's suggestions to its outcome (knowledgebase.Deflection).
    deflection = valid_token(request.POST.get("deflection")) or new_deflection_token()
    _suggest_as_you_type(form)
    if request.method == "POST" and form.is_valid():
        # Each custom field's error beside its input (the service checks the
        # same way and would only list them above the form).
        ticket_type = form.cleaned_data["type"]
        _cleaned, field_errors = check_custom_values(ticket_type, form.custom_values(ticket_type))
        for name, errs in field_errors.items():
            form.add_error(f"cf_{ticket_type.pk}_{name}" if name else None, errs)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.create_ticket(
                requester=request.user, subject=form.cleaned_data["subject"], body=form.cleaned_data["body"],
                type=form.cleaned_data["type"], attachments=form.cleaned_data["attachments"], channel=Channel.PORTAL,
                language=request.LANGUAGE_CODE, custom_fields=form.custom_values(form.cleaned_data["type"]),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            kb_services.ticket_submitted(token=deflection, user=request.user, ticket_number=ticket.number)
            messages.success(request, _("Ticket %(number)s created. We will reply here and by email.") % {
                "number": ticket.display_number})
            return redirect("portal:ticket", number=ticket.number)
    return render(request, "portal/new_ticket.html", {"form": form, "deflection": deflection},
                  status=400 if form.errors else 200)


@login_required
def ticket_detail(request, number, reply_form=None, status=200):
    ticket = _ticket_or_404(request, number)
    return render(request, "portal/ticket.html", {
        "ticket": ticket,
        "conversation": selectors.visible_messages(request.user, ticket),
        "reply_form": reply_form or ReplyForm(),
        "can_solve": ticket.can_transition_to(Status.SOLVED),
        "custom_values": display_custom_values(ticket),
        # A merged ticket links to the one it went into, if this user sees it.
        "merged_target": (selectors.visible_tickets(request.user).filter(pk=ticket.merged_into_id)
                          .only("id", "number").first() if ticket.merged_into_id else None),
    }, status=status)


@login_required
@require_POST
def reply(request, number):
    ticket = _ticket_or_404(request, number)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            # The inbound entry point threads the reply, or opens a linked
            # follow-up when the ticket is closed (the same rule as email).
            target, _message, created = services.receive_message(
                requester=request.user, ticket=ticket, body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"], channel=Channel.PORTAL,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if created:
                messages.info(request, _("%(old)s was closed, so we opened %(new)s for your message.") % {
                    "old": ticket.display_number, "new": target.display_number})
            else:
                messages.success(request, _("Your reply was sent."))
            return redirect("portal:ticket", number=target.number)
    return ticket_detail(request, number, reply_form=form, status=400)


@login_required
@require_POST
def solve(request, number):
    ticket = _ticket_or_404(request, number)
    try:
        services.change_status(ticket=ticket, actor=request.user, status=Status.SOLVED)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("Marked as solved. Reply any time to reopen it."))
    return redirect("portal:ticket", number=number)
