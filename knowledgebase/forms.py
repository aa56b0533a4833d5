"""The agent dashboard's knowledge-base editor forms (they parse; the services write)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Article, Category

LANGUAGE_CHOICES = list(settings.LANGUAGES)


def _category_choices() -> list[tuple[Any, Any]]:
    from .selectors import categories_in_order

    return [("", _("— none —"))] + [(c.pk, "— " * depth + c.name) for c, depth in categories_in_order()]


class ArticleFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status"))] + list(Article.Status.choices))
    language = forms.ChoiceField(label=_("Language"), required=False,
                                 choices=[("", _("Any language"))] + LANGUAGE_CHOICES)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Any category"))] + _category_choices()[1:]  # type: ignore[attr-defined]


class ArticleForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Body (Markdown)"), required=False, max_length=200_000,
                           widget=forms.Textarea(attrs={"rows": 16}), strip=False)
    status = forms.ChoiceField(label=_("Status"), choices=Article.Status.choices)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    tags = forms.CharField(label=_("Tags"), required=False, max_length=1000,
                           help_text=_("Separated by commas."))
    related = forms.TypedMultipleChoiceField(label=_("Related articles"), required=False, coerce=int)

    def __init__(self, *args: Any, article: Article | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices()  # type: ignore[attr-defined]
        others = list(Article.objects.exclude(pk=article.pk if article else 0).prefetch_related("translations")[:500])
        if article is not None:  # the related ones stay listed (and selected) beyond the first 500
            others += article.related.exclude(pk__in=[a.pk for a in others]).prefetch_related("translations")
        self.fields["related"].choices = [(a.pk, f"#{a.pk} {a}") for a in others]  # type: ignore[attr-defined]

    def clean_category(self) -> Category | None:
        pk = self.cleaned_data.get("category")
        return Category.objects.filter(pk=pk).first() if pk else None

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]

    def clean_related(self) -> list[Article]:
        return list(Article.objects.filter(pk__in=self.cleaned_data.get("related") or []))


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    parent = forms.TypedChoiceField(label=_("Parent category"), required=False, coerce=int, empty_value=None)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=2**31 - 1, required=False,
                                  help_text=_("Lower numbers come first."))
    description = forms.CharField(label=_("Description"), required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _category_choices()  # type: ignore[attr-defined]
        for code, name in LANGUAGE_CHOICES:
            if code == settings.LANGUAGE_CODE:
                continue  # the name above
            self.fields[f"name_{code}"] = forms.CharField(
                label=_("Name in %(language)s") % {"language": name}, required=False, max_length=120)

    def clean_parent(self) -> Category | None:
        pk = self.cleaned_data.get("parent")
        return Category.objects.filter(pk=pk).first() if pk else None

    def values(self) -> dict[str, Any]:
        """The service's keyword arguments."""
        data = self.cleaned_data
        return {"name": data["name"], "parent": data["parent"], "position": data["position"] or 0,
                "description": data["description"],
                "names": {code: data.get(f"name_{code}") or "" for code, _name in LANGUAGE_CHOICES
                          if code != settings.LANGUAGE_CODE}}


class ImageUploadForm(forms.Form):
    file = forms.FileField(label=_("Image"))
