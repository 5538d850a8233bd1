"""Automatic proxy configuration inside the run: which script the connector's route follows (--pac, the
connector's scriptLocation, or WinINET's AutoConfigURL under usesystemdefault), fetching it, and asking it for
every endpoint. Everything here is bounded by --timeout, counted in --deadline and ended by Ctrl-C: it runs in
the run's event loop, with the run's resolver, before the checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from preflight.blocking import in_daemon_thread
from preflight.netutil import is_ip_literal, usable_addresses
from preflight.proxy.pac import MAX_SOURCE, PacError, PacSession
from preflight.proxy.settings import ProxyInputs, ProxySettings, ScriptOutcome
from preflight.proxy.url import redact_url, strip_userinfo
from preflight.textfile import decode_text

if TYPE_CHECKING:
    from preflight.context import Probes
    from preflight.model import Target
    from preflight.probes.http import HttpFetch

MAX_REDIRECTS = 3


@dataclasses.dataclass(frozen=True)
class AutoConfig:
    """A script the connector's route follows: where it was configured, and where it is."""

    origin: str  # "--pac", "scriptLocation in <file>", "WinINET AutoConfigURL (connector: usesystemdefault)"
    location: str  # a path or an http(s) URL

    @property
    def shown(self) -> str:
        where = redact_url(self.location)
        return where if self.origin == "--pac" else f"{where} ({self.origin})"


def requested(settings: ProxyInputs, pac_option: str | None) -> AutoConfig | None:
    """The script the run must evaluate, if any: --pac, else what the connector's configuration points to."""
    if pac_option is not None:
        return AutoConfig("--pac", pac_option)
    config = settings.connector
    if settings.explicit is not None or settings.explicit_none or config is None or not config.found:
        return None
    if not config.enabled:
        return None
    if config.script_location:
        return AutoConfig(f"scriptLocation in {config.source}", config.script_location)
    wininet = settings.wininet
    if config.web_proxy().system_automatic and wininet is not None and wininet.autoconfig_url:
        return AutoConfig(f"WinINET AutoConfigURL (usesystemdefault in {config.source})", wininet.autoconfig_url)
    return None


def target_url(target: Target) -> str:
    """The URL a script is asked about for an endpoint: http on 80, https elsewhere, the port when not default."""
    scheme = "http" if target.port == 80 else "https"
    port = "" if target.port in (80, 443) else f":{target.port}"
    return f"{scheme}://{target.host}{port}/"


