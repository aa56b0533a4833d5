"""The email channel, inbound: `ingest(raw)` stores a raw mail, then threads it onto a ticket."""

from .ingest import Outcome, ingest, ingest_many, process, store_raw, store_raw_many

__all__ = ["Outcome", "ingest", "ingest_many", "process", "store_raw", "store_raw_many"]
