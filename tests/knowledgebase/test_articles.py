"""Articles: Markdown rendered and sanitized, every save kept as a revision."""

import pytest
from django.core.exceptions import ValidationError

from knowledgebase import services
from knowledgebase.models import Article

pytestmark = pytest.mark.django_db


def test_markdown_is_rendered_and_injections_are_removed(agent):
    article = services.create_article(
        author=agent, title="Printer", language="en",
        body="**Bold** [x](javascript:alert(1)) <script>alert(1)</script> <img src=x onerror=alert(1)>",
    )
    html = article.translations.get().body_html
    assert "<strong>Bold</strong>" in html
    # Raw HTML is shown as text, never run; the javascript: link is not a link.
    assert "<script" not in html and "<img" not in html and "href=\"javascript" not in html
    assert "&lt;script&gt;" in html


def test_each_save_keeps_the_previous_version(agent):
    article = services.create_article(author=agent, title="Printer", body="v1", status=Article.Status.PUBLISHED)
    services.save_translation(article=article, language="en", title="Printer", body="v2", author=agent)
    services.save_translation(article=article, language="en", title="Printers", body="v3", author=agent)
    translation = article.translations.get()
    assert (translation.title, translation.body) == ("Printers", "v3")
    assert [(r.number, r.body) for r in translation.revisions.all()] == [(2, "v2"), (1, "v1")]


def test_an_unknown_language_is_refused(agent):
    with pytest.raises(ValidationError):
        services.create_article(author=agent, title="x", body="y", language="xx")
