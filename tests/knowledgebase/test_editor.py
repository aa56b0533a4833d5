"""The KB editor's services and selectors (issue 16, content): revisions and restore, the
diff, the category tree's rules, image attachments, archive and delete, and the agent pages."""

import os
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledgebase import selectors, services
from knowledgebase.models import Article, ArticleAttachment, ArticleRevision, Category
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(db):
    return AgentFactory(kb_editor=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def png() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


# Revisions and restore

def test_restore_brings_an_old_version_back_and_keeps_the_current_one(editor):
    article = services.create_article(author=editor, title="Printer", body="v1")
    services.save_translation(article=article, language="en", title="Printer", body="v2", author=editor)
    first = ArticleRevision.objects.get(number=1)
    services.restore_revision(revision=first, actor=editor)
    translation = article.translations.get()
    assert (translation.title, translation.body, translation.updated_by) == ("Printer", "v1", editor)
    assert [(r.number, r.body) for r in translation.revisions.all()] == [(2, "v2"), (1, "v1")]
    assert "v1" in translation.body_html


def test_restore_is_per_language(editor):
    article = services.create_article(author=editor, title="Printer", body="english 1")
    services.save_translation(article=article, language="ru", title="Принтер", body="русский 1", author=editor)
    services.save_translation(article=article, language="ru", title="Принтер", body="русский 2", author=editor)
    services.save_translation(article=article, language="en", title="Printer", body="english 2", author=editor)
    ru = selectors.article_revisions(editor, article=article, language="ru").get()
    services.restore_revision(revision=ru, actor=editor)
    assert article.translations.get(language="ru").body == "русский 1"
    assert article.translations.get(language="en").body == "english 2"


def test_revisions_are_for_editors_only(editor, agent, customer):
    article = services.create_article(author=editor, title="Printer", body="v1")
    services.save_translation(article=article, language="en", title="Printer", body="v2", author=editor)
    assert selectors.article_revisions(editor, article=article, language="en").count() == 1
    assert not selectors.article_revisions(agent, article=article, language="en").exists()
    assert not selectors.article_revisions(customer, article=article, language="en").exists()


def test_the_diff_shows_what_changed_and_escapes_html(editor):
    article = services.create_article(author=editor, title="Printer", body="line one\n<script>x</script>\nline three")
    services.save_translation(article=article, language="en", title="Printers", body="line one\nline two\nline three",
                              author=editor)
    revision = ArticleRevision.objects.get()
    lines = selectors.revision_diff_lines(revision)
    assert ("remove", "# Printer") in [(line.kind, line.text) for line in lines]
    assert ("add", "# Printers") in [(line.kind, line.text) for line in lines]
    assert ("remove", "<script>x</script>") in [(line.kind, line.text) for line in lines]
    assert ("add", "line two") in [(line.kind, line.text) for line in lines]
    html = selectors.revision_diff(revision)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert '<div class="diff-add">' in html and '<div class="diff-remove">' in html


def test_an_unchanged_revision_has_an_empty_diff(editor):
    article = services.create_article(author=editor, title="Printer", body="v1")
    services.save_translation(article=article, language="en", title="Printer", body="v2", author=editor)
    services.restore_revision(revision=ArticleRevision.objects.get(number=1), actor=editor)
    assert selectors.revision_diff(ArticleRevision.objects.get(number=1)) == ""


def test_edit_article_writes_text_properties_and_related_at_once(editor):
    category = services.create_category(name="Printers")
    article = services.create_article(author=editor, title="Printer", body="v1")
    other = services.create_article(author=editor, title="Toner", body="t")
    services.edit_article(article=article, actor=editor, language="it", title="Stampante", body="ciao",
                          status=Article.Status.PUBLISHED, category=category, tags=["hardware"], related=[other, article])
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED and article.category == category
    assert sorted(article.translations.values_list("language", flat=True)) == ["en", "it"]
    assert list(article.related.all()) == [other] and list(other.related.all()) == [article]
    with pytest.raises(ValidationError) as raised:
        services.edit_article(article=article, actor=editor, language="el", body="no title")
    assert "title" in raised.value.message_dict


# Categories

def test_categories_form_a_tree_with_unique_slugs(editor):
    help_ = services.create_category(name="Help", names={"ru": "Помощь", "it": " "})
    again = services.create_category(name="Help")
    child = services.create_category(name="Printers", parent=help_, position=2)
    assert help_.slug != again.slug
    assert help_.names == {"ru": "Помощь"} and help_.name_in("ru") == "Помощь"
    assert [(c.name, depth) for c, depth in selectors.categories_in_order()] == [("Help", 0), ("Printers", 1), ("Help", 0)]
    assert child.parent == help_


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "  "}, "name"),
    ({"names": {"xx": "Nope"}}, "names"),
])
def test_bad_category_input_is_refused(changes, field):
    category = services.create_category(name="Help")
    with pytest.raises(ValidationError) as raised:
        services.update_category(category=category, **changes)
    assert field in raised.value.message_dict


