"""The chat's beat job (`expire-chat-offers`, every 5 s): offers past their time go to the next agent, chats
waiting past the wait limit go offline, agents whose chat sockets fell silent turn away."""

from typing import Any

from celery import shared_task

from . import services


@shared_task(name="channels_inbox.chat.tasks.expire_chat_offers", ignore_result=True)  # type: ignore[untyped-decorator]
def expire_chat_offers() -> dict[str, Any]:
    return {"expired": services.expire_offers(), "offline": services.expire_waiting(),
            "away": services.expire_presence(), "offered": services.offer_waiting_chats()}
