from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<int:pk>/", views.article, name="article"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
]
