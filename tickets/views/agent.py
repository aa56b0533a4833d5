"""The agent dashboard: queue, ticket page, reply, properties, bulk actions.
Thin: forms parse, services write, selectors read."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from helpdesk.pagination import CappedPaginator
from helpdesk.services import create_customer_by_agent

from .. import selectors, services
from ..filters import SLA_CHOICES, VIEW_CHOICES, TicketFilter, queue_params
from ..forms import AgentReplyForm, OnBehalfTicketForm, PropertiesForm, SavedViewForm, custom_form_field
from ..models import Priority, Status, Ticket

PAGE_SIZE = 30
SORT_COLUMNS = [
    ("number", _lazy("Number")), ("subject", _lazy("Subject")), ("status", _lazy("Status")),
    ("priority", _lazy("Priority")), ("sla_due_at", _lazy("Due")), ("", _lazy("Type")), ("", _lazy("Group")), ("", _lazy("Assignee")),
    ("updated_at", _lazy("Updated")),
]


def agent_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_agent:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _errors_to_messages(request, exc):
    for errs in getattr(exc, "message_dict", {"": exc.messages}).values():
        for err in errs:
            messages.error(request, err)


def _next_or_queue(request):
    """The posted `next` if it is on this site (the same guard as the login and
    language switch), else the queue."""
    nxt = request.POST.get("next") or ""
    if nxt.startswith("/") and url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(nxt)
    return redirect("agent:queue")


# The filters the queue's form shows; errors of the others are listed above the table.
FORM_FILTERS = ("view", "status", "priority", "sla", "type", "assignee", "tag", "q", "ordering")


def _queue_context(request):
    params = queue_params(request.GET)
    filterset = TicketFilter(params, queryset=selectors.ticket_list(request.user), request=request)
    valid = filterset.is_valid()
    # An invalid value is shown next to its field; the table is not replaced
    # by an empty one that would read as "no tickets".
    qs = filterset.qs if valid else selectors.ticket_list(request.user).none()
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = params.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("ordering", None)
    return {
        "filterset": filterset,
        "filters_valid": valid,
        "form_fields": [filterset.form[name] for name in FORM_FILTERS],
        "other_errors": [(filterset.form[name].label, errs) for name, errs in filterset.form.errors.items()
                         if name not in FORM_FILTERS],
        "page": page,
        "tickets": page.object_list,
        "current_view": params.get("view", ""),
        "ordering": params.get("ordering", ""),
        "querystring": query.urlencode(),
        "sort_querystring": sort_query.urlencode(),
        "views": VIEW_CHOICES,
        "sort_columns": SORT_COLUMNS,
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "sla_choices": SLA_CHOICES,
        "ticket_types": selectors.active_ticket_types(),
        "agents": selectors.assignable_agents(),
    }


@agent_required
def queue(request):
    # The sidebar counts load right after the page (htmx), so the table is
    # never held up by them.
    context = _queue_context(request)
    return render(request, "agent/queue.html", context, status=200 if context["filters_valid"] else 400)


@agent_required
def queue_rows(request):
    """htmx partial: the table body and pager, for polling and filtering. A
    change of the filter form puts the filters in the address bar; invalid
    filters answer 400 with the errors next to their fields."""
    context = _queue_context(request)
    response = render(request, "agent/_queue_table.html", {**context, "oob_errors": bool(request.htmx)},
                      status=200 if context["filters_valid"] else 400)
    if request.htmx and request.htmx.trigger == "queue-filters":
        url = reverse("agent:queue")
        response["HX-Push-Url"] = f"{url}?{context['querystring']}" if context["querystring"] else url
    return response


@agent_required
def counts(request):
    """The sidebar: the standard views and the agent's saved views, counted."""
    def unsorted(params):
        params = params.copy()
        params.pop("ordering", None)
        return params.urlencode()

    current = queue_params(request.GET)
    saved = [(view, n, unsorted(QueryDict(view.query)) == unsorted(current))
             for view, n in selectors.saved_view_counts(request.user, selectors.saved_views(request.user))]
    return render(request, "agent/_counts.html", {
        "counts": selectors.queue_counts(request.user), "views": VIEW_CHOICES,
        "current_view": "" if any(active for _v, _n, active in saved) else current.get("view", ""),
        "saved_views": saved,
    })


