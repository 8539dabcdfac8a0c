"""The programme's public registry portal (server-rendered, bilingual, read-only)."""
