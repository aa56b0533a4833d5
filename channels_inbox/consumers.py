from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .realtime import AGENTS_GROUP


class AgentQueueConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/agent/queue/`: tells an agent's browser that tickets changed, so the
    queue and counts refresh at once instead of at the next poll."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_agent:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(AGENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(AGENTS_GROUP, self.channel_name)

    async def ticket_event(self, message):
        # Only what a queue needs to refresh; details come over HTTP through the selectors.
        await self.send_json({"event": message["event"], "number": message["number"]})