def _saved_views_page(request, *, create_form=None, rename_errors=None, status=200):
    return render(request, "agent/saved_views.html", {
        "saved_views": selectors.saved_view_counts(request.user, selectors.saved_views(request.user)),
        "create_form": create_form or SavedViewForm(initial={"query": request.GET.get("query", "")}),
        "rename_errors": rename_errors or {},
    }, status=status)


@agent_required
def saved_views(request):
    """GET: the agent's saved views, to rename or delete. POST: save the
    queue's current filters as a new view."""
    if request.method != "POST":
        return _saved_views_page(request)
    form = SavedViewForm(request.POST)
    if form.is_valid():
        try:
            view = services.create_saved_view(owner=request.user, name=form.cleaned_data["name"],
                                              query=form.cleaned_data["query"])
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
            url = reverse("agent:queue")
            return redirect(f"{url}?{view.query}" if view.query else url)
    return _saved_views_page(request, create_form=form, status=400)


def _own_view_or_404(request, pk):
    view = selectors.saved_views(request.user).filter(pk=pk).first()
    if view is None:
        raise Http404
    return view


@agent_required
@require_POST
def saved_view_rename(request, pk):
    view = _own_view_or_404(request, pk)
    try:
        services.update_saved_view(view=view, owner=request.user, name=request.POST.get("name", ""))
    except ValidationError as exc:
        return _saved_views_page(request, rename_errors={view.pk: exc.message_dict.get("name", exc.messages)},
                                 status=400)
    messages.success(request, _("View renamed."))
    return redirect("agent:saved_views")


@agent_required
@require_POST
def saved_view_delete(request, pk):
    view = _own_view_or_404(request, pk)
    services.delete_saved_view(view=view, owner=request.user)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("agent:saved_views")


def _ticket_context(request, ticket, reply_form=None, panel_errors=None, escalation=None, side=None):
    timeline = selectors.timeline(request.user, ticket)
    mails = list(selectors.ticket_deliveries(request.user, ticket))
    by_message = {d.message_id: d for d in mails if d.message_id}  # the latest mail of each message
    for kind, item in timeline:
        if kind == "message":
            item.delivery = by_message.get(item.pk)
    return {
        "retryable_deliveries": {d.pk for d in mails if d.retryable},
        "macros": selectors.usable_macros(request.user).only("id", "name"),
        "macro_groups": selectors.macro_groups(),
        "ticket": ticket,
        "timeline": timeline,
        "reply_form": reply_form or AgentReplyForm(),
        "priorities": Priority.choices,
        "other_tickets": selectors.requester_other_tickets(request.user, ticket),
        "allowed_statuses": [s for s in Status.values if s == ticket.status or ticket.can_transition_to(s)],
        "statuses": Status.choices,
        "ticket_types": selectors.active_ticket_types(),
        "agents": selectors.assignable_agents(),
        "custom_fields": _custom_panel_fields(ticket, panel_errors or {}),
        "panel_errors": panel_errors or {},
        "escalation": {"targets": selectors.escalation_targets(ticket), **(escalation or {}),
                       "history": [e for kind, e in timeline if kind == "event" and e.kind == "escalated"],
                       "keeps_assignee": settings.HELPDESK_ESCALATION_KEEPS_ASSIGNEE},
        "articles_used": selectors.ticket_articles(request.user, ticket),
        "can_create_article": request.user.can_edit_kb and ticket.status in (Status.SOLVED, Status.CLOSED),
        # Side conversations (issue 17): the panel, the "Ask an expert" form and what it may include.
        "side_conversations": list(selectors.ticket_side_conversations(request.user, ticket)),
        "side": {"values": {"subject": ticket.subject}, **(side or {})},
        "side_sources": [item for kind, item in timeline if kind == "message" and not item.side_conversation_id],
    }


