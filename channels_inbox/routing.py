from django.urls import path

from .consumers import AgentQueueConsumer, TicketConsumer

websocket_urlpatterns = [
    path("ws/agent/queue/", AgentQueueConsumer.as_asgi()),
    path("ws/agent/tickets/<int:number>/", TicketConsumer.as_asgi()),
]
