"""The tenant of a run: `discovery` (what is found, how a discovery document is read), `lookup` (asking for it
over the run's route)."""