def test_a_category_cannot_move_under_itself_or_its_children():
    top = services.create_category(name="Top")
    child = services.create_category(name="Child", parent=top)
    grandchild = services.create_category(name="Grandchild", parent=child)
    for parent in (top, grandchild):
        with pytest.raises(ValidationError) as raised:
            services.update_category(category=top, parent=parent)
        assert "parent" in raised.value.message_dict
    services.update_category(category=grandchild, parent=None, name="Moved")
    assert Category.objects.get(pk=grandchild.pk).parent is None


def test_a_category_with_children_or_articles_is_not_deleted(editor):
    top = services.create_category(name="Top")
    child = services.create_category(name="Child", parent=top)
    article = services.create_article(author=editor, title="Printer", body="v1", category=child)
    with pytest.raises(services.CategoryInUse, match="subcategories"):
        services.delete_category(category=top)
    with pytest.raises(services.CategoryInUse, match="articles"):
        services.delete_category(category=child)
    services.update_article(article=article, actor=editor, category=None)
    services.delete_category(category=child)
    services.delete_category(category=top)
    assert not Category.objects.exists()


# Attachments

def test_an_image_is_stored_and_its_markdown_shows_it(editor, customer):
    article = services.create_article(author=editor, title="Printer", body="v1", status=Article.Status.PUBLISHED)
    attachment, markdown = services.upload_attachment(
        article=article, file=SimpleUploadedFile("tray [1].png", png(), content_type="text/html"), actor=editor)
    assert attachment.content_type == "image/png" and attachment.size == len(png())
    assert markdown == f"![tray 1](/kb/attachments/{attachment.pk}/)"
    services.save_translation(article=article, language="en", title="Printer", body=markdown, author=editor)
    assert f'<img src="/kb/attachments/{attachment.pk}/" alt="tray 1">' in article.translations.get().body_html
    client = Client()
    response = client.get(f"/kb/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png()
    services.archive_article(article=article, actor=editor)
    assert client.get(f"/kb/attachments/{attachment.pk}/").status_code == 404


@pytest.mark.parametrize(("name", "content", "message"), [
    ("evil.svg", b"<svg onload=alert(1)></svg>", "Only PNG"),
    ("page.png", b"<html><script>alert(1)</script>", "Only PNG"),
    ("empty.png", b"", "empty"),
])
def test_files_that_are_not_images_are_refused(editor, name, content, message):
    article = services.create_article(author=editor, title="Printer", body="v1")
    with pytest.raises(ValidationError, match=message):
        services.upload_attachment(article=article, file=SimpleUploadedFile(name, content, "image/png"), actor=editor)
    assert not ArticleAttachment.objects.exists()


def test_an_image_over_the_limit_is_refused(editor):
    article = services.create_article(author=editor, title="Printer", body="v1")
    big = png() + b"\0" * services.KB_ATTACHMENT_MAX_BYTES
    with pytest.raises(ValidationError, match="at most 5 MB"):
        services.upload_attachment(article=article, file=SimpleUploadedFile("big.png", big), actor=editor)
    assert not ArticleAttachment.objects.exists()


def test_delete_removes_the_article_and_its_files(editor, tmp_path, django_capture_on_commit_callbacks):
    article = services.create_article(author=editor, title="Printer", body="v1")
    attachment, _markdown = services.upload_attachment(
        article=article, file=SimpleUploadedFile("a.png", png()), actor=editor)
    path = attachment.file.path
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_article(article=article, actor=editor)
    assert not Article.objects.exists()
    assert not os.path.exists(path)


# The agent dashboard's pages

def test_editor_pages_are_for_editors_only(client, editor, agent, customer):
    for user, expected in ((editor, 200), (agent, 403), (customer, 403)):
        client.force_login(user)
        assert client.get("/agent/kb/").status_code == expected
        assert client.get("/agent/kb/categories/").status_code == expected
    client.logout()
    assert client.get("/agent/kb/").status_code == 302


def test_the_agent_navbar_links_the_editor_for_editors_only(client, editor, agent):
    client.force_login(editor)
    assert b'href="/agent/kb/"' in client.get("/agent/").content
    client.force_login(agent)
    assert b'href="/agent/kb/"' not in client.get("/agent/").content


def test_the_article_list_filters_and_shows_feedback_counts(client, editor, django_assert_max_num_queries):
    category = services.create_category(name="Printers")
    for n in range(3):
        services.create_article(author=editor, title=f"Printer {n}", body="toner", category=category,
                                status=Article.Status.PUBLISHED, tags=["hw"])
    services.create_article(author=editor, title="Password", body="reset", language="ru")
    Article.objects.filter(translations__title="Printer 1").update(helpful_count=7, unhelpful_count=3)
    client.force_login(editor)
    with django_assert_max_num_queries(14) as few:
        page = client.get("/agent/kb/").content.decode()
    assert "Printer 0" in page and "Password" in page
    for n in range(10):
        services.create_article(author=editor, title=f"More {n}", body="x")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/agent/kb/")
    page = client.get("/agent/kb/", {"status": "published", "q": "toner", "category": category.pk}).content.decode()
    assert "Printer 2" in page and "Password" not in page and "More 1" not in page
    assert "<td>7</td>" in page and "<td>3</td>" in page
    assert "Password" in client.get("/agent/kb/", {"language": "ru"}).content.decode()
    bad = client.get("/agent/kb/", {"status": "gone"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_the_preview_renders_through_the_sanitizer(client, editor):
    client.force_login(editor)
    response = client.post("/agent/kb/preview/", {"body": "**Hi** <script>alert(1)</script> [x](javascript:alert(1))"})
    html = response.content.decode()
    assert "<strong>Hi</strong>" in html and "<script>" not in html and 'href="javascript' not in html


def test_category_delete_in_use_says_why(client, editor):
    top = services.create_category(name="Top")
    services.create_category(name="Child", parent=top)
    client.force_login(editor)
    page = client.post(f"/agent/kb/categories/{top.pk}/delete/", follow=True).content.decode()
    assert "still has subcategories" in page and Category.objects.filter(pk=top.pk).exists()


def test_the_image_upload_page_answers_the_markdown_or_the_reason(client, editor):
    article = services.create_article(author=editor, title="Printer", body="v1")
    client.force_login(editor)
    good = client.post(f"/agent/kb/articles/{article.pk}/images/", {"file": SimpleUploadedFile("tray.png", png())})
    attachment = ArticleAttachment.objects.get()
    assert good.status_code == 200 and f"![tray](/kb/attachments/{attachment.pk}/)" in good.content.decode()
    bad = client.post(f"/agent/kb/articles/{article.pk}/images/", {"file": SimpleUploadedFile("x.png", b"<svg/>")})
    assert bad.status_code == 400 and "Only PNG, JPEG, GIF and WebP" in bad.content.decode()
    assert ArticleAttachment.objects.count() == 1


def test_categories_are_added_and_edited_in_the_agent_dashboard(client, editor):
    client.force_login(editor)
    page = client.post("/agent/kb/categories/", {"name": "Printers", "name_ru": "Принтеры", "position": ""},
                       follow=True).content.decode()
    category = Category.objects.get()
    assert "Category “Printers” added." in page and category.names == {"ru": "Принтеры"} and category.position == 0
    child = services.create_category(name="Toner", parent=category)
    loop = client.post(f"/agent/kb/categories/{category.pk}/", {"name": "Printers", "parent": child.pk})
    assert loop.status_code == 400 and "moved under itself" in loop.content.decode()
    client.post(f"/agent/kb/categories/{category.pk}/", {"name": "Printing", "position": "3"})
    assert Category.objects.get(pk=category.pk).name == "Printing"


def test_the_admin_saves_translations_through_the_services(client, admin_user):
    admin_user.is_staff = True
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    article = services.create_article(author=admin_user, title="Printer", body="v1")
    translation = article.translations.get()
    for path in ("/admin/knowledgebase/article/", f"/admin/knowledgebase/article/{article.pk}/change/",
                 "/admin/knowledgebase/category/", "/admin/knowledgebase/articlerevision/",
                 "/admin/knowledgebase/articlefeedback/", "/admin/knowledgebase/deflection/",
                 "/admin/knowledgebase/searchlog/", "/admin/knowledgebase/article/add/"):
        assert client.get(path).status_code == 200, path
    response = client.post(f"/admin/knowledgebase/article/{article.pk}/change/", {
        "status": "published", "source_language": "en", "position": "0", "category": "",
        "translations-TOTAL_FORMS": "1", "translations-INITIAL_FORMS": "1", "translations-MIN_NUM_FORMS": "0",
        "translations-MAX_NUM_FORMS": "1000", "translations-0-id": str(translation.pk),
        "translations-0-article": str(article.pk), "translations-0-language": "en",
        "translations-0-title": "Printer", "translations-0-body": "**v2**",
        "attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0", "attachments-MIN_NUM_FORMS": "0",
        "attachments-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    translation.refresh_from_db()
    assert translation.body_html == "<p><strong>v2</strong></p>\n"
    assert [(r.number, r.body) for r in translation.revisions.all()] == [(1, "v1")]


def test_the_admin_shows_a_revision_s_diff_and_restores_it(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    article = services.create_article(author=admin_user, title="Printer", body="<b>old</b>")
    services.save_translation(article=article, language="en", title="Printer", body="new", author=admin_user)
    revision = ArticleRevision.objects.get()
    page = client.get(f"/admin/knowledgebase/articlerevision/{revision.pk}/change/").content.decode()
    assert '<div class="diff-remove">' in page and "&lt;b&gt;old&lt;/b&gt;" in page
    response = client.post("/admin/knowledgebase/articlerevision/", {
        "action": "restore", "_selected_action": [str(revision.pk)]}, follow=True)
    assert "Revision 1 of “Printer” restored." in response.content.decode()
    assert article.translations.get().body == "<b>old</b>"
