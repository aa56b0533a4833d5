"""Which interface languages are complete: only those are offered and activated.

A locale is complete when its compiled catalogues (.mo) translate every msgid that
makemessages wrote into any locale's .po files. Computed once per process.
"""
from __future__ import annotations

import ast
import functools
import gettext
import logging
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise

logger = logging.getLogger(__name__)

DOMAINS = ("django", "djangojs")
Key = tuple[str, str, str]  # (msgctxt, msgid, msgid_plural)


def read_po_entries(path: Path) -> list[dict]:
    """The live entries of a .po file (no header, no obsolete #~ ones): msgctxt, msgid,
    msgid_plural, msgstr (a list, one per plural form) and fuzzy."""
    entries: list[dict] = []
    entry: dict = {}
    field = ""

    def close() -> None:
        nonlocal entry, field
        if entry.get("msgid"):
            entries.append({"msgctxt": "", "msgid_plural": "", "fuzzy": False, "msgstr": [""]} | entry)
        entry, field = {}, ""

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if "msgstr" in entry:
                close()
            if line.startswith("#,") and "fuzzy" in (flag.strip() for flag in line[2:].split(",")):
                entry["fuzzy"] = True
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if field == "msgstr":
                entry["msgstr"][-1] += value
            elif field:
                entry[field] += value
            continue
        keyword, _sep, rest = line.partition(" ")
        value = ast.literal_eval(rest)
        if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
            close()
        if keyword.startswith("msgstr"):
            entry.setdefault("msgstr", []).append(value)
            field = "msgstr"
        else:
            entry[keyword] = value
            field = keyword
    close()
    return entries


def _po_path(base: str | Path, lang: str, domain: str) -> Path:
    return Path(base) / lang / "LC_MESSAGES" / f"{domain}.po"


def _mo_catalog(lang: str, domain: str) -> dict | None:
    for base in settings.LOCALE_PATHS:
        mo = Path(base) / lang / "LC_MESSAGES" / f"{domain}.mo"
        if mo.exists():
            with mo.open("rb") as fh:
                return gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    return None


def _all_msgids(domain: str) -> set[Key]:
    keys: set[Key] = set()
    for base in settings.LOCALE_PATHS:
        for code, _name in settings.LANGUAGES:
            po = _po_path(base, code, domain)
            if po.exists():
                keys |= {(e["msgctxt"], e["msgid"], e["msgid_plural"]) for e in read_po_entries(po)}
    return keys


def _untranslated(catalog: dict | None, keys: set[Key]) -> int:
    """How many of `keys` the compiled catalogue does not translate (msgfmt leaves out fuzzy ones)."""
    if catalog is None:
        return len(keys)
    missing = 0
    for ctxt, msgid, plural in keys:
        key = f"{ctxt}\x04{msgid}" if ctxt else msgid
        if not catalog.get((key, 0) if plural else key):
            missing += 1
    return missing


@functools.cache
def complete_language_codes() -> frozenset[str]:
    """Codes of the LANGUAGES whose catalogues translate every msgid; the default language always."""
    complete = {settings.LANGUAGE_CODE}
    msgids = {domain: _all_msgids(domain) for domain in DOMAINS}
    for code, _name in settings.LANGUAGES:
        if code == settings.LANGUAGE_CODE:
            continue
        missing = sum(_untranslated(_mo_catalog(code, domain), msgids[domain]) for domain in DOMAINS)
        if missing:
            logger.warning("Locale %s lacks %d translations: not offered, its users see %s.",
                           code, missing, settings.LANGUAGE_CODE)
        else:
            complete.add(code)
    return frozenset(complete)


def is_complete(code: str | None) -> bool:
    return bool(code) and code in complete_language_codes()


def usable_language(code: str | None) -> str:
    """The language to speak to someone who prefers `code`: it, or the default when incomplete."""
    return code if code and is_complete(code) else settings.LANGUAGE_CODE


def offered_languages() -> list[tuple[str, str | Promise]]:
    """LANGUAGES, limited to the complete ones, in their settings order."""
    complete = complete_language_codes()
    return [(code, name) for code, name in settings.LANGUAGES if code in complete]


@receiver(setting_changed)
def _forget_on_settings_change(*, setting: str, **kwargs) -> None:
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"):
        complete_language_codes.cache_clear()
