"""`preflight watch`: the run's probes repeated on a schedule, every round folded into a bounded summary as it
comes (`series`), judged over time (`verdict`), with an idle-timeout probe held alongside (`idle`); `loop` runs
the rounds."""
