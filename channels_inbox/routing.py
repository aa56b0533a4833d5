from django.urls import path

from .chat.consumers import AgentChatConsumer, VisitorChatConsumer
from .consumers import AgentQueueConsumer, TicketConsumer

websocket_urlpatterns = [
    path("ws/agent/queue/", AgentQueueConsumer.as_asgi()),
    path("ws/agent/tickets/<int:number>/", TicketConsumer.as_asgi()),
    path("ws/agent/chat/", AgentChatConsumer.as_asgi()),
]

# Visitors' sockets: embedded on other sites, so their Origin is checked by the consumer against
# HELPDESK_CHAT_ORIGINS, not against ALLOWED_HOSTS; the signed token is the credential (no session).
visitor_urlpatterns = [
    path("ws/chat/<str:token>/", VisitorChatConsumer.as_asgi()),
]
