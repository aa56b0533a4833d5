import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk import jsonlimits
from helpdesk.models import Group, Tier
from tickets.models import Priority, Status, Ticket, TicketType
from tickets.templatetags.helpdesk_ui import strategy_label

from . import services
from .actions import REGISTRY as ACTIONS
from .actions import describe_result
from .assignment import FALLBACKS, STRATEGIES
from .engine import dry_run
from .models import (
    BusinessHours,
    EscalationRule,
    Holiday,
    OpenInterval,
    SLAPolicy,
    Trigger,
    TriggerFiring,
    WebhookDelivery,
)
from .rules import EVENT_LABELS, FIELDS, operators_for, validate_trigger_definition


def condition_reference() -> dict:
    """The events, and the registered condition fields with the operators each takes."""
    fields = {name: sorted(operators_for(name)) for name in FIELDS}
    return {"events": list(EVENT_LABELS),  # in the order of a ticket's life
            "fields": fields | {"custom.<name>": ["is", "is_not", "gt", "lt", "contains", "is_set"]}}


FALLBACK_LABELS = {"none": _("nobody: it waits in the group’s queue"), "least_loaded": _("the least loaded member"),
                   "lead": _("the group’s lead")}


def action_reference() -> dict:
    """The registered action types, their labels and parameters, as the editor reads them."""
    kinds = list(ACTIONS)
    return {"actions": [kind.type for kind in kinds],
            "action_params": {kind.type: [p.reference() for p in kind.params] for kind in kinds},
            "action_labels": {kind.type: str(kind.label) for kind in kinds}}


def trigger_reference():
    """What the change form's editor and reference table need: events, fields
    and their operators, each action type's parameters and the values they
    may take. Choices come from the database, so this is computed per request."""
    User = get_user_model()
    agents = [(u.username, f"{u.username} — {u.get_full_name()}" if u.get_full_name() else u.username)
              for u in User.objects.filter(role__in=[User.Role.AGENT, User.Role.ADMIN], is_active=True)
              .order_by("username")]
    choices = {
        "priorities": Priority.choices,
        "statuses": Status.choices,
        "ticket_types": [(t.name, t.name if t.active else gettext("%(name)s (inactive)") % {"name": t.name})
                         for t in TicketType.objects.order_by("position", "name")],
        "tiers": [(f"L{t.level}", f"L{t.level}" if t.name in ("", f"L{t.level}") else f"L{t.level} · {t.name}")
                  for t in Tier.objects.order_by("level")],
        "groups": [(g.name, g.name) for g in Group.objects.order_by("tier__level", "name")],
        "agents": agents,
        "strategies": [(s, strategy_label(s)) for s in STRATEGIES],
        "fallbacks": [(f, FALLBACK_LABELS.get(f, f)) for f in FALLBACKS],
        "recipients": [("assignee", gettext("the assignee")), ("group", gettext("the members of the ticket’s group")),
                       ("lead", gettext("the lead of the ticket’s group"))] + agents,
    }
    for kind in ACTIONS:  # an action's own list of values
        for param in kind.params:
            if param.options is not None and param.choices not in choices:
                choices[param.choices] = param.options()
    return {**condition_reference(), **action_reference(),
            "choices": {name: [[str(value), str(label)] for value, label in pairs] for name, pairs in choices.items()}}


