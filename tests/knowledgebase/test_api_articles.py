"""`/api/v1/kb/articles/` and `/api/v1/kb/categories/` (issue 16): who reads which status,
writes for KB editors and admins only, translations by `lang`, revisions and restore,
and clear 400s for bad input."""

import pytest
from rest_framework.test import APIClient

from knowledgebase import services
from knowledgebase.models import Article, ArticleRevision, Category
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

STATUSES = ["draft", "published", "internal", "archived"]
READS = {
    "anonymous": {"published"},
    "customer": {"published"},
    "agent": {"published", "internal"},
    "editor": set(STATUSES),
    "admin": set(STATUSES),
}


@pytest.fixture
def editor(db):
    return AgentFactory(kb_editor=True)


@pytest.fixture
def people(customer, agent, editor, admin_user):
    return {"anonymous": None, "customer": customer, "agent": agent, "editor": editor, "admin": admin_user}


@pytest.fixture
def articles(editor):
    return {status: services.create_article(author=editor, title=f"Printer {status}", body=f"About {status}",
                                            status=status) for status in STATUSES}


def client_for(api, user):
    return api.as_user(user) if user is not None else APIClient()


@pytest.mark.parametrize("who", list(READS))
def test_who_reads_which_status(api, people, articles, who):
    client = client_for(api, people[who])
    listed = client.get("/api/v1/kb/articles/")
    assert listed.status_code == 200
    assert {row["status"] for row in listed.json()["results"]} == READS[who]
    for status, article in articles.items():
        response = client.get(f"/api/v1/kb/articles/{article.pk}/")
        assert response.status_code == (200 if status in READS[who] else 404), (who, status)


@pytest.mark.parametrize("who", ["anonymous", "customer", "agent"])
def test_writes_need_the_editor_permission(api, people, articles, who):
    client = client_for(api, people[who])
    published = articles["published"]
    expected = 401 if who == "anonymous" else 403
    assert client.post("/api/v1/kb/articles/", {"title": "New", "body": "x"}, format="json").status_code == expected
    assert client.patch(f"/api/v1/kb/articles/{published.pk}/", {"title": "Hacked"},
                        format="json").status_code == expected
    assert client.post("/api/v1/kb/categories/", {"name": "X"}, format="json").status_code == expected
    assert client.post(f"/api/v1/kb/articles/{published.pk}/revisions/1/restore/").status_code == expected
    assert Article.objects.count() == 4 and not Category.objects.exists()
    assert published.translations.get().title == "Printer published"


