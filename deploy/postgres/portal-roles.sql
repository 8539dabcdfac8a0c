-- The portal's read-only roles (cluster-wide). epd_portal_reader is what the migrations grant SELECT to
-- (db/migrations/versions/0007_portal_reader.py); epd_portal is the login the portal uses (EPD_PORTAL_PG_DSN).
-- The owner role epd is a member of the login, so it may end the portal's sessions (DROP DATABASE ... FORCE).
-- Run by the local devstack (tools/devstack postgres.py) and by the compose PostgreSQL on its first start.
-- Elsewhere a database administrator makes the login with a real password and grants it epd_portal_reader.
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal_reader') THEN
        CREATE ROLE epd_portal_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal') THEN
        CREATE ROLE epd_portal LOGIN PASSWORD 'epd_portal' IN ROLE epd_portal_reader;
    END IF;
END $$;
GRANT epd_portal TO epd;
