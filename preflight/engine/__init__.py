"""The engine: the plan of a run (plan), the shared and memoised probes its checks ask (context, pacing), the
checks found through entry points (registry), and running them concurrently, bounded and never hanging
(runner, stall). It names no check."""
