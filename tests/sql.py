"""Reading captured SQL in tests: a statement that reads a table, whether the
ORM built it (`FROM "tickets_ticket"`) or it is hand-written (`FROM tickets_ticket m`),
and not its neighbours (`tickets_ticket_tags`). Hand-written statements
(helpdesk.db, named in tickets/sql.py and escalation/sql.py) run as prepared
statements on PostgreSQL: a captured `EXECUTE h_… (values)` reads back as the
statement with its values and its identifiers unquoted, and the `PREPARE`
before a first use is left out."""

import re

from helpdesk import db

_EXECUTE = re.compile(r"EXECUTE (h_[0-9a-f]+)(?: \((.*)\))?$", re.S)


def _values(text):
    """The values of an EXECUTE's list, split at the commas outside quotes
    and brackets (psycopg2 writes them as literals: 'it''s', ARRAY[1,2], …)."""
    values, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted  # a doubled quote flips twice
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    if text.strip():
        values.append(text[start:].strip())
    return values


def statement(sql):
    """The SQL text of one captured query."""
    found = _EXECUTE.match(sql)
    if not found:
        return sql
    values = iter(_values(found.group(2) or ""))
    # psycopg2.sql quotes every identifier; the project's names need none.
    text = db.STATEMENTS[found.group(1)].replace('"', "")
    return re.sub(r"%[s%]", lambda m: next(values) if m.group() == "%s" else "%", text)


def statements(queries):
    """The SQL of CaptureQueriesContext's queries, without the PREPAREs."""
    return [statement(q["sql"]) for q in queries if not q["sql"].startswith("PREPARE ")]


def reads_from(queries, table):
    """The SELECTs among CaptureQueriesContext's queries whose FROM is `table`."""
    pattern = re.compile(rf'\bFROM "?{re.escape(table)}"?(\s|$)')
    return [sql for sql in statements(queries) if sql.startswith("SELECT") and pattern.search(sql)]
