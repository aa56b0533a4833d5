from rest_framework.routers import DefaultRouter

from .views import TicketTypeViewSet, TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("ticket-types", TicketTypeViewSet, basename="ticket-type")

urlpatterns = router.urls
