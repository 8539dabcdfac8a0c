"""Pure delivery core for partner endpoints: recognition, SSRF guard, retries, breaker, signing, rendering.

No network, database or Kafka here; the publisher's sending loop composes these modules.
"""
