"""Every offered locale is complete: each msgid of django.po and djangojs.po is
translated (nothing fuzzy), with the msgid's placeholders and markup and every
plural form; the committed .mo files are compiled from the .po. A locale that is
not complete is neither offered by the switcher nor used, for pages or mail."""

import gettext
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse

from helpdesk.locales import complete_language_codes, read_po_entries
from tests.fixtures import wait_for_mail as _wait
from tickets import services
from tickets.tasks import process_events

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
DOMAINS = ("django", "djangojs")
CATALOGUES = [(code, domain) for code in TRANSLATED for domain in DOMAINS]

# %(name)s, %s / %d, {name}; and HTML tags.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w+\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _po_file(code, domain) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{domain}.po"


@pytest.fixture(params=CATALOGUES, ids=[f"{c}-{d}" for c, d in CATALOGUES])
def po(request):
    code, domain = request.param
    path = _po_file(code, domain)
    assert path.exists(), f"{path} is missing: run makemessages -l {code} (and -d djangojs)"
    return polib.pofile(str(path))


def _forms(entry):
    return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)] if entry.msgid_plural else [entry.msgstr]


def test_every_string_is_translated_and_none_is_fuzzy(po):
    nplurals = int(re.search(r"nplurals\s*=\s*(\d+)", po.metadata["Plural-Forms"]).group(1))
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        forms = _forms(entry)
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        if not all(forms):
            problems.append(f"untranslated: {entry.msgid!r}")
        if entry.msgid_plural and len(forms) != nplurals:
            problems.append(f"{len(forms)} plural forms, the header says {nplurals}: {entry.msgid!r}")
    assert not problems, f"{po.fpath}:\n" + "\n".join(problems)


def test_translations_keep_the_placeholders_and_markup(po):
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        for pattern in (PLACEHOLDER, TAG):
            for form in filter(None, _forms(entry)):
                # Every plural form names what the plural msgid names (counts included).
                source = entry.msgid_plural or entry.msgid
                if sorted(pattern.findall(form)) != sorted(pattern.findall(source)):
                    problems.append(f"{entry.msgid!r} -> {form!r}")
    assert not problems, f"{po.fpath}:\n" + "\n".join(problems)


def test_committed_mo_files_are_compiled_from_the_po(po, tmp_path):
    fresh = tmp_path / "fresh.mo"
    po.save_as_mofile(str(fresh))
    committed = Path(po.fpath).with_suffix(".mo")
    assert committed.exists(), f"{committed} is missing: run compilemessages"

    def catalogue(path):
        with open(path, "rb") as fh:
            return {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if k != ""}

    assert catalogue(committed) == catalogue(fresh), f"{committed} is stale: run compilemessages"


def test_our_parser_reads_what_polib_reads(po):
    """helpdesk.locales decides completeness at run time with its own small parser (polib is a dev tool)."""
    ours = [(e["msgctxt"], e["msgid"], e["msgid_plural"], e["msgstr"], e["fuzzy"])
            for e in read_po_entries(Path(po.fpath))]
    theirs = [(e.msgctxt or "", e.msgid, e.msgid_plural or "", _forms(e), "fuzzy" in e.flags)
              for e in po if not e.obsolete]
    assert ours == theirs


def test_every_configured_language_is_complete_and_offered(client, db):
    assert complete_language_codes() == {code for code, _name in settings.LANGUAGES}
    html = client.get(reverse("portal:home")).content.decode()
    switcher = re.search(r'<select id="language-switch".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', switcher) == [code for code, _name in settings.LANGUAGES]


@pytest.fixture
def italian_incomplete(settings, tmp_path):
    """The project's locales with one Italian string left untranslated (and compiled so)."""
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale)
    path = locale / "it" / "LC_MESSAGES" / "django.po"
    catalog = polib.pofile(str(path))
    catalog.find("Queue").msgstr = ""
    catalog.save()
    catalog.save_as_mofile(str(path.with_suffix(".mo")))
    settings.LOCALE_PATHS = [locale]
    assert complete_language_codes() == {"en", "ru", "el"}
    return locale


def test_incomplete_locale_is_not_offered(client, db, italian_incomplete):
    html = client.get(reverse("portal:home")).content.decode()
    switcher = re.search(r'<select id="language-switch".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', switcher) == ["en", "ru", "el"]


def test_incomplete_locale_falls_back_to_english(client, customer, italian_incomplete):
    # Asked for by the browser, by a cookie, or as the user's preference: English each time.
    html = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9").content.decode()
    assert 'lang="en"' in html and "How can we help?" in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    html = client.get(reverse("portal:home")).content.decode()
    assert 'lang="en"' in html and "How can we help?" in html
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    customer.language = "it"
    customer.save()
    client.force_login(customer)
    html = client.get(reverse("portal:home")).content.decode()
    assert 'lang="en"' in html and "How can we help?" in html and "Come possiamo aiutarti?" not in html
    # The switcher refuses it too.
    response = client.post(reverse("set_language"), {"language": "it", "next": "/portal/"})
    assert response.status_code == 302 and settings.LANGUAGE_COOKIE_NAME not in response.cookies
    # A complete locale still works.
    response = client.post(reverse("set_language"), {"language": "el", "next": "/portal/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "el"
    assert "Πώς μπορούμε να βοηθήσουμε;" in client.get(reverse("portal:home")).content.decode()


def test_mail_to_a_requester_of_an_incomplete_locale_is_in_english(
        smtp, customer, agent, make_ticket, italian_incomplete, django_capture_on_commit_callbacks):  # noqa: F811
    customer.language = "it"
    customer.save()
    ticket = make_ticket(customer, subject="Toner che perde")
    services.add_message(ticket=ticket, author=agent, body="Le inviamo un toner sostitutivo.")
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    [msg] = _wait(smtp)
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith(f"Hello {customer.display_name},")
    assert "Gentile" not in body


def test_mail_to_an_italian_requester_is_in_italian(smtp, customer, agent, make_ticket,  # noqa: F811
                                                   django_capture_on_commit_callbacks):
    customer.language = "it"
    customer.save()
    ticket = make_ticket(customer, subject="Toner che perde")
    services.add_message(ticket=ticket, author=agent, body="Le inviamo un toner sostitutivo.")
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    [msg] = _wait(smtp)
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith(f"Gentile {customer.display_name},")
    assert f"Ticket #{ticket.number} · Helpdesk" in body
    assert "Legga l'intera conversazione e risponda qui:" in body


@pytest.mark.parametrize("language, expected", [
    ("el", "πριν από 31 λεπτά"), ("ru", "31 минуту назад"), ("it", "31 minuti fa"), ("en", "31 minutes ago"),
])
def test_how_long_ago_speaks_the_readers_language(language, expected):
    """Django's own Greek catalogue leaves "31 minutes" in English: the queue's
    "updated" column uses phrases of ours."""
    import datetime

    from django.utils import timezone, translation

    from tickets.templatetags.helpdesk_ui import ago

    with translation.override(language):
        assert expected in ago(timezone.now() - datetime.timedelta(minutes=31, seconds=5))
