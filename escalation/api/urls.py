from rest_framework.routers import DefaultRouter

from .views import GroupViewSet, TierViewSet, TriggerViewSet

router = DefaultRouter()
router.register("tiers", TierViewSet, basename="tier")
router.register("groups", GroupViewSet, basename="group")
router.register("triggers", TriggerViewSet, basename="trigger")
urlpatterns = router.urls
