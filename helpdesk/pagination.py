"""Counting a million rows to print "1–50 of 812,345" costs more than the page
itself. Lists count up to a cap (an index-only COUNT over a LIMIT subquery) and
say "1,000+" beyond it."""

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 1_000


def capped_count(queryset: QuerySet[Any], cap: int = COUNT_CAP) -> int:
    """min(count, cap + 1): cap + 1 means "more than cap"."""
    return queryset.order_by().values("pk")[: cap + 1].count()


class CappedPaginator(Paginator):
    cap = COUNT_CAP

    @cached_property
    def count(self):
        return capped_count(self.object_list, self.cap)

    @property
    def count_capped(self):
        return self.count > self.cap

    @property
    def display_count(self):
        return f"{self.cap:,}+" if self.count_capped else f"{self.count:,}"
