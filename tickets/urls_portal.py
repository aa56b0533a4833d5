from django.urls import path

from .views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
    path("tickets/", portal.ticket_list, name="tickets"),
    path("tickets/new/", portal.new_ticket, name="new_ticket"),
    path("tickets/<int:number>/", portal.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", portal.reply, name="reply"),
    path("tickets/<int:number>/solve/", portal.solve, name="solve"),
]
