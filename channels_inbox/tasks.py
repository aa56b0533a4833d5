"""Celery tasks of the channels, where the worker's autodiscovery looks for them."""

from .chat.tasks import expire_chat_offers

__all__ = ["expire_chat_offers"]
