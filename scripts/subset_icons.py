"""Subsets the Tabler icon font to the icons the project uses.

Scans templates/, static/ and the apps' Python for `ti-NAME` classes (plus
DYNAMIC, icons put together at run time), then writes into static_build/vendor/
tabler-icons/ a woff2 with only those glyphs and a CSS with only their rules.
Run by scripts/build-assets.sh after npm's files are copied."""

import re
import sys
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node_modules/@tabler/icons-webfont/dist"
OUT = ROOT / "static_build/vendor/tabler-icons"
SCANNED = [("templates", "*.html"), ("static", "*.js"), ("static", "*.css")] + [
    (app, "*.py") for app in ("helpdesk", "tickets", "escalation", "channels_inbox", "knowledgebase")
]
# Icons whose class is built at run time (no literal `ti-NAME` in the sources).
DYNAMIC: set[str] = set()
ICON_CLASS = re.compile(r"\bti-([a-z0-9]+(?:-[a-z0-9]+)*)")
RULE = re.compile(r'\.ti-([a-z0-9-]+):before\{content:"\\([0-9a-f]+)"\}')


def used_icons() -> set[str]:
    names = set(DYNAMIC)
    for folder, pattern in SCANNED:
        for path in (ROOT / folder).rglob(pattern):
            names.update(ICON_CLASS.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def main() -> int:
    css = (SOURCE / "tabler-icons.min.css").read_text()
    codepoints = {name: code for name, code in RULE.findall(css)}
    names = sorted(used_icons())
    unknown = [n for n in names if n not in codepoints]
    if unknown:
        print(f"subset_icons: not in Tabler Icons: {', '.join(unknown)}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fonts").mkdir(exist_ok=True)
    subset.main([
        str(SOURCE / "fonts/tabler-icons.woff2"),
        "--unicodes=" + ",".join(f"U+{codepoints[n]}" for n in names),
        "--flavor=woff2", "--layout-features=", "--no-hinting", "--desubroutinize",
        f"--output-file={OUT / 'fonts/tabler-icons-subset.woff2'}",
    ])
    # The same @font-face and .ti rule as Tabler's CSS, the used icons' rules only.
    base = re.search(r"\.ti\{[^}]*\}", css).group(0)  # type: ignore[union-attr]  # Tabler's CSS has it
    rules = "".join(f'.ti-{n}:before{{content:"\\{codepoints[n]}"}}' for n in names)
    (OUT / "tabler-icons-subset.css").write_text(
        "/* Tabler Icons (MIT), subset to the icons this project uses by scripts/subset_icons.py */\n"
        '@font-face{font-family:"tabler-icons";font-style:normal;font-weight:400;font-display:block;'
        'src:url("fonts/tabler-icons-subset.woff2") format("woff2")}'
        f"{base}{rules}\n"
    )
    print(f"subset_icons: {len(names)} icons: {' '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
