from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import MeView, TokenRevokeView, TokenView

# The split view serves Swagger UI's start-up script as a file, not inline (CSP).
_swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="api-schema")


def api_docs(request, *args, **kwargs):
    """Swagger UI; an anonymous browser is sent to the login page unless API_DOCS_PUBLIC."""
    if not settings.HELPDESK_API_DOCS_PUBLIC and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _swagger_ui(request, *args, **kwargs)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="api-token-revoke"),
    path("users/me/", MeView.as_view(), name="api-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api_docs, name="api-docs"),
    path("", include("tickets.api.urls")),
    path("", include("escalation.api.urls")),
]

# Knowledge base: articles (+ revisions, restore) and categories (issue 16, kb-editor).
from rest_framework.routers import SimpleRouter  # noqa: E402

from knowledgebase.api.articles import ArticleViewSet, CategoryViewSet  # noqa: E402

_kb_router = SimpleRouter()
_kb_router.register("kb/articles", ArticleViewSet, basename="kb-article")
_kb_router.register("kb/categories", CategoryViewSet, basename="kb-category")
urlpatterns += _kb_router.urls
# Knowledge base: search (issue 16, kb-search).
from knowledgebase.api.search import SearchView as KbSearchView  # noqa: E402

urlpatterns += [path("kb/search/", KbSearchView.as_view(), name="api-kb-search")]
