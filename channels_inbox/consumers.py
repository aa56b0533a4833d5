import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.cache import cache

from .realtime import agent_groups, ticket_group, viewing_key


def _fresh_user(user_id):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id).first()


# The copies of one push (sent to several groups at once) arrive within this.
DUPLICATE_WINDOW = 0.5


class AgentQueueConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/agent/queue/`: tells an agent's browser that tickets it may see changed.
    Joins realtime.agent_groups on connect and again on realtime.membership_changed."""

    async def connect(self):
        user = self.scope.get("user")
        self.joined = set()
        self.last_push = (None, 0.0)
        if user is None or not user.is_authenticated or not user.is_agent:
            await self.close(code=4403)
            return
        self.user_id = user.pk
        await self._join(await database_sync_to_async(agent_groups)(user))
        await self.accept()

    async def _join(self, groups):
        for group in groups - self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.joined - groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = set(groups)

    async def disconnect(self, code):
        await self._join(set())

    async def ticket_event(self, message):
        # One push reaches an agent through each of their groups that sees the
        # ticket (its tier and its group): the browser needs it once.
        key, now = (message["event"], message["number"]), time.monotonic()
        if self.last_push[0] == key and now - self.last_push[1] < DUPLICATE_WINDOW:
            return
        self.last_push = (key, now)
        # Only what a queue needs to refresh; details come over HTTP through the selectors.
        await self.send_json({"event": message["event"], "number": message["number"]})

    async def membership_changed(self, message):
        user = await database_sync_to_async(_fresh_user)(self.user_id)
        groups = await database_sync_to_async(agent_groups)(user)
        if not groups:  # no longer an active agent
            await self._join(set())
            await self.close(code=4403)
            return
        await self._join(groups)
        await self.send_json({"event": "membership_changed"})


# Ticket-page presence, in the channel layer alone: a socket announces itself every
# PRESENCE_BEAT seconds and on leaving; viewers unheard for PRESENCE_TTL age out.
PRESENCE_BEAT = 20
PRESENCE_TTL = 50


class TicketConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/agent/tickets/<number>/`: the ticket page's pushes (the ticket
    changed: refetch) and who else has it open. Visibility is checked through
    the selectors on connect and again on every push."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_agent:
            await self.close(code=4403)
            return
        ticket = await database_sync_to_async(self._visible)(user.pk, self.scope["url_route"]["kwargs"]["number"])
        if ticket is None:
            await self.close(code=4404)
            return
        self.user_id, self.ticket_id, self.number = user.pk, ticket.pk, ticket.number
        self.name = user.display_name
        self.group = ticket_group(ticket.pk)
        self.viewers = {}  # channel name -> (user id, name, last heard, monotonic)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._mark_viewed()
        await self.accept()
        await self._announce("presence.join")
        self.beat = asyncio.ensure_future(self._beat())

    @staticmethod
    def _visible(user_id, number):
        from tickets.models import Ticket
        from tickets.selectors import get_visible_ticket

        user = _fresh_user(user_id)
        if user is None or not user.is_active or not user.is_agent:
            return None
        try:
            return get_visible_ticket(user, number=number)
        except Ticket.DoesNotExist:  # not visible or not there: the same answer, as over HTTP
            return None

    async def _announce(self, kind):
        await self.channel_layer.group_send(self.group, {
            "type": kind, "channel": self.channel_name, "user_id": self.user_id, "name": self.name,
        })

    async def _mark_viewed(self):
        # Tells the workers that pushes to this ticket's group have a reader
        # (realtime.is_viewed); it outlives the last viewer by PRESENCE_TTL at most.
        await database_sync_to_async(cache.set)(viewing_key(self.ticket_id), 1, PRESENCE_TTL)

    async def _beat(self):
        while True:
            await asyncio.sleep(PRESENCE_BEAT)
            await self._mark_viewed()
            await self._announce("presence.here")
            await self._send_viewers()

    async def disconnect(self, code):
        if not hasattr(self, "group"):
            return
        self.beat.cancel()
        await self._announce("presence.leave")
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def ticket_event(self, message):
        if await database_sync_to_async(self._visible)(self.user_id, self.number) is None:
            # It left this agent's scope: say so, without details, and stop.
            await self.send_json({"event": "gone", "number": self.number})
            await self.close(code=4404)
            return
        await self.send_json({"event": message["event"], "number": self.number})

    async def presence_join(self, message):
        if message["channel"] != self.channel_name:
            await self._announce("presence.here")  # so that the newcomer sees us
        await self.presence_here(message)

    async def presence_here(self, message):
        if message["channel"] != self.channel_name:
            self.viewers[message["channel"]] = (message["user_id"], message["name"], time.monotonic())
            await self._send_viewers()

    async def presence_leave(self, message):
        if self.viewers.pop(message["channel"], None):
            await self._send_viewers()

    async def _send_viewers(self):
        now = time.monotonic()
        self.viewers = {c: v for c, v in self.viewers.items() if now - v[2] < PRESENCE_TTL}
        names = sorted({name for uid, name, _at in self.viewers.values() if uid != self.user_id})
        await self.send_json({"viewers": names})
