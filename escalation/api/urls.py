from rest_framework.routers import DefaultRouter

from .views import (
    BusinessHoursViewSet,
    EscalationRuleViewSet,
    GroupViewSet,
    SLAPolicyViewSet,
    TierViewSet,
    TriggerViewSet,
)

router = DefaultRouter()
router.register("tiers", TierViewSet, basename="tier")
router.register("groups", GroupViewSet, basename="group")
router.register("triggers", TriggerViewSet, basename="trigger")
router.register("business-hours", BusinessHoursViewSet, basename="business-hours")
router.register("sla-policies", SLAPolicyViewSet, basename="sla-policy")
router.register("escalation-rules", EscalationRuleViewSet, basename="escalation-rule")
urlpatterns = router.urls
