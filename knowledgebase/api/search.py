"""GET /api/v1/kb/search/?q=…&lang=…: the articles the caller may read that answer a query,
best first, paginated like every list; rate-limited per client; each search logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from helpdesk.api.pagination import StandardPagination
from helpdesk.api.schema import NO_NUL
from helpdesk.pagination import CappedPaginator

from .. import search, selectors, services
from ..models import ArticleTranslation, SearchLog
from ..search import MAX_QUERY


class SearchThrottle(SimpleRateThrottle):
    """Per client: the user when logged in, else the address (behind NUM_PROXIES proxies)."""

    scope = "kb_search"

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = f"user-{request.user.pk}" if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _SearchPaginator(CappedPaginator):
    """The search counts its hits itself, up to search.RANK_CAP + 1 ("1,000+")."""

    @cached_property
    def count(self) -> int:
        return int(self.object_list.count())  # type: ignore[attr-defined]  # a _Found

    @property
    def count_capped(self) -> bool:
        return self.count > search.RANK_CAP


class _Found(Sequence[selectors.Hit]):
    """One page of hits, already searched, as the paginator asks for it: its total and its slice."""

    def __init__(self, results: selectors.Results, offset: int) -> None:
        self.results, self.offset = results, offset

    def count(self) -> int:  # type: ignore[override]  # Paginator calls count() when it exists
        return self.results.total

    def __len__(self) -> int:
        return self.results.total

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice) and key.start == self.offset:
            return self.results.hits
        return [] if isinstance(key, slice) else self.results.hits[key - self.offset]


class SearchPagination(StandardPagination):
    django_paginator_class = _SearchPaginator


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True, default="")
    lang = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_lang(self, value: str) -> str:
        if value and value not in selectors.LANGUAGES:
            raise serializers.ValidationError(
                _("Unknown language “%(code)s”: use one of %(codes)s, or leave it out to search all.")
                % {"code": value[:20], "codes": ", ".join(selectors.LANGUAGES)})
        return value


class SearchHitSerializer(serializers.Serializer):
    article = serializers.IntegerField(source="article_id", help_text=gettext_lazy("The article's id."))
    title = serializers.CharField()
    snippet = serializers.CharField(help_text=gettext_lazy(
        "HTML: the article's text around the matched words, escaped, the words in <mark>."))
    url = serializers.CharField(help_text=gettext_lazy("The article's page, in this language."))
    language = serializers.CharField()
    score = serializers.FloatField(help_text=gettext_lazy("Relevance, higher is better (the order of the list)."))


@extend_schema(tags=["knowledge base"], parameters=[
    OpenApiParameter("q", OpenApiTypes.STR, description=gettext_lazy(
        "The words to look for (stemmed per language; \"quoted phrases\" and -excluded words work). "
        "Longer than %(max)d characters: cut. Empty: no results.") % {"max": MAX_QUERY}, pattern=NO_NUL),
    OpenApiParameter("lang", OpenApiTypes.STR, enum=list(selectors.LANGUAGES), description=gettext_lazy(
        "Only articles in this language (ISO code); left out: every language.")),
])
class SearchView(generics.ListAPIView):
    """Published articles for everyone, internal ones too for agents; best match first.
    An empty query gives an empty list; an unknown language a 400."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [SearchThrottle]
    pagination_class = SearchPagination
    serializer_class = SearchHitSerializer
    queryset = ArticleTranslation.objects.none()  # the search runs in the selector
    filter_backends: list[Any] = []

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query, language = params.validated_data["q"], params.validated_data["lang"] or None
        paginator = cast(SearchPagination, self.paginator)
        size = paginator.get_page_size(request) or StandardPagination.page_size
        page = request.query_params.get(paginator.page_query_param, "1")
        offset = (int(page) - 1) * size if page.isdigit() and 0 < int(page) < 100_000 else 0
        results = selectors.search_articles(viewer=request.user, query=query, language=language, limit=size,
                                            offset=offset)
        if page in paginator.last_page_strings and results.total > size:
            offset = (results.total - 1) // size * size
            results = selectors.search_articles(viewer=request.user, query=query, language=language, limit=size,
                                                offset=offset)
        if query.strip():
            services.record_search(query=query, language=language or "", results=results.total,
                                   source=SearchLog.Source.API)
        hits: list[selectors.Hit] | None = self.paginate_queryset(_Found(results, offset))  # type: ignore[arg-type]
        return self.get_paginated_response(self.get_serializer(hits, many=True).data)
