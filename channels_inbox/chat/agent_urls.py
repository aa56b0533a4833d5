from django.urls import path

from . import agent_views

app_name = "agent_chats"
urlpatterns = [
    path("", agent_views.chats, name="chats"),
    path("team/", agent_views.team_chats, name="team"),
    path("<uuid:public_id>/column/", agent_views.chat_column, name="column"),
    path("<uuid:public_id>/attachments/", agent_views.chat_attachment, name="attachments"),
]
