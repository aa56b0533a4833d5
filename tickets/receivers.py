"""Who reacts to ticket events: each app subscribes its handlers in its
AppConfig.ready(), so the outbox (tickets.tasks) names no consumer."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, overload

if TYPE_CHECKING:
    from .models import TicketEvent

Handler: TypeAlias = Callable[[list["TicketEvent"]], object]


@dataclass(frozen=True)
class Subscription:
    """A handler, the event kinds it takes (None: all), its place among the
    others (lower first) and whether it writes (run in the pass's rounds)."""

    handler: Handler
    kinds: frozenset[str] | None
    order: int
    writes: bool
    seq: int = 0

    @property
    def key(self) -> str:
        return _key(self.handler)

    def bound(self) -> Handler:
        """The handler as the outbox calls it: given only its kinds' events
        (in id order), and not called when there are none."""
        if self.kinds is None:
            return self.handler
        handler, kinds = self.handler, self.kinds

        @functools.wraps(handler)
        def filtered(events: list[TicketEvent]) -> None:
            mine = [event for event in events if event.kind in kinds]
            if mine:
                handler(mine)

        return filtered


_subscriptions: dict[str, Subscription] = {}
_seq = itertools.count()


def _key(handler: Handler) -> str:
    """One subscription per function, however often its app's ready() runs."""
    return f"{getattr(handler, '__module__', '')}.{getattr(handler, '__qualname__', repr(handler))}"


def _subscription(handler: Handler, kinds: Iterable[str] | None, order: int, writes: bool | None,
                  seq: int) -> Subscription:
    return Subscription(
        handler=handler,
        kinds=None if kinds is None else frozenset(str(kind) for kind in kinds),
        order=order,
        # A handler that only reads declares `writes = False` (it runs once, after the rounds).
        writes=bool(getattr(handler, "writes", True)) if writes is None else writes,
        seq=seq,
    )


@overload
def subscribe(handler: Handler, *, kinds: Collection[str] | None = None, order: int = 0,
              writes: bool | None = None) -> Handler: ...


@overload
def subscribe(handler: None = None, *, kinds: Collection[str] | None = None, order: int = 0,
              writes: bool | None = None) -> Callable[[Handler], Handler]: ...


def subscribe(handler: Handler | None = None, *, kinds: Collection[str] | None = None, order: int = 0,
              writes: bool | None = None) -> Handler | Callable[[Handler], Handler]:
    """Have `handler` called with the events of each pass (of `kinds` only, if
    given), after the handlers of a lower `order`. Also a decorator."""
    if handler is None:
        def decorate(function: Handler) -> Handler:
            return subscribe(function, kinds=kinds, order=order, writes=writes)

        return decorate
    key = _key(handler)
    seq = _subscriptions[key].seq if key in _subscriptions else next(_seq)
    _subscriptions[key] = _subscription(handler, kinds, order, writes, seq)
    return handler


def unsubscribe(handler: Handler) -> None:
    """Stop calling `handler` (no error if it was not subscribed)."""
    _subscriptions.pop(_key(handler), None)


def subscriptions() -> list[Subscription]:
    """Every subscription, in the order the outbox calls them."""
    return sorted(_subscriptions.values(), key=lambda s: (s.order, s.seq))


def as_subscriptions(handlers: Sequence[Handler | Subscription]) -> list[Subscription]:
    """Plain handlers as subscriptions to every kind, in the given order."""
    return [h if isinstance(h, Subscription) else _subscription(h, None, i, None, i) for i, h in enumerate(handlers)]


@contextmanager
def override(*handlers: Handler | Subscription) -> Iterator[list[Subscription]]:
    """Only these handlers (in this order) for the duration, then the
    subscriptions as they were: for tests and scripts."""
    saved = dict(_subscriptions)
    _subscriptions.clear()
    for subscription in as_subscriptions(handlers):
        _subscriptions[subscription.key] = subscription
    try:
        yield subscriptions()
    finally:
        _subscriptions.clear()
        _subscriptions.update(saved)
