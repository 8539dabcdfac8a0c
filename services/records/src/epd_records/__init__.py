"""The programme's record model, pure: no web framework, HTTP client, Kafka or database driver.

One footprint version becomes one record, whoever asks: the footprint service writes the version
(`readmodel`), the publisher pushes it (`delivery`), the gateway serves it (`pact`, `ilcd`,
`openepd`), and `epd verify` checks it (`signing`, `record`). What a partner may see is decided
once (`status`, `recognition`).
"""
