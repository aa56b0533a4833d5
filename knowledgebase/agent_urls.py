from django.urls import path

from . import agent_views as views

app_name = "kb_agent"
urlpatterns = [
    path("", views.article_list, name="articles"),
    path("articles/new/", views.article_create, name="article_create"),
    path("articles/<int:pk>/", views.article_edit, name="article_edit"),
    path("articles/<int:pk>/archive/", views.article_archive, name="article_archive"),
    path("articles/<int:pk>/delete/", views.article_delete, name="article_delete"),
    path("articles/<int:pk>/images/", views.upload_image, name="upload_image"),
    path("articles/<int:pk>/revisions/<int:number>/", views.revision_detail, name="revision"),
    path("articles/<int:pk>/revisions/<int:number>/restore/", views.revision_restore, name="revision_restore"),
    path("preview/", views.preview, name="preview"),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:pk>/", views.category_edit, name="category_edit"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
]