class PrettyJSONWidget(forms.Textarea):
    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = jsonlimits.loads(value)
            except ValueError:  # JSONTooDeep too: shown back as typed
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class TriggerForm(forms.ModelForm):
    events = forms.MultipleChoiceField(label=_("Events"),
                                       choices=[(e, format_lazy("{} · {}", label, e)) for e, label in EVENT_LABELS.items()],
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Trigger
        fields = ["name", "description", "active", "position", "events", "conditions", "actions", "stop_processing"]
        widgets = {
            "conditions": PrettyJSONWidget(attrs={"rows": 10, "cols": 90, "style": "font-family: monospace"}),
            "actions": PrettyJSONWidget(attrs={"rows": 10, "cols": 90, "style": "font-family: monospace"}),
        }
        help_texts = {
            "conditions": _('{"all": [{"field": "type", "operator": "is", "value": "payment"}], "any": []}'),
            "actions": _('[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}]'),
        }

    def clean(self):
        data = super().clean()
        try:
            data["events"], data["conditions"], data["actions"] = validate_trigger_definition(
                events=data.get("events"), conditions=data.get("conditions"), actions=data.get("actions"))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
        return data


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    form = TriggerForm
    # The dry run is a button on each trigger's page; "active" sorts and edits in place.
    list_display = ("name", "active", "position", "event_list", "stops", "fired_recently")
    list_editable = ("active", "position")
    search_fields = ("name", "description")
    change_form_template = "admin/escalation/trigger/change_form.html"

    class Media:
        css = {"all": ("escalation/trigger_editor.css",)}
        js = ("escalation/trigger_editor.js",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name.endswith("_changelist"):
            return queryset  # the counts are the list's column; the change form and the dry run need none
        since = timezone.now() - timedelta(days=7)
        return queryset.annotate(
            n_fired=Count("firings", filter=Q(firings__created_at__gte=since)),
            n_failed=Count("firings", filter=Q(firings__created_at__gte=since) & ~Q(firings__errors=[])))

    @admin.display(description=_("stops later triggers"), boolean=True, ordering="stop_processing")
    def stops(self, obj):
        return obj.stop_processing

    @admin.display(description=_("fired in 7 days"), ordering="n_fired")
    def fired_recently(self, obj):
        url = reverse("admin:escalation_triggerfiring_changelist") + f"?trigger__id__exact={obj.pk}"
        if obj.n_failed:
            return format_html('<a href="{}">{}</a> <span style="color:#b42318">({})</span>', url, obj.n_fired,
                               _("%(n)s with errors") % {"n": obj.n_failed})
        return format_html('<a href="{}">{}</a>', url, obj.n_fired)

    @admin.display(description=_("events"))
    def event_list(self, obj):
        return ", ".join(str(EVENT_LABELS.get(e, e)) for e in obj.events)

    def get_urls(self):
        return [path("<int:pk>/dry-run/", self.admin_site.admin_view(self.dry_run_view),
                     name="escalation_trigger_dry_run")] + super().get_urls()

    def dry_run_view(self, request, pk):
        trigger = get_object_or_404(Trigger, pk=pk)
        result, ticket = None, None
        number = request.GET.get("ticket", "").lstrip("#").strip()
        if number:
            ticket = Ticket.objects.filter(number=int(number)).first() if number.isdecimal() else None
            if ticket is None:
                messages.error(request, _("No ticket #%(n)s.") % {"n": number})
            else:
                result = dry_run(trigger, ticket)
        return render(request, "admin/escalation/trigger/dry_run.html", {
            **self.admin_site.each_context(request), "trigger": trigger, "ticket": ticket, "result": result,
            "number": number, "opts": self.model._meta, "title": _("Dry run: %(name)s") % {"name": trigger.name},
        })

    def render_change_form(self, request, context, *args, **kwargs):
        context["reference"] = trigger_reference()
        return super().render_change_form(request, context, *args, **kwargs)


class WebhookDeliveryInline(admin.TabularInline):
    """Each try of the firing's webhooks (URL masked when stored)."""

    model = WebhookDelivery
    fields = ("created_at", "action_index", "attempt", "url", "status_code", "duration_ms", "outcome", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TriggerFiring)
class TriggerFiringAdmin(admin.ModelAdmin):
    list_display = ("created_at", "trigger", "ticket", "actions_done", "errors")
    list_filter = ("trigger",)
    search_fields = ("ticket__number",)
    list_select_related = ("trigger", "ticket")
    readonly_fields = [f.name if f.name != "results" else "actions_done" for f in TriggerFiring._meta.fields]
    inlines = [WebhookDeliveryInline]

    @admin.display(description=_("actions done"))
    def actions_done(self, obj):
        return json.dumps([describe_result(result) for result in obj.results], ensure_ascii=False)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- SLA configuration: calendars, policies, escalation rules --------------------------------

def _minutes(value: int | None) -> str:
    """A target as an admin reads it: "45 min", "4 h", "1 h 30 min"."""
    if value is None:
        return "—"
    hours, minutes = divmod(value, 60)
    if not hours:
        text = gettext("%(m)d min") % {"m": minutes}
    elif not minutes:
        text = gettext("%(h)d h") % {"h": hours}
    else:
        text = gettext("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return text.replace(" ", "\u00a0")  # kept on one line in the list's narrow columns


def _kept_forms(formset) -> list[forms.Form]:
    """The inline rows that stay: filled in and not ticked for deletion."""
    return [f for f in formset.forms if f.cleaned_data and not formset._should_delete_form(f)]


def _interval_spec(form: forms.Form) -> services.IntervalSpec:
    data = form.cleaned_data
    return {"weekday": int(data["weekday"]), "opens": data["opens"], "closes": data["closes"]}


def _holiday_spec(form: forms.ModelForm) -> services.HolidaySpec:
    data = form.cleaned_data
    return {"date": data["date"], "name": data.get("name", ""), "country": form.instance.country or ""}


class OpenIntervalFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [_interval_spec(f) for f in _kept_forms(self)]
        if not kept:
            raise ValidationError(_("Add at least one open interval (a policy without business hours runs "
                                    "around the clock)."))
        problems = services.interval_errors(kept)
        if problems:
            raise ValidationError(problems)


class HolidayFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        dates = [f.cleaned_data["date"] for f in _kept_forms(self)]
        twice = sorted({d for d in dates if dates.count(d) > 1})
        if twice:
            raise ValidationError([gettext("%(date)s is listed twice.") % {"date": d.isoformat()} for d in twice])


class OpenIntervalInline(admin.TabularInline):
    """Weekday rows with their hours; several rows on a day make a lunch break."""

    model = OpenInterval
    formset = OpenIntervalFormSet
    fields = ("weekday", "opens", "closes")
    extra = 0
    verbose_name = _("open interval")
    verbose_name_plural = _("weekly hours (several rows on a day make a break)")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("opens", "closes"):
            field.widget = forms.TimeInput(format="%H:%M", attrs={"type": "time", "aria-label": db_field.verbose_name})
            if db_field.name == "closes":
                field.help_text = _("At or before the opening: the interval runs past midnight.")
        elif db_field.name == "weekday":
            field.widget.attrs["aria-label"] = db_field.verbose_name
        return field

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj else 5  # a new calendar starts with Monday to Friday rows


class HolidayInline(admin.TabularInline):
    """Closed days; a country's holidays are added with the form below the list."""

    model = Holiday
    formset = HolidayFormSet
    fields = ("date", "name", "country")
    readonly_fields = ("country",)
    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "date":
            field.widget = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "aria-label": _("date")})
        elif db_field.name == "name":
            field.widget.attrs["aria-label"] = _("holiday name")
        return field


class BusinessHoursForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=lambda: [(z, z) for z in sorted(services.time_zones())],
                                  help_text=_("The hours and holidays are in this zone."))

    class Meta:
        model = BusinessHours
        fields = ["name", "time_zone"]


