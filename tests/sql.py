"""Reading captured SQL in tests: a statement that reads a table, whether the
ORM built it (`FROM "tickets_ticket"`) or it is written out
(`FROM tickets_ticket m`), and not its neighbours (`tickets_ticket_tags`)."""

import re


def reads_from(queries, table):
    """The SELECTs among CaptureQueriesContext's queries whose FROM is `table`."""
    pattern = re.compile(rf'\bFROM "?{re.escape(table)}"?(\s|$)')
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and pattern.search(q["sql"])]
