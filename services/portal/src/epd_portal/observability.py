"""Portal metrics: HTTP RED by route template (epd_common.http_metrics), on the RED dashboard."""

from __future__ import annotations

from epd_common.http_metrics import red_metrics

HTTP_REQUESTS, HTTP_DURATION = red_metrics("epd_portal_http_requests_total", "epd_portal_http_request_duration_seconds")
