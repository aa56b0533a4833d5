"""The apps form a one-way stack: each imports only the apps below it.

Imports (module- and function-level), model references ("tickets.Ticket")
and dotted paths naming modules ("escalation.engine.run_triggers") all count.
Only the project's wiring names every app."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STACK = ["helpdesk", "knowledgebase", "tickets", "escalation", "channels_inbox"]
LEVEL = {app: level for level, app in enumerate(STACK)}

# The project's wiring: settings, URL confs, ASGI/WSGI, the Celery app, seed_demo.
WIRING = {
    "helpdesk/settings.py", "helpdesk/urls.py", "helpdesk/api/urls.py", "helpdesk/asgi.py", "helpdesk/wsgi.py",
    "helpdesk/celery.py", "helpdesk/management/commands/seed_demo.py",
}

_DOTTED = re.compile(r"^(" + "|".join(STACK) + r")(\.[A-Za-z_]\w*)+$")


def _modules():
    for app in STACK:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative and relative not in WIRING:
                yield relative


def _package(relative: str) -> list[str]:
    parts = relative[:-3].split("/")
    return parts if parts[-1] == "__init__" else parts[:-1]


def references(relative: str) -> set[tuple[int, str]]:
    """(line, dotted name) of every app-qualified name the module uses."""
    tree = ast.parse((ROOT / relative).read_text(), relative)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(relative)[: len(_package(relative)) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add((node.lineno, module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            found.add((node.lineno, node.value))
    return found


def upward_references(relative: str) -> list[str]:
    own = LEVEL[relative.split("/")[0]]
    bad = []
    for line, name in sorted(references(relative)):
        app = name.split(".")[0]
        if app in LEVEL and LEVEL[app] > own:
            bad.append(f"{relative}:{line} uses {name}")
    return bad


def test_no_app_depends_on_an_app_above_it():
    bad = [problem for relative in _modules() for problem in upward_references(relative)]
    assert not bad, "imports that run up the stack " + " < ".join(STACK) + ":\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "expected"), [
    ("from escalation.models import Group\n", ["helpdesk/x.py:1 uses escalation.models"]),
    ("def f():\n    import tickets.services\n", ["helpdesk/x.py:2 uses tickets.services"]),
    ("fk = ('tickets.Ticket',)\n", ["helpdesk/x.py:1 uses tickets.Ticket"]),
    ("HANDLERS = ['channels_inbox.realtime.push']\n", ["helpdesk/x.py:1 uses channels_inbox.realtime.push"]),
    ("from .models import User\n'''Talks of tickets.Ticket in prose.'''\n", []),
])
def test_the_walker_sees_every_kind_of_reference(tmp_path, monkeypatch, source, expected):
    (tmp_path / "helpdesk").mkdir()
    (tmp_path / "helpdesk" / "x.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert upward_references("helpdesk/x.py") == expected