def _custom_panel_fields(ticket, errors):
    """The ticket type's custom fields as panel inputs, with the stored values."""
    values = ticket.custom_fields or {}
    fields = []
    for d in (ticket.type.field_definitions if ticket.type_id and ticket.type else None) or []:
        field = custom_form_field(d)
        value = values.get(d["name"])
        fields.append({"name": f"cf_{d['name']}", "definition": d, "label": field.label, "kind": d["kind"],
                       "choices": d.get("choices") or [], "value": "" if value is None else str(value),
                       "errors": errors.get(f"cf_{d['name']}", [])})
    return fields


def _gone(request, number, *, unsent="", unsaved=False, status=404):
    """Not a bare 404: why the agent no longer sees the ticket (when they saw
    it before its last move) and where to go next. htmx requests from the
    properties panel get the notice in place of the panel."""
    context = {
        "number": number, "move": selectors.explain_lost_ticket(request.user, number=number),
        "next_ticket": selectors.next_ticket(request.user, exclude_number=number),
        "unsent": unsent, "unsaved": unsaved,
    }
    if request.htmx:
        response = render(request, "agent/_ticket_gone.html", {**context, "gone_id": "properties", "oob_messages": True},
                          status=status)
        response["HX-Retarget"] = "#properties"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "agent/ticket_gone.html", context, status=status)


@agent_required
def ticket_detail(request, number):
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number)
    return render(request, "agent/ticket.html", _ticket_context(request, ticket))


@agent_required
@require_POST
def reply(request, number):
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        # Moved away (a trigger, another agent) while the agent was typing:
        # say why and give the text back, nothing lost.
        return _gone(request, number, unsent=request.POST.get("body", "")[:200_000])
    form = AgentReplyForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        macro = None
        if data["macro"]:
            macro = selectors.usable_macros(request.user).filter(pk=data["macro"]).first()
            if macro is None:
                form.add_error(None, _("This macro is not available to you."))
    if form.is_valid():
        try:
            services.send_reply(
                ticket=ticket, author=request.user, body=data["body"], internal=data["internal"],
                status=data["status"] or None, attachments=data["attachments"], priority=data["priority"] or None,
                group=data["group"], add_tags=data["add_tags"], macro=macro,
            )
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, _("Internal note added.") if form.cleaned_data["internal"] else _("Reply sent."))
            return redirect("agent:ticket", number=ticket.number)
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number, unsent=request.POST.get("body", "")[:200_000])
    return render(request, "agent/ticket.html", _ticket_context(request, ticket, reply_form=form), status=400)


