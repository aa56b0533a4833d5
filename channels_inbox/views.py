from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from .widget import widget_script


@cache_control(max_age=300, public=True)
def widget_js(request):
    """The embeddable chat widget, with this server's base URL baked in."""
    base = request.build_absolute_uri("/").rstrip("/")
    return HttpResponse(widget_script(base), content_type="application/javascript; charset=utf-8")


def widget_demo(request):
    """A sample shop page embedding the widget with one script tag, as a customer's site
    would; `?lang=it` sets the tag's data-language."""
    language = request.GET.get("lang", "")
    known = {code for code, _name in settings.LANGUAGES}
    return render(request, "chat/widget_demo.html", {"widget_language": language if language in known else ""})
