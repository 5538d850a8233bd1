"""app.run(RunRequest) is the run the CLI's `run` and `bundle` adapt: called directly, in process, it checks its
options the same way and returns the report without writing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer

from preflight import app
from preflight.errors import UsageError


def test_a_run_in_process(tmp_path: Path, listener: Any) -> None:
    port = listener()
    profile = tmp_path / "p.toml"
    profile.write_text(f'name = "x"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "ok.test"\nports = [{port}]\n'
                       'purpose = "p"\nsource = "s"\n')  # fmt: skip
    seen: list[str] = []

    class Progress:
        def update(self, result: Any, done: int, total: int) -> None:
            seen.append(f"{done}/{total} {result.check}")

        def clear(self) -> None:
            seen.append("cleared")

    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",))}) as dns:
        outcome = app.run(app.RunRequest(profile_name=str(profile), dns_servers=[dns.address], timeout=1,
                                         only=["dns.*", "tcp.*"], progress=Progress()))  # fmt: skip
    codes = {r.id: r.code for r in outcome.report.results}
    assert codes == {"dns.resolve/ok.test": "dns.ok", f"tcp.connect/ok.test:{port}": "tcp.open"}
    assert outcome.report.exit_code == 0 and outcome.profile.name == "x"
    assert seen[-1] == "cleared" and len(seen) == 3


@pytest.mark.parametrize(("request_fields", "words"), [
    ({"dns_servers": ["not-an-ip"]}, "--dns-server 'not-an-ip': 'not-an-ip' is not an IP address"),
    ({"setting_options": ["nobody.x=1"]}, "no installed check has the id 'nobody'"),
    ({"only": ["nothing.matches"]}, "no check matches --only"),
])  # fmt: skip
def test_bad_options_are_usage_errors_before_anything_runs(request_fields: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        app.run(app.RunRequest(**request_fields))