@agent_required
@require_POST
def properties(request, number):
    """Save the properties panel; htmx posts only the field that changed. A
    failed save answers the panel as stored, the error beside the field."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number, unsaved=True)
    form = PropertiesForm(request.POST)
    form.is_valid()
    changes = {}
    for name in ("status", "priority", "type", "assignee", "tags"):
        if name in request.POST and name not in form.errors:
            value = form.cleaned_data.get(name)
            if name in ("status", "priority") and not value:
                continue
            changes[name] = value
    custom = {key[3:]: value for key, value in request.POST.items() if key.startswith("cf_")}
    errors = {name: list(errs) for name, errs in form.errors.items()}
    if not errors and (changes or custom):
        try:
            if changes:
                services.update_ticket(ticket=ticket, actor=request.user, **changes)
            if custom:
                services.set_custom_fields(ticket=ticket, actor=request.user, values=custom)
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                key = "cf_" + field[len("custom."):] if field.startswith("custom.") else field
                errors.setdefault(key, []).extend(errs)
        else:
            messages.success(request, _("Ticket updated."))
    status = 400 if errors else 200
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        # The change itself (or a trigger it fired) took the ticket away.
        return _gone(request, number, status=200 if not errors else 404)
    if not request.htmx and not errors:
        return redirect("agent:ticket", number=number)
    template = "agent/_ticket_main.html" if request.htmx else "agent/ticket.html"
    return render(request, template, _ticket_context(request, ticket, panel_errors=errors), status=status)


@agent_required
@require_POST
def escalate(request, number):
    """Escalate or de-escalate from the ticket page. An agent who no longer sees the ticket
    afterwards lands in their queue, told where it went and why."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number, unsaved=True)
    data = request.POST
    try:
        ticket = services.escalate_ticket(
            ticket=ticket, actor=request.user, to_tier=data.get("to_tier", ""), group=data.get("group") or None,
            reason=data.get("reason", ""), keep_assignee="keep_assignee" in data)
    except ValidationError as exc:
        escalation = {"errors": exc.message_dict, "values": data, "open": True}
        return render(request, "agent/ticket.html", _ticket_context(request, ticket, escalation=escalation), status=400)
    where = " · ".join(str(x) for x in (ticket.tier, ticket.group) if x)
    reason = services.clean_reason(data.get("reason", ""))
    if selectors.visible_tickets(request.user).filter(pk=ticket.pk).exists():
        messages.success(request, _("Ticket #%(n)s moved to %(where)s.") % {"n": ticket.number, "where": where})
        return redirect("agent:ticket", number=ticket.number)
    messages.info(request, _("Ticket #%(n)s went to %(where)s (reason: %(reason)s). It has left your tiers and "
                             "groups, so you are back in your queue.") % {
        "n": ticket.number, "where": where, "reason": reason})
    return redirect("agent:queue")


@agent_required
@require_POST
def bulk(request):
    """Assign or change the status of several tickets at once."""
    numbers = [int(n) for n in request.POST.getlist("tickets") if n.isdecimal()][:200]
    tickets = list(selectors.visible_tickets(request.user).filter(number__in=numbers))
    action = request.POST.get("action", "")
    changes = {}
    if action == "assign_me":
        changes = {"assignee": request.user}
    elif action.startswith("status:") and action[7:] in Status.values:
        changes = {"status": action[7:]}
    if not tickets or not changes:
        messages.error(request, _("Select tickets and an action."))
        return _next_or_queue(request)
    done, failed = 0, []
    for ticket in tickets:
        try:
            services.update_ticket(ticket=ticket, actor=request.user, **changes)
            done += 1
        except ValidationError:
            failed.append(f"#{ticket.number}")
    if done:
        messages.success(request, _("%(n)d tickets updated.") % {"n": done})
    if failed:
        messages.warning(request, _("Not changed (not allowed from their status): %(list)s") % {"list": ", ".join(failed)})
    return _next_or_queue(request)


@agent_required
@require_POST
def presence(request):
    from helpdesk.services import set_presence

    try:
        profile = set_presence(user=request.user, presence=request.POST.get("presence", ""))
    except ValidationError as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("You are now %(presence)s.") % {"presence": profile.get_presence_display().lower()})
    if request.htmx:
        return render(request, "partials/messages.html", status=200)
    nxt = request.POST.get("next") or ""
    return redirect(nxt if nxt.startswith("/agent/") else "agent:queue")


@agent_required
@require_POST
def notifications_read(request):
    services.mark_notifications_read(user=request.user)
    nxt = request.POST.get("next") or ""
    return redirect(nxt if nxt.startswith("/agent/") else "agent:queue")


@agent_required
def customer_search(request):
    """htmx partial: the customers matching the "on behalf" search field."""
    query = request.GET.get("q", "")[:200]
    return render(request, "agent/_customer_results.html", {
        "customers": selectors.search_customers(request.user, query), "query": query.strip(),
    })


_CUSTOMER_FIELDS = {"email": "new_email", "name": "new_name"}


