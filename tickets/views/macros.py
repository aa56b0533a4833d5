"""The agent's macros: list, create, edit, delete (personal ones; shared ones
for admins), and the preview the ticket page's macro picker asks for."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..forms import MacroForm
from ..models import Macro, Priority, Status, Ticket
from .agent import agent_required


def _managed(request, pk) -> Macro:
    macro = selectors.macro_list(request.user).filter(pk=pk).first()
    if macro is None:
        raise Http404
    if not selectors.can_manage_macro(request.user, macro):
        raise PermissionDenied
    return macro


@agent_required
def macro_list(request):
    macros = list(selectors.macro_list(request.user))
    for macro in macros:
        macro.can_manage = selectors.can_manage_macro(request.user, macro)
    return render(request, "agent/macros.html", {"macros": macros})


def _save(request, macro=None):
    initial = {}
    if macro is not None:
        initial = {"name": macro.name, "body": macro.body, "shared": macro.is_shared, "groups": list(macro.groups.all()),
                   "set_status": macro.set_status, "set_priority": macro.set_priority,
                   "add_tags": " ".join(macro.add_tags), "set_group": macro.set_group, "active": macro.active}
    form = MacroForm(request.POST or None, initial=initial, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            values = dict(form.cleaned_data)
            values.setdefault("shared", macro.is_shared if macro is not None else False)
            values.setdefault("groups", [])
            try:
                if macro is None:
                    macro = services.create_macro(actor=request.user, **values)
                    messages.success(request, _("Macro “%(name)s” created.") % {"name": macro.name})
                else:
                    macro = services.update_macro(macro=macro, actor=request.user, **values)
                    messages.success(request, _("Macro “%(name)s” saved.") % {"name": macro.name})
            except ValidationError as exc:
                for field, errs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
            else:
                return redirect("agent:macros")
        status = 400
    selected = {str(getattr(v, "pk", v)) for v in (form["groups"].value() or [])} if "groups" in form.fields else set()
    return render(request, "agent/macro_form.html", {"form": form, "macro": macro, "selected_groups": selected},
                  status=status)


@agent_required
def macro_create(request):
    return _save(request)


@agent_required
def macro_edit(request, pk):
    return _save(request, _managed(request, pk))


@agent_required
def macro_delete(request, pk):
    macro = _managed(request, pk)
    if request.method == "POST":
        name = macro.name
        services.delete_macro(macro=macro, actor=request.user)
        messages.success(request, _("Macro “%(name)s” deleted.") % {"name": name})
        return redirect("agent:macros")
    return render(request, "agent/macro_delete.html", {"macro": macro})


@agent_required
@require_POST
def macro_preview(request, number, pk):
    """JSON for the reply box: the macro's text for this ticket and the
    changes it sets (nothing is written)."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
        macro = selectors.usable_macros(request.user).select_related("set_group").get(pk=pk)
    except (Ticket.DoesNotExist, Macro.DoesNotExist):
        return JsonResponse({"error": _("This macro or ticket is no longer available to you.")}, status=404)
    preview = services.apply_macro(ticket=ticket, macro=macro, agent=request.user)
    summary = []
    if "status" in preview.changes:
        summary.append(_("status → %(v)s") % {"v": Status(preview.changes["status"]).label})
    if "priority" in preview.changes:
        summary.append(_("priority → %(v)s") % {"v": Priority(preview.changes["priority"]).label})
    if "group" in preview.changes:
        summary.append(_("group → %(v)s") % {"v": preview.changes["group"]["name"]})
    if "add_tags" in preview.changes:
        summary.append(_("tags + %(v)s") % {"v": " ".join(preview.changes["add_tags"])})
    return JsonResponse({
        "macro": {"id": macro.pk, "name": macro.name}, "text": preview.text, "changes": preview.changes,
        "warnings": preview.warnings,
        "summary": _("Macro “%(name)s” applied. Sent with the reply: %(changes)s.") % {
            "name": macro.name, "changes": ", ".join(summary)} if summary else
        _("Macro “%(name)s” applied.") % {"name": macro.name},
    })
