from django.urls import path

from .consumers import AgentQueueConsumer

websocket_urlpatterns = [
    path("ws/agent/queue/", AgentQueueConsumer.as_asgi()),
]
