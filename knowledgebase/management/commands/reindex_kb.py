"""Rebuild the knowledge base's search vectors (after a bulk load or a restore)."""

from typing import Any

from django.core.management.base import BaseCommand

from knowledgebase import search


class Command(BaseCommand):
    help = "Rebuild the search vector of every article translation (PostgreSQL; nothing to do on SQLite)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = search.reindex_all()
        self.stdout.write(f"reindexed {count} translations")
