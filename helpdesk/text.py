"""Text that people and mail clients show: names, subjects, file names.
One place for what is stripped from them, so every writer strips the same."""

import re
import unicodedata

# C0 controls and DEL: CR/LF in a name would break a mail header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def strip_format_chars(text: str) -> str:
    """Without Unicode format characters (category Cf: U+202E, U+200B…),
    which reorder or hide text (`invoice\\u202efdp.zip` shows as "invoicepiz.pdf")."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def clean_line(text: str) -> str:
    """One line of shown text: no control or format characters, whitespace
    runs (line breaks included) collapsed to a space, trimmed."""
    return " ".join(_CONTROL.sub(" ", strip_format_chars(str(text or ""))).split())
