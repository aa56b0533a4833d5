"""The email channel, inbound: `ingest(raw)` stores a raw mail, then threads it onto a ticket."""

from .ingest import Outcome, ingest, process

__all__ = ["Outcome", "ingest", "process"]
