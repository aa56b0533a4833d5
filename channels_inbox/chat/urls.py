"""The chat's public HTTP endpoints, under /chat/api/."""

from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("config/", views.config, name="config"),
    path("suggest/", views.suggest, name="suggest"),
    path("start/", views.start, name="start"),
]