class CountryHolidaysForm(forms.Form):
    """The change page's "add this country's holidays for a year"; its inputs belong to a form of their own."""

    country = forms.ChoiceField(label=_("Country"))
    year = forms.IntegerField(label=_("Year"), min_value=1900, max_value=2200)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "country_holidays")
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "---------")] + [
            (code, f"{name} ({code})") for code, name in services.holiday_countries().items()]
        for field in self.fields.values():
            field.widget.attrs["form"] = "country-holidays"


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    form = BusinessHoursForm
    inlines = [OpenIntervalInline, HolidayInline]
    list_display = ("name", "time_zone", "weekly_hours", "holiday_count", "used_by")
    search_fields = ("name",)
    change_form_template = "admin/escalation/businesshours/change_form.html"

    class Media:
        css = {"all": ("escalation/sla_admin.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("intervals").annotate(
            n_holidays=Count("holidays", distinct=True), n_policies=Count("policies", distinct=True))

    @admin.display(description=_("weekly hours"))
    def weekly_hours(self, obj: BusinessHours) -> str:
        days: dict[int, list[str]] = {}
        for interval in obj.intervals.all():
            days.setdefault(interval.weekday, []).append(f"{interval.opens:%H:%M}–{interval.closes:%H:%M}")
        runs: list[tuple[int, int, list[str]]] = []  # days in a row with the same hours: "Mon–Fri 09:00–18:00"
        for day, spans in sorted(days.items()):
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == spans:
                runs[-1] = (runs[-1][0], day, spans)
            else:
                runs.append((day, day, spans))
        return "; ".join(f"{WEEKDAYS_ABBR[first]}{'–' + str(WEEKDAYS_ABBR[last]) if last != first else ''} "
                         f"{', '.join(spans)}" for first, last, spans in runs)

    @admin.display(description=_("holidays"), ordering="n_holidays")
    def holiday_count(self, obj):
        return obj.n_holidays

    @admin.display(description=_("SLA policies"), ordering="n_policies")
    def used_by(self, obj):
        return obj.n_policies

    def save_model(self, request, obj, form, change):
        """Nothing yet: save_related saves the calendar with its rows in one service call."""

    def save_related(self, request, form, formsets, change):
        rows = {formset.model: formset for formset in formsets}
        week = {"name": form.cleaned_data["name"], "time_zone": form.cleaned_data["time_zone"],
                "intervals": [_interval_spec(f) for f in _kept_forms(rows[OpenInterval])],
                "holidays": [_holiday_spec(f) for f in _kept_forms(rows[Holiday])]}
        if change:
            services.update_business_hours(calendar=form.instance, **week)
        else:
            saved = services.create_business_hours(**week)
            form.instance.pk, form.instance._state.adding = saved.pk, False
        for formset in formsets:  # what the change message reads from a formset's save()
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.delete_business_hours(calendar=obj)

    def delete_queryset(self, request, queryset):
        for calendar in queryset:
            services.delete_business_hours(calendar=calendar)

    def get_urls(self):
        return [path("<int:pk>/holidays/", self.admin_site.admin_view(self.country_holidays_view),
                     name="escalation_businesshours_holidays")] + super().get_urls()

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            countries = Counter(obj.holidays.exclude(country="").values_list("country", flat=True))
            context["country_holidays_form"] = CountryHolidaysForm(initial={
                "country": countries.most_common(1)[0][0] if countries else "", "year": timezone.now().year})
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def country_holidays_view(self, request, pk):
        calendar = get_object_or_404(BusinessHours, pk=pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, calendar):
            raise PermissionDenied
        form = CountryHolidaysForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(form.errors)
            country, year = form.cleaned_data["country"], form.cleaned_data["year"]
            added = services.add_country_holidays(calendar=calendar, country=country, year=year)
        except ValidationError as exc:
            messages.error(request, " ".join(m for errors in exc.message_dict.values() for m in errors))
        else:
            name = services.holiday_countries()[country]
            messages.success(request, ngettext(
                "Added %(n)d holiday of %(country)s for %(year)d.", "Added %(n)d holidays of %(country)s for %(year)d.",
                len(added)) % {"n": len(added), "country": name, "year": year}
                + (" " + gettext("Dates already in the list were kept as they were.") if added else
                   " " + gettext("They were all in the list already.")))
        return redirect(reverse("admin:escalation_businesshours_change", args=[calendar.pk]))


class _MatchForm(forms.ModelForm):
    """Priorities and ticket types as checkboxes; the service checks the whole row."""

    priorities = forms.MultipleChoiceField(label=_("Priorities"), choices=Priority.choices, required=False,
                                           widget=forms.CheckboxSelectMultiple,
                                           help_text=_("None ticked: tickets of any priority."))
    validate: Callable[[Any], None]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            type(self).validate(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)


class SLAPolicyForm(_MatchForm):
    validate = staticmethod(services.validate_sla_policy)

    class Meta:
        model = SLAPolicy
        fields = ["name", "description", "active", "position", "ticket_types", "priorities",
                  "first_response_minutes", "next_response_minutes", "resolution_minutes", "calendar",
                  "warning_percent"]
        widgets = {"ticket_types": forms.CheckboxSelectMultiple}
        help_texts = {
            "position": _("Policies are tried from the lowest position up; the first that matches applies."),
            "first_response_minutes": _("Business minutes from creation to the first public agent reply "
                                        "(240 = four business hours). Empty: no target."),
            "next_response_minutes": _("Business minutes from each customer message to the next public agent "
                                       "reply. Empty: no target."),
            "resolution_minutes": _("Business minutes from creation to solved; pending and on hold pause it. "
                                    "Empty: no target."),
            "warning_percent": _("Agents are warned when this share of a target is used, e.g. 80."),
        }


class EscalationRuleForm(_MatchForm):
    validate = staticmethod(services.validate_escalation_rule)

    class Meta:
        model = EscalationRule
        fields = ["name", "active", "position", "ticket_types", "priorities", "tier", "condition", "minutes",
                  "calendar", "to_tier", "to_group", "notify_lead"]
        widgets = {"ticket_types": forms.CheckboxSelectMultiple}
        help_texts = {"minutes": _("Business minutes the ticket may stay like this in the tier, e.g. 30.")}


class _ServiceAdmin(admin.ModelAdmin):
    """Rows saved and deleted through the services (ticket types included, so no save_m2m here)."""

    fields_of: tuple[str, ...]
    instance_name: str
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields_of if name in form.cleaned_data}
        if change:
            type(self).update(**{self.instance_name: obj}, **data)
        else:
            saved = type(self).create(**data)
            obj.pk, obj._state.adding = saved.pk, False

    def save_related(self, request, form, formsets, change):
        """The service set the ticket types."""

    def delete_model(self, request, obj):
        type(self).delete(**{self.instance_name: obj})

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            type(self).delete(**{self.instance_name: obj})


