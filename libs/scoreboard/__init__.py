"""The library every Scoreboard process shares: config, domain, storage, security, telemetry."""
