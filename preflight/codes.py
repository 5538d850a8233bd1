"""Reason codes the engine itself emits (checks document their own in their `codes`)."""

from __future__ import annotations

from preflight.model import CodeDoc, Status

ENGINE_CODES: dict[str, CodeDoc] = {
    "run.upstream": CodeDoc(
        Status.SKIP,
        "Not run: an earlier stage for the same host (and port) did not succeed, so this one cannot say anything.",
        "The result this one depends on (its caused_by) is fail, error or skip.",
        "Fix the result named in caused_by first; this one runs again once that passes.",
    ),
    "run.interrupted": CodeDoc(
        Status.SKIP,
        "Not finished: the run was interrupted (Ctrl-C or SIGTERM) before this check completed.",
        "The check had no result when the signal arrived; the partial report was written anyway.",
        "Run again and let it finish.",
    ),
    "run.deadline": CodeDoc(
        Status.SKIP,
        "Not finished: the run's overall --deadline passed before this check completed.",
        "The check had no result when the deadline passed.",
        "Raise --deadline, lower --timeout, or look at what stalls (often a filtered port or a silent resolver).",
    ),
    "target.wildcard": CodeDoc(
        Status.SKIP,
        "A wildcard row (for example *.servicebus.windows.net) names a family of hosts and cannot be probed.",
        "The profile row's host starts with '*.'.",
        "Allow the wildcard on the firewall or proxy; add a concrete name with --endpoint HOST:PORT to probe one.",
    ),
    "target.needs_tenant_id": CodeDoc(
        Status.SKIP,
        "The row's host depends on your tenant (e.g. {tenant_id}.bootstrap.msappproxy.net) and the tenant is not "
        "known: no --tenant-id, no installed connector, or its lookup failed.",
        "The profile row holds a {tenant_id} placeholder that nothing filled.",
        "Run again with --tenant-id and a domain of the tenant (contoso.onmicrosoft.com) or its ID (Entra admin "
        "center > Overview > Tenant ID).",
    ),
    "plugin.load_failed": CodeDoc(
        Status.ERROR,
        "A check or reporter plugin could not be loaded, so what it checks was not evaluated.",
        "Importing the entry point raised, or it did not provide a valid check (id, title, codes, targets, run).",
        "Fix or uninstall the plugin package named in the result; the other checks ran normally.",
    ),
    "check.crashed": CodeDoc(
        Status.ERROR,
        "A check raised an exception instead of returning a verdict: a bug, not a finding about the network.",
        "The check's run raised; the trace is in the result's error field.",
        "Report the trace to the check's author; the other checks ran normally.",
    ),
    "check.timeout": CodeDoc(
        Status.ERROR,
        "A check did not return within its time budget, although every network wait has its own timeout.",
        "The runner's per-check watchdog expired.",
        "Report it to the check's author; raise --timeout if the network is very slow.",
    ),
    "check.blocked": CodeDoc(
        Status.ERROR,
        "A check blocked the whole run (a synchronous sleep or network call inside its async run) and was interrupted.",
        "The event loop did not turn for longer than the stall limit (max(5 s, 2 x --timeout)); the runner "
        "interrupted the blocking call.",
        "Report it to the check's author: network I/O in a check must use asyncio (or run in a thread).",
    ),
    "check.bad_result": CodeDoc(
        Status.ERROR,
        "A check returned something that is not a valid result (wrong type, or a code it does not document).",
        "The runner validates every result before accepting it.",
        "Report it to the check's author.",
    ),
}
