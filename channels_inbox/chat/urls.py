"""The chat's public HTTP endpoints, under /chat/api/."""

from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("config/", views.config, name="config"),
    path("suggest/", views.suggest, name="suggest"),
    path("start/", views.start, name="start"),
    path("<str:token>/transcript/", views.transcript, name="transcript"),
    path("<str:token>/transcript/email/", views.transcript_email, name="transcript_email"),
    path("<str:token>/attachments/", views.attachments, name="attachments"),
    path("<str:token>/attachments/<int:pk>/", views.attachment, name="attachment"),
    path("<str:token>/rating/", views.rating, name="rating"),
]
