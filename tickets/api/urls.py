from rest_framework.routers import DefaultRouter

from .macros import MacroViewSet
from .views import SavedViewViewSet, TicketTypeViewSet, TicketViewSet

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("ticket-types", TicketTypeViewSet, basename="ticket-type")
router.register("macros", MacroViewSet, basename="macro")
router.register("saved-views", SavedViewViewSet, basename="saved-view")

urlpatterns = router.urls