@agent_required
def new_ticket(request):
    """Open a ticket on a customer's behalf: find or add the customer, the
    channel it came by, the request in the customer's words."""
    form = OnBehalfTicketForm(request.POST or None, request.FILES or None, agent=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # The new customer and the ticket, or neither.
            with transaction.atomic():
                requester = form.requester_obj
                if requester is None:
                    try:
                        requester, _created = create_customer_by_agent(
                            actor=request.user, email=data["new_email"], name=data["new_name"],
                            organization=data["new_organization"])
                    except ValidationError as exc:
                        raise ValidationError({_CUSTOMER_FIELDS.get(f, "requester"): e
                                               for f, e in exc.message_dict.items()}) from None
                ticket = services.create_ticket(
                    requester=requester, actor=request.user, subject=data["subject"], body=data["body"],
                    type=data["type"], priority=data["priority"] or None, channel=data["channel"],
                    attachments=data["attachments"],
                )
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            if selectors.visible_tickets(request.user).filter(pk=ticket.pk).exists():
                messages.success(request, _("Ticket #%(n)s opened for %(name)s.") % {
                    "n": ticket.number, "name": requester.display_name})
                return redirect("agent:ticket", number=ticket.number)
            messages.success(request, _("Ticket #%(n)s opened for %(name)s; the triggers routed it outside your "
                                        "groups, so it is not in your queue.") % {
                "n": ticket.number, "name": requester.display_name})
            return redirect("agent:queue")
    status = 400 if request.method == "POST" else 200
    return render(request, "agent/new_ticket.html", {"form": form, "picked": form.requester_obj}, status=status)


@agent_required
def merge(request, number):
    """Merge this ticket into another: find the target (number or subject),
    read what will happen, confirm."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number)
    query = (request.POST.get("q") or request.GET.get("q") or "")[:200]
    errors = []
    target = None
    wanted = request.POST.get("target") or request.GET.get("target") or ""
    candidates = [] if wanted else selectors.merge_candidates(request.user, ticket, query)
    if wanted:
        found = selectors.merge_candidates(request.user, ticket, wanted)
        target = next((t for t in found if str(t.number) == wanted.strip().lstrip("#")), None)
        if target is None:
            errors.append(_("No open ticket #%(n)s among the tickets you can see.") % {"n": wanted[:20]})
    elif query and candidates and str(candidates[0].number) == query.strip().lstrip("#"):
        target = candidates[0]  # the number was typed: straight to the confirmation
    if request.method == "POST" and target is not None:
        try:
            services.merge_tickets(source=ticket, target=target, agent=request.user,
                                   allow_other_requester=bool(request.POST.get("confirm_other_requester")))
        except ValidationError as exc:
            errors.extend(m for msgs in exc.message_dict.values() for m in msgs)
        else:
            messages.success(request, _("#%(s)s was merged into #%(t)s.") % {"s": ticket.number, "t": target.number})
            return redirect("agent:ticket", number=target.number)
    if request.htmx and not wanted and request.headers.get("HX-Target") == "merge-results":
        return render(request, "agent/_merge_results.html", {"ticket": ticket, "candidates": candidates, "query": query})
    return render(request, "agent/merge.html", {
        "ticket": ticket, "query": query, "candidates": candidates, "target": target, "errors": errors,
        "moving": ticket.messages.count() if target else 0,
    }, status=400 if errors else 200)


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

@agent_required
@require_POST
def retry_delivery(request, number, pk):
    """Send a failed mail of the ticket again (the Retry button beside the failure)."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number)
    try:
        services.retry_delivery(ticket=ticket, delivery_id=pk, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(m for msgs in exc.message_dict.values() for m in msgs))
        return render(request, "agent/ticket.html", _ticket_context(request, ticket), status=400)
    messages.success(request, _("The email is being sent again."))
    return redirect("agent:ticket", number=ticket.number)
