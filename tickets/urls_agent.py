from django.urls import path

from .views import agent

app_name = "agent"
urlpatterns = [
    path("", agent.queue, name="queue"),
    path("queue/rows/", agent.queue_rows, name="queue_rows"),
    path("counts/", agent.counts, name="counts"),
    path("views/", agent.saved_views, name="saved_views"),
    path("views/<int:pk>/rename/", agent.saved_view_rename, name="saved_view_rename"),
    path("views/<int:pk>/delete/", agent.saved_view_delete, name="saved_view_delete"),
    path("presence/", agent.presence, name="presence"),
    path("notifications/read/", agent.notifications_read, name="notifications_read"),
    path("tickets/bulk/", agent.bulk, name="bulk"),
    path("tickets/<int:number>/", agent.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", agent.reply, name="reply"),
    path("tickets/<int:number>/properties/", agent.properties, name="properties"),
]