def route_source(destination: str) -> str | None:
    """The source address this host would use toward `destination` (no packet is sent), or None."""
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((destination, 53))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def host_name_address() -> str | None:
    """The first non-loopback IPv4 address this host's own name resolves to (hosts file or DNS), or None."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return None
    return next((str(info[4][0]) for info in infos if not str(info[4][0]).startswith("127.")), None)


class Evaluation:
    """One automatic configuration for the whole run: `load()`, `decide()` as targets become known, `close()`."""

    def __init__(self, auto: AutoConfig, ctx: Probes, timeout: float) -> None:
        self.auto = auto
        self.ctx = ctx  # the run's resolver and HTTP probe
        self.timeout = timeout
        self.script: str | None = None
        self.failure: PacError | None = None
        self.session: PacSession | None = None
        self.my_ip: dict[str, Any] | None = None
        self.fetched: dict[str, Any] = {}

    async def load(self) -> None:
        try:
            self.script = await self._read()
            self.session = PacSession(self.script, self._lookup, self.timeout)
            await self.session.start()
        except PacError as exc:
            self.failure = exc

    async def decide(self, settings: ProxySettings, targets: Iterable[Target]) -> ProxySettings:
        """The settings with this script as the route's: its answer for every target not asked yet."""
        decisions = await self.answers(targets, settings.pac.decisions)
        failure = (self.failure.code, f"{self.auto.shown}: {self.failure.message}") if self.failure else None
        return settings.answered(pac=ScriptOutcome(self.auto.shown, decisions, failure, self.evidence()))

    async def answers(
        self, targets: Iterable[Target], known: Mapping[tuple[str, int], str]
    ) -> dict[tuple[str, int], str]:
        """FindProxyForURL for every target not in `known`; stops at the script's first failure."""
        decisions = dict(known)
        if self.failure is None and self.session is not None:
            for target in targets:
                if target.port is None or target.wildcard or target.missing or (target.host, target.port) in decisions:
                    continue
                try:
                    decisions[(target.host, target.port)] = await self.session.find(target_url(target), target.host)
                except PacError as exc:
                    self.failure = exc
                    break
        return decisions

    def interrupted(self, settings: ProxySettings) -> ProxySettings:
        """The settings when the deadline or a signal ended the evaluation: what was decided so far, and a failure
        saying the script did not finish: a script that never answered is no "direct" route."""
        if self.failure is not None:
            failure = (self.failure.code, f"{self.auto.shown}: {self.failure.message}")
        else:
            answered = len(settings.pac.decisions)
            failure = (
                "proxy.pac_unfinished",
                f"{self.auto.shown}: the run ended before the script had answered "
                f"for every endpoint ({answered} answered)",
            )
        return settings.answered(pac=ScriptOutcome(self.auto.shown, settings.pac.decisions, failure, self.evidence()))

    def evidence(self) -> dict[str, Any]:
        found: dict[str, Any] = {"origin": self.auto.origin, "location": redact_url(self.auto.location)}
        if self.script is not None:
            found["sha256"] = hashlib.sha256(self.script.encode("utf-8", "replace")).hexdigest()
            found["bytes"] = len(self.script.encode("utf-8", "replace"))
        if self.fetched:
            found["fetch"] = self.fetched
        if self.session is not None:
            found["engine"] = self.session.engine
            found["lookups"] = dict(self.session.lookups)
            if self.session.invalid_names:
                found["invalid_names"] = list(self.session.invalid_names)  # asked for, not looked up
            if self.session.lookups_exhausted:
                found["lookups_exhausted"] = f"{self.session.lookup_budget:g} s of name lookups spent"
        if self.my_ip is not None:
            found["my_ip_address"] = self.my_ip
        return found

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def _lookup(self, question: str, host: str) -> Any:
        if question == "myIpAddress":
            return await self._my_ip()
        if is_ip_literal(host):
            addresses = [host.strip("[]")]
        else:
            resolution = await self.ctx.resolve(host)
            addresses = usable_addresses(host, resolution.addresses)[0]
        if question == "dnsResolveEx":
            return ";".join(addresses)
        return next((a for a in addresses if ":" not in a), None)  # dnsResolve: IPv4 only, as the spec says

    async def _my_ip(self) -> str:
        """This host's primary outbound address, as WinHTTP and browsers give myIpAddress(): the source address of
        the route to the first endpoint (a UDP connect picks it; nothing is sent), else the address this host's name
        resolves to, else 127.0.0.1."""
        if self.my_ip is None:
            address, how = None, "no route and no address for this host's name: the loopback address"
            first = next((t for t in self.ctx.port_targets() if not t.wildcard and not t.missing), None)
            if first is not None:
                resolution = await self.ctx.resolve(first.host)
                usable = [a for a in usable_addresses(first.host, resolution.addresses)[0] if ":" not in a]
                address = route_source(usable[0]) if usable else None
                if address is not None:
                    how = f"source address of the route to {first.host} ({usable[0]})"
            if address is None:
                with contextlib.suppress(TimeoutError):
                    address = await in_daemon_thread(host_name_address, self.timeout, name="preflight-my-ip")
                if address is not None:
                    how = f"the address of this host's name ({socket.gethostname()})"
            self.my_ip = {"address": address or "127.0.0.1", "how": how}
        return str(self.my_ip["address"])

    async def _read(self) -> str:
        location = self.auto.location
        if location.lower().startswith(("http://", "https://")):
            return await self._fetch(location)
        if location.lower().startswith("file://"):
            location = urlsplit(location).path
        return _read_file(location)

    async def _fetch(self, url: str) -> str:
        """GET the script directly (WinHTTP fetches PAC files without a proxy), following at most 3 redirects;
        bounded in size; an HTML page (a portal's login page) is not a script."""

        current = redact_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            host = parts.hostname or ""
            if is_ip_literal(host):
                addresses = [host]
            else:
                addresses = usable_addresses(host, (await self.ctx.resolve(host)).addresses)[0]
            if not addresses:
                raise PacError("proxy.pac_unavailable", f"{current}: {host} does not resolve")
            answer: HttpFetch | None = None
            for address in sorted(addresses, key=lambda a: ":" in a)[:2]:
                answer = await self.ctx.http(current, address, host=host, max_body=MAX_SOURCE)
                if answer.outcome == "response":
                    break
            assert answer is not None
            self.fetched = {
                "url": current,
                "status": answer.status,
                "content_type": answer.content_type,
                "bytes": len(answer.body),
                "outcome": answer.outcome,
            }
            if answer.outcome != "response":
                raise PacError("proxy.pac_unavailable", f"{current}: {strip_userinfo(answer.error or answer.outcome)}")
            if answer.status in (301, 302, 303, 307, 308) and answer.location:
                current = redact_url(urljoin(current, answer.location))
                continue
            if answer.status != 200:
                raise PacError("proxy.pac_unavailable", f"{current}: HTTP {answer.status}")
            if answer.truncated:
                raise PacError("proxy.pac_too_large", f"{current}: larger than {MAX_SOURCE // (1024 * 1024)} MiB")
            text = _text(answer.body)
            looks_html = text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
            if "html" in (answer.content_type or "").lower() or looks_html:
                raise PacError(
                    "proxy.pac_unavailable",
                    f"{current}: an HTML page ({answer.content_type}), not a "
                    "PAC script (a captive portal or a login page?)",
                )
            return text
        raise PacError("proxy.pac_unavailable", f"{url}: more than {MAX_REDIRECTS} redirects")


def _text(data: bytes) -> str:
    """UTF-8 (a BOM or not) or UTF-16 with its BOM; other bytes as UTF-8 with replacements, for the engine to judge."""
    try:
        return decode_text(data)
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _read_file(path_text: str) -> str:
    path = Path(path_text)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SOURCE + 1)
    except OSError as exc:
        raise PacError("proxy.pac_unavailable", f"{path_text}: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCE:
        raise PacError("proxy.pac_too_large", f"{path_text}: larger than {MAX_SOURCE // (1024 * 1024)} MiB")
    return _text(data)
