"""Issue 16, content, in the browser: a KB editor writes an article in the agent
dashboard, previews it, publishes it, edits it, reads the diff of the revision and
restores it; an agent without the permission does not see the editor."""

import pytest
from playwright.sync_api import expect

from knowledgebase.models import Article
from tests.factories import PASSWORD, AgentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/agent/")


def test_an_editor_writes_previews_publishes_edits_and_restores(live_server, page):
    AgentFactory(username="kirill", kb_editor=True)
    log_in(page, live_server, "kirill")
    page.get_by_role("link", name="Knowledge base").click()
    expect(page.get_by_role("heading", name="Knowledge base articles")).to_be_visible()
    expect(page.get_by_text("No articles yet.")).to_be_visible()
    page.get_by_role("link", name="New article").click()

    page.get_by_label("Title").fill("Printer prints blank pages")
    page.get_by_label("Body (Markdown)").fill("**Check the toner** first.\n\n<script>alert(1)</script>")
    preview = page.locator("#preview")
    expect(preview.locator("strong")).to_have_text("Check the toner")
    expect(preview).to_contain_text("<script>alert(1)</script>")  # shown as text, never run
    page.get_by_role("button", name="Create article").click()
    expect(page.get_by_text("Article “Printer prints blank pages” created.")).to_be_visible()
    article = Article.objects.get()
    assert article.status == Article.Status.DRAFT

    page.get_by_label("Status").select_option("published")
    page.get_by_role("button", name="Save article").click()
    expect(page.get_by_text("Article saved.")).to_be_visible()
    expect(page.get_by_text("No earlier versions yet")).to_be_visible()
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED

    page.get_by_label("Body (Markdown)").fill("**Shake the toner** cartridge.")
    page.get_by_role("button", name="Save article").click()
    expect(page.get_by_text("Article saved.")).to_be_visible()
    page.get_by_role("link", name="Revision 1").click()
    diff = page.locator("#kb-diff")
    expect(diff.locator("[data-kind=remove]").filter(has_text="**Check the toner** first.")).to_be_visible()
    expect(diff.locator("[data-kind=add]").filter(has_text="**Shake the toner** cartridge.")).to_be_visible()
    page.get_by_role("button", name="Restore this revision").click()
    expect(page.get_by_text("Revision 1 restored")).to_be_visible()
    expect(page.get_by_label("Body (Markdown)")).to_have_value("**Check the toner** first.\n\n<script>alert(1)</script>")
    expect(page.get_by_role("link", name="Revision 2")).to_be_visible()
    assert article.translations.get().body.startswith("**Check the toner**")

    page.get_by_role("link", name="Knowledge base", exact=True).first.click()
    row = page.locator("#kb-articles tbody tr").filter(has_text="Printer prints blank pages")
    expect(row).to_contain_text("Published")


def test_an_agent_without_the_permission_sees_no_editor(live_server, page):
    AgentFactory(username="boris")
    log_in(page, live_server, "boris")
    expect(page.get_by_role("link", name="Queue")).to_be_visible()
    expect(page.get_by_role("link", name="Knowledge base")).to_have_count(0)
    response = page.goto(f"{live_server.url}/agent/kb/")
    assert response.status == 403


def test_the_editor_pages_pass_axe(live_server, browser):
    from knowledgebase import services
    from tests.e2e.test_accessibility import axe_violations, blocking, report

    editor = AgentFactory(username="vera", kb_editor=True)
    category = services.create_category(name="Printers", names={"ru": "Принтеры"})
    article = services.create_article(author=editor, title="Toner", body="Old text", category=category,
                                      status=Article.Status.PUBLISHED, tags=["toner"])
    services.save_translation(article=article, language="en", title="Toner", body="New text", author=editor)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True)
    page = context.new_page()
    log_in(page, live_server, "vera")
    for path in ("/agent/kb/", f"/agent/kb/articles/{article.pk}/", f"/agent/kb/articles/{article.pk}/?lang=ru",
                 f"/agent/kb/articles/{article.pk}/revisions/1/", "/agent/kb/categories/", "/agent/kb/articles/new/",
                 f"/agent/kb/categories/{category.pk}/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=f"/tmp/kb-editor-{path.strip('/').replace('/', '-').replace('?', '-')}.png", full_page=True)
        found = blocking(axe_violations(page))
        assert not found, f"{path}:\n{report(found)}"
    context.close()
