"""Reports (报表): sessions, AI-only resolution, transfers, waits, first response, satisfaction
and per-servicer load over a period, read from the reception's session records."""
