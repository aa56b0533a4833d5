from django.urls import path

from .views import agent, kb, macros, side

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
    path("tickets/new/", agent.new_ticket, name="new_ticket"),
    path("customers/search/", agent.customer_search, name="customer_search"),
    path("tickets/<int:number>/merge/", agent.merge, name="merge"),
    path("tickets/<int:number>/", agent.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", agent.reply, name="reply"),
    path("tickets/<int:number>/properties/", agent.properties, name="properties"),
    path("tickets/<int:number>/escalate/", agent.escalate, name="escalate"),
    path("tickets/<int:number>/deliveries/<int:pk>/retry/", agent.retry_delivery, name="retry_delivery"),
    path("tickets/<int:number>/kb/", kb.ticket_kb, name="ticket_kb"),
    path("tickets/<int:number>/kb/article/", kb.create_article, name="ticket_create_article"),
    path("tickets/<int:number>/side-conversations/", side.side_start, name="side_start"),
    path("tickets/<int:number>/side-conversations/<int:pk>/reply/", side.side_reply, name="side_reply"),
    path("tickets/<int:number>/side-conversations/<int:pk>/close/", side.side_close, name="side_close"),
    path("tickets/<int:number>/macros/<int:pk>/preview/", macros.macro_preview, name="macro_preview"),
    path("macros/", macros.macro_list, name="macros"),
    path("macros/new/", macros.macro_create, name="macro_create"),
    path("macros/<int:pk>/edit/", macros.macro_edit, name="macro_edit"),
    path("macros/<int:pk>/delete/", macros.macro_delete, name="macro_delete"),
]