@pytest.mark.parametrize("who", ["editor", "admin"])
def test_editors_and_admins_create_and_update(api, people, articles, who):
    client = client_for(api, people[who])
    category = services.create_category(name="Printers")
    created = client.post("/api/v1/kb/articles/", {
        "title": "Paper jam", "body": "**Open** the tray", "language": "en", "status": "published",
        "category": category.pk, "tags": ["paper", "printer"], "related": [articles["draft"].pk]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["title"] == "Paper jam" and body["body_html"] == "<p><strong>Open</strong> the tray</p>\n"
    assert (body["status"], body["category"], body["tags"], body["translations"], body["language"]) == (
        "published", category.pk, ["paper", "printer"], ["en"], "en")
    assert body["related"] == [articles["draft"].pk] and body["author"]
    pk = body["id"]

    translated = client.patch(f"/api/v1/kb/articles/{pk}/", {"language": "ru", "title": "Замятие бумаги",
                                                             "body": "Откройте лоток"}, format="json")
    assert translated.status_code == 200, translated.content
    assert translated.json()["language"] == "ru" and translated.json()["translations"] == ["en", "ru"]
    english = client.get(f"/api/v1/kb/articles/{pk}/?lang=en").json()
    assert english["title"] == "Paper jam"
    russian = client.get(f"/api/v1/kb/articles/{pk}/", {"lang": "ru"}).json()
    assert russian["title"] == "Замятие бумаги" and russian["body"] == "Откройте лоток"

    body_only = client.patch(f"/api/v1/kb/articles/{pk}/?lang=en", {"body": "Pull the paper", "status": "internal",
                                                                    "tags": []}, format="json")
    assert body_only.status_code == 200, body_only.content
    assert (body_only.json()["title"], body_only.json()["status"], body_only.json()["tags"]) == (
        "Paper jam", "internal", [])


def test_revisions_list_and_restore(api, editor, agent):
    article = services.create_article(author=editor, title="Printer", body="v1", status=Article.Status.PUBLISHED)
    client = api.as_user(editor)
    client.patch(f"/api/v1/kb/articles/{article.pk}/", {"body": "v2"}, format="json")
    client.patch(f"/api/v1/kb/articles/{article.pk}/", {"body": "v3"}, format="json")
    revisions = client.get(f"/api/v1/kb/articles/{article.pk}/revisions/?lang=en")
    assert revisions.status_code == 200
    rows = revisions.json()["results"]
    assert [(r["number"], r["body"]) for r in rows] == [(2, "v2"), (1, "v1")]
    assert "diff-add" in rows[0]["diff"] and "v3" in rows[0]["diff"]
    restored = client.post(f"/api/v1/kb/articles/{article.pk}/revisions/1/restore/")
    assert restored.status_code == 200 and restored.json()["body"] == "v1"
    assert ArticleRevision.objects.filter(translation__article=article).count() == 3
    assert client.post(f"/api/v1/kb/articles/{article.pk}/revisions/99/restore/").status_code == 404
    assert api.as_user(agent).get(f"/api/v1/kb/articles/{article.pk}/revisions/").status_code == 403


@pytest.mark.parametrize(("payload", "field"), [
    ({"title": "x", "language": "xx"}, "language"),
    ({"title": "x", "status": "secret"}, "status"),
    ({"title": "   "}, "title"),
    ({"body": "no title"}, "title"),
    ({"title": "x", "category": 999999}, "category"),
    ({"title": "x", "tags": "not a list"}, "tags"),
    ({"title": "x", "body": "y" * 200_001}, "body"),
    ({"title": "x\x00"}, "title"),
])
def test_bad_article_input_is_a_field_error(api, editor, payload, field):
    response = api.as_user(editor).post("/api/v1/kb/articles/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Article.objects.exists()


def test_an_unknown_lang_is_a_400(api, editor, articles):
    client = api.as_user(editor)
    response = client.get("/api/v1/kb/articles/?lang=klingon")
    assert response.status_code == 400 and "lang" in response.json()
    pk = articles["published"].pk
    assert client.get(f"/api/v1/kb/articles/{pk}/?lang=xx").status_code == 400
    new_translation = client.patch(f"/api/v1/kb/articles/{pk}/?lang=el", {"body": "no title"}, format="json")
    assert new_translation.status_code == 400 and "title" in new_translation.json()


def test_internal_related_articles_are_not_named_to_customers(api, editor, customer, articles):
    services.set_related_articles(article=articles["published"],
                                  related=[articles["internal"], articles["draft"]], actor=editor)
    pk = articles["published"].pk
    assert api.as_user(customer).get(f"/api/v1/kb/articles/{pk}/").json()["related"] == []
    assert sorted(api.as_user(editor).get(f"/api/v1/kb/articles/{pk}/").json()["related"]) == sorted(
        [articles["internal"].pk, articles["draft"].pk])


def test_article_list_query_count_is_constant(api, editor, django_assert_max_num_queries):
    client = api.as_user(editor)
    services.create_article(author=editor, title="One", body="x", tags=["a"])
    with django_assert_max_num_queries(12) as few:
        client.get("/api/v1/kb/articles/")
    for n in range(8):
        other = services.create_article(author=editor, title=f"More {n}", body="x", tags=["a", "b"])
        services.save_translation(article=other, language="ru", title="Ещё", body="y", author=editor)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/kb/articles/").json()["count"] == 9


def test_categories_crud_and_rules(api, editor, customer):
    client = api.as_user(editor)
    top = client.post("/api/v1/kb/categories/", {"name": "Help", "names": {"ru": "Помощь"}, "position": 1},
                      format="json")
    assert top.status_code == 201, top.content
    assert top.json()["names"] == {"ru": "Помощь"} and top.json()["slug"] == "help"
    top_id = top.json()["id"]
    child = client.post("/api/v1/kb/categories/", {"name": "Printers", "parent": top_id}, format="json").json()
    assert child["parent"] == top_id
    assert [c["name"] for c in APIClient().get("/api/v1/kb/categories/").json()["results"]] == ["Printers", "Help"]
    loop = client.patch(f"/api/v1/kb/categories/{top_id}/", {"parent": child["id"]}, format="json")
    assert loop.status_code == 400 and "parent" in loop.json()
    in_use = client.delete(f"/api/v1/kb/categories/{top_id}/")
    assert in_use.status_code == 409 and "subcategories" in in_use.json()["detail"]
    assert client.patch(f"/api/v1/kb/categories/{child['id']}/", {"name": "Printing"},
                        format="json").json()["name"] == "Printing"
    customer_client = APIClient()
    customer_client.force_authenticate(customer)
    assert customer_client.delete(f"/api/v1/kb/categories/{child['id']}/").status_code == 403
    assert client.delete(f"/api/v1/kb/categories/{child['id']}/").status_code == 204
    assert client.delete(f"/api/v1/kb/categories/{top_id}/").status_code == 204
    bad = client.post("/api/v1/kb/categories/", {"name": " ", "position": -1}, format="json")
    assert bad.status_code == 400 and {"name", "position"} <= set(bad.json())


def test_images_are_uploaded_by_editors_through_the_api(api, editor, agent, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.knowledgebase.test_editor import png

    settings.MEDIA_ROOT = str(tmp_path)
    article = services.create_article(author=editor, title="Printer", body="v1")
    url = f"/api/v1/kb/articles/{article.pk}/attachments/"
    response = api.as_user(editor).post(url, {"file": SimpleUploadedFile("tray.png", png())}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/png" and body["markdown"] == f"![tray]({body['url']})"
    refused = api.as_user(editor).post(url, {"file": SimpleUploadedFile("a.png", b"GIF")}, format="multipart")
    assert refused.status_code == 400 and "file" in refused.json()
    assert api.as_user(agent).post(url, {"file": SimpleUploadedFile("tray.png", png())},
                                   format="multipart").status_code == 403
