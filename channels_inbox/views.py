from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control

WIDGET_TEMPLATE = """(function () {
  // Helpdesk contact widget: a floating button that opens the support portal's
  // new-ticket form. Live chat replaces the form when the chat channel lands.
  if (window.__helpdeskWidget) return; window.__helpdeskWidget = true;
  var base = %(base)s;
  var a = document.createElement('a');
  a.href = base + %(path)s; a.target = '_blank'; a.rel = 'noopener';
  a.textContent = (document.currentScript && document.currentScript.dataset.label) || 'Contact support';
  a.setAttribute('style', 'position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;' +
    'border-radius:24px;background:#206bc4;color:#fff;font:600 14px/1.2 system-ui,sans-serif;' +
    'text-decoration:none;box-shadow:0 4px 12px rgba(0,0,0,.2)');
  document.body.appendChild(a);
})();
"""


@cache_control(max_age=300, public=True)
def widget_js(request):
    import json

    base = request.build_absolute_uri("/").rstrip("/")
    body = WIDGET_TEMPLATE % {"base": json.dumps(base), "path": json.dumps(reverse("portal:new_ticket"))}
    return HttpResponse(body, content_type="application/javascript; charset=utf-8")
