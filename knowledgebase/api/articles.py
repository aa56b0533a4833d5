"""`/api/v1/kb/articles/` and `/api/v1/kb/categories/`: anyone reads what the selectors
let them; KB editors and admins write, through the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.validators import RegexValidator
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.exceptions import InUse
from helpdesk.api.schema import HelpdeskAutoSchema

from .. import selectors, services
from ..models import Article, ArticleRevision, Category

if TYPE_CHECKING:
    from helpdesk.models import User

HAS_TEXT = RegexValidator(r"^[^\x00]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\x00]*$",
                          gettext_lazy("Write some text, not only spaces."))
BODY_MAX_CHARS = 200_000
POSITION_MAX = 2**31 - 1

LANG_PARAMETER = OpenApiParameter(
    "lang", OpenApiTypes.STR, enum=list(selectors.LANGUAGES), required=False,
    description="The translation to read (or, on writes, to write); default: the article's original language.")


def _user(request: Request) -> User | None:
    return request.user if request.user.is_authenticated else None  # type: ignore[return-value]


def _language(request: Request) -> str | None:
    code = request.query_params.get("lang")
    if code is None or code == "":
        return None
    if code not in selectors.LANGUAGES:
        raise ValidationError({"lang": [_("Unknown language “%(code)s”: use one of %(codes)s.")
                                        % {"code": code[:20], "codes": ", ".join(selectors.LANGUAGES)}]})
    return code


class LanguageAutoSchema(HelpdeskAutoSchema):
    """Operations that take `?lang=` also answer 400 (an unknown language)."""

    def _error_codes(self) -> list[str]:
        codes = super()._error_codes()
        return codes if "400" in codes else [*codes[:1], "400", *codes[1:]]


class IsKBEditorOrReadOnly(permissions.BasePermission):
    message = gettext_lazy("Only knowledge-base editors and admins change articles and categories.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.can_edit_kb)


class ArticleSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=200, trim_whitespace=False, validators=[HAS_TEXT])
    body = serializers.CharField(max_length=BODY_MAX_CHARS, trim_whitespace=False, allow_blank=True, required=False,
                                 help_text="Markdown.")
    body_html = serializers.CharField(read_only=True, help_text="The body rendered and sanitized.")
    language = serializers.ChoiceField(choices=list(selectors.LANGUAGES), required=False,
                                       help_text="The translation's ISO code (on writes: the one written).")
    status = serializers.ChoiceField(choices=Article.Status.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=60, trim_whitespace=False,
                                                             validators=[HAS_TEXT]),
                                 required=False, max_length=50)
    translations = serializers.ListField(child=serializers.CharField(), read_only=True,
                                         help_text="The languages the article is written in.")
    related = serializers.PrimaryKeyRelatedField(queryset=Article.objects.all(), many=True, required=False)
    author = serializers.CharField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)
    helpful_count = serializers.IntegerField(read_only=True)
    unhelpful_count = serializers.IntegerField(read_only=True)

    def to_representation(self, article: Article) -> dict[str, Any]:
        language = self.context.get("language") or article.source_language
        translation = selectors.translation_for(article, language)
        readable = set(self.context.get("statuses", ()))
        return {
            "id": article.pk,
            "title": translation.title if translation else "",
            "body": translation.body if translation else "",
            "body_html": translation.body_html if translation else "",
            "language": translation.language if translation else language,
            "status": article.status,
            "category": article.category_id,
            "tags": [tag.name for tag in article.tags.all()],
            "translations": sorted(t.language for t in article.translations.all()),
            "related": [other.pk for other in article.related.all() if other.status in readable],
            "author": article.author.public_name if article.author else None,
            "updated_at": serializers.DateTimeField().to_representation(article.updated_at),
            "helpful_count": article.helpful_count,
            "unhelpful_count": article.unhelpful_count,
        }


class RevisionSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    diff = serializers.CharField(read_only=True, help_text="HTML: what changed from this revision to the current text.")

    def to_representation(self, revision: ArticleRevision) -> dict[str, Any]:
        return {
            "number": revision.number, "title": revision.title, "body": revision.body,
            "author": revision.author.public_name if revision.author else None,
            "created_at": serializers.DateTimeField().to_representation(revision.created_at),
            "diff": selectors.revision_diff(revision),
        }


class ImageUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A PNG, JPEG, GIF or WebP image, at most 5 MB.")


class ArticleAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    filename = serializers.CharField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    url = serializers.CharField(read_only=True)
    markdown = serializers.CharField(read_only=True, help_text="Paste it into the body to show the image.")


@extend_schema(tags=["knowledge base"], parameters=[LANG_PARAMETER])
class ArticleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Articles in one language each (`?lang=`): published ones for everyone, internal ones
    for agents, all for KB editors. Writes write the translation in `language`."""

    serializer_class = ArticleSerializer
    permission_classes = [IsKBEditorOrReadOnly]
    schema = LanguageAutoSchema()
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Article]:
        return (selectors.visible_articles(self.request.user)
                .select_related("author").prefetch_related(
                    "translations", "tags", Prefetch("related", queryset=Article.objects.only("id", "status")))
                .order_by("-updated_at", "-pk"))

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "request", None) is not None and hasattr(self.request, "query_params"):
            context["language"] = _language(self.request)
            context["statuses"] = selectors.readable_statuses(self.request.user)
        return context

    def _fresh(self, article: Article) -> Article:
        return self.get_queryset().get(pk=article.pk)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        language = data.pop("language", None) or _language(self.request) or "en"
        related = data.pop("related", None)
        article = services.create_article(author=_user(self.request), title=data["title"], body=data.get("body", ""),
                                          language=language, status=data.get("status", Article.Status.DRAFT),
                                          category=data.get("category"), tags=data.get("tags", ()))
        if related:
            services.set_related_articles(article=article, related=related, actor=_user(self.request))
        serializer.context["language"] = language
        serializer.instance = self._fresh(article)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        article: Article = serializer.instance  # type: ignore[assignment]
        language = data.pop("language", None) or _language(self.request) or article.source_language
        changes = {key: data[key] for key in ("status", "category", "tags") if key in data}
        services.edit_article(article=article, actor=_user(self.request), language=language,
                              title=data.get("title"), body=data.get("body"), related=data.get("related"),
                              **changes)
        serializer.context["language"] = language
        serializer.instance = self._fresh(article)

    @extend_schema(responses=RevisionSerializer(many=True), parameters=[LANG_PARAMETER])
    @action(detail=True, methods=["get"], permission_classes=[IsKBEditorOrReadOnly])
    def revisions(self, request: Request, pk: str | None = None) -> Response:
        """The earlier versions of one translation, newest first, each with its diff to the current text."""
        article = self.get_object()
        language = _language(request) or article.source_language
        if not request.user.is_authenticated or not request.user.can_edit_kb:
            self.permission_denied(request, message=_("Only knowledge-base editors and admins see revisions."))
        revisions = selectors.article_revisions(request.user, article=article, language=language)
        page = self.paginate_queryset(revisions)
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)

    @extend_schema(request=None, responses=ArticleSerializer, parameters=[
        LANG_PARAMETER,
        OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The revision's number."),
    ])
    @action(detail=True, methods=["post"], url_path=r"revisions/(?P<number>[0-9]{1,9})/restore")
    def restore(self, request: Request, pk: str | None = None, number: str | None = None) -> Response:
        """Bring an earlier version back (the current one is kept as a new revision)."""
        article = self.get_object()
        language = _language(request) or article.source_language
        revision = get_object_or_404(selectors.article_revisions(request.user, article=article, language=language),
                                     number=int(number or 0))
        services.restore_revision(revision=revision, actor=_user(request))
        context = {**self.get_serializer_context(), "language": language}
        return Response(ArticleSerializer(self._fresh(article), context=context).data)


    @extend_schema(request={"multipart/form-data": ImageUploadSerializer}, responses={201: ArticleAttachmentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        """Upload an image for the article; the answer holds the Markdown that shows it."""
        article = self.get_object()
        data = ImageUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attachment, markdown = services.upload_attachment(article=article, file=data.validated_data["file"],
                                                          actor=_user(request))
        return Response({"id": attachment.pk, "filename": attachment.filename,
                         "content_type": attachment.content_type, "size": attachment.size,
                         "url": reverse("kb:attachment", args=[attachment.pk]), "markdown": markdown},
                        status=status.HTTP_201_CREATED)


class CategoryNamesSerializer(serializers.Serializer):
    """The category's name in other languages."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {code: serializers.CharField(max_length=120, allow_blank=True, required=False)
                for code in selectors.LANGUAGES}


class CategorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=120, trim_whitespace=False, validators=[HAS_TEXT])
    names = CategoryNamesSerializer(required=False)
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Category.objects.all(), allow_null=True, required=False)
    position = serializers.IntegerField(min_value=0, max_value=POSITION_MAX, required=False)
    description = serializers.CharField(max_length=300, allow_blank=True, required=False)

    class Meta:
        model = Category
        fields = ["id", "name", "names", "parent", "position", "description", "slug"]
        read_only_fields = ["slug"]


@extend_schema(tags=["knowledge base"])
class CategoryViewSet(viewsets.ModelViewSet):
    """The category tree (`parent`, ordered by `position`); a category with subcategories
    or articles cannot be deleted (409)."""

    queryset = Category.objects.order_by("position", "name")
    serializer_class = CategorySerializer
    permission_classes = [IsKBEditorOrReadOnly]

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = services.create_category(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = services.update_category(category=serializer.instance,  # type: ignore[arg-type]
                                                        **serializer.validated_data)

    def perform_destroy(self, instance: Category) -> None:
        try:
            services.delete_category(category=instance)
        except services.CategoryInUse as exc:
            raise InUse(detail=" ".join(exc.messages)) from exc
