from rest_framework.routers import DefaultRouter

from .macros import MacroViewSet
from .views import TicketTypeViewSet, TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("ticket-types", TicketTypeViewSet, basename="ticket-type")
router.register("macros", MacroViewSet, basename="macro")

urlpatterns = router.urls