@admin.register(SLAPolicy)
class SLAPolicyAdmin(_ServiceAdmin):
    form = SLAPolicyForm
    fields_of = ("name", "description", "active", "position", "ticket_types", "priorities", "calendar",
                 "warning_percent", *services.TARGET_FIELDS)
    instance_name = "policy"
    create = staticmethod(services.create_sla_policy)
    update = staticmethod(services.update_sla_policy)
    delete = staticmethod(services.delete_sla_policy)
    list_display = ("position", "name", "active", "matches", "targets", "calendar", "warning")
    list_display_links = ("name",)
    list_select_related = ("calendar",)
    search_fields = ("name", "description")
    fieldsets = (
        (None, {"fields": ("name", "description", "active", "position")}),
        (_("Which tickets"), {"fields": ("ticket_types", "priorities")}),
        (_("Targets"), {"fields": ("first_response_minutes", "next_response_minutes", "resolution_minutes",
                                   "calendar", "warning_percent")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("ticket_types")

    @admin.display(description=_("applies to"))
    def matches(self, obj):
        return _match_text(obj)

    @admin.display(description=_("first response · next response · resolution"))
    def targets(self, obj):
        return " · ".join(_minutes(getattr(obj, name)) for name in services.TARGET_FIELDS)

    @admin.display(description=_("warn at"), ordering="warning_percent")
    def warning(self, obj):
        return f"{obj.warning_percent} %"


def _match_text(obj: SLAPolicy | EscalationRule) -> str:
    types = ", ".join(t.name for t in obj.ticket_types.all()) or gettext("any type")
    labels = dict(Priority.choices)
    priorities = ", ".join(str(labels[p]) for p in obj.priorities if p in labels) or gettext("any priority")
    return f"{types}; {priorities}"


@admin.register(EscalationRule)
class EscalationRuleAdmin(_ServiceAdmin):
    form = EscalationRuleForm
    fields_of = ("name", "active", "position", "ticket_types", "priorities", "tier", "condition", "minutes",
                 "calendar", "to_tier", "to_group", "notify_lead")
    instance_name = "rule"
    create = staticmethod(services.create_escalation_rule)
    update = staticmethod(services.update_escalation_rule)
    delete = staticmethod(services.delete_escalation_rule)
    list_display = ("position", "name", "active", "matches", "when", "moves_to", "notify_lead")
    list_display_links = ("name",)
    list_select_related = ("tier", "to_tier", "to_group")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "active", "position")}),
        (_("Which tickets"), {"fields": ("ticket_types", "priorities", "tier")}),
        (_("When"), {"fields": ("condition", "minutes", "calendar")}),
        (_("Then"), {"fields": ("to_tier", "to_group", "notify_lead")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("ticket_types")

    @admin.display(description=_("applies to"))
    def matches(self, obj):
        return _match_text(obj)

    @admin.display(description=_("when"))
    def when(self, obj):
        return f"{obj.tier} · {obj.get_condition_display()} · {_minutes(obj.minutes)}"

    @admin.display(description=_("moves to"))
    def moves_to(self, obj):
        return str(obj.to_group or obj.to_tier or gettext("the next tier up"))
