"""The support bundle: one redacted archive (report, evidence, host facts, manifest) a support engineer can read
offline, days later, from a host they cannot reach."""
