"""Request body parsers for the API."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from helpdesk.jsonlimits import JSONTooDeep, check_depth, too_deep_message


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit (helpdesk.jsonlimits): 400, not
    the RecursionError's 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return check_depth(super().parse(stream, media_type, parser_context))
        except (RecursionError, JSONTooDeep):
            raise ParseError(too_deep_message()) from None
