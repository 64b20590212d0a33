"""The database: tables, the engine and migrations, and athlete-scoped stores per domain (activities, bulk
saving, shoes, pain, triage checks)."""
