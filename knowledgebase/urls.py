from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<int:pk>/", views.article, name="article"),
    # kb-portal: browsing, search, feedback, the new-ticket form's suggestions, the editors' report.
    path("categories/<str:slug>/", views.category, name="category"),
    path("search/", views.search, name="search"),
    path("articles/<int:pk>/feedback/", views.feedback, name="feedback"),
    path("suggest/", views.suggest, name="suggest"),
    path("report/", views.report, name="report"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
]
