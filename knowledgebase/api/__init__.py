"""The knowledge base's REST API (serializers and viewsets; writes go through the services)."""
