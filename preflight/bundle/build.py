"""What goes into a bundle, and in which order it is cleaned: collect everything, learn names, redact (twice, so a
secret found late is also removed from files read early), pseudonymize, then derive the evidence files and the
HTML from the cleaned report so every file tells the same story."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from preflight.reporting.report import Report, from_json

if TYPE_CHECKING:
    from preflight.bundle.pseudonym import Pseudonymizer
    from preflight.redact import Redactor

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass
class BundleContents:
    files: dict[str, bytes]
    redactions: int
    audit_values: set[str]
    audit_names: list[str]
    reverse_map: dict[str, str]


def assemble(
    report: Report,
    host: dict[str, Any],
    attachments: Mapping[str, str],
    redactor: Redactor,
    pseudonymizer: Pseudonymizer | None,
    render_html: Callable[[Report], str],
    public_names: Iterable[str] = (),
) -> BundleContents:
    """`attachments` are raw text files for evidence/ (the PAC script, the connector config) by bundle path."""
    documents: dict[str, Any] = {"report.json": report.to_json(), "host.json": host}
    texts = dict(attachments)

    for _ in range(2):
        documents = {name: redactor.walk(doc) for name, doc in documents.items()}
        texts = {name: redactor.text(text) for name, text in texts.items()}

    if pseudonymizer is not None:
        _learn(pseudonymizer, report, host, documents, texts, set(n.lower() for n in public_names))
        documents = {name: pseudonymizer.walk(doc) for name, doc in documents.items()}
        texts = {name: pseudonymizer.text(text) for name, text in texts.items()}

    cleaned = from_json(documents["report.json"], "report.json")
    files: dict[str, bytes] = {name: _json(doc) for name, doc in documents.items()}
    files.update({name: text.encode("utf-8") for name, text in texts.items()})
    files.update(evidence_files(documents["report.json"]))
    files["report.html"] = render_html(cleaned).encode("utf-8")
    return BundleContents(
        files=files,
        redactions=redactor.count,
        audit_values=set(redactor.remembered),
        audit_names=pseudonymizer.originals() if pseudonymizer is not None else [],
        reverse_map=dict(sorted(pseudonymizer.reverse.items())) if pseudonymizer is not None else {},
    )


def evidence_files(report: Mapping[str, Any]) -> dict[str, bytes]:
    """evidence/: served certificate chains as PEM, the DNS answers, and the proxy settings found."""
    files: dict[str, bytes] = {}
    dns: dict[str, Any] = {}
    proxy: dict[str, Any] = {"option": (report.get("options") or {}).get("proxy")}
    for result in report.get("results", []):
        target, evidence = result.get("target") or {}, result.get("evidence") or {}
        key = _target_key(target)
        if result.get("check") == "dns.resolve":
            dns[key] = {"status": result.get("status"), "code": result.get("code"), **evidence}
        elif result.get("check") == "proxy.effective":
            proxy["effective"] = {"status": result.get("status"), "code": result.get("code"), **evidence}
        elif result.get("check") == "proxy.tunnel":
            proxy.setdefault("tunnels", {})[key] = {
                "status": result.get("status"),
                "code": result.get("code"),
                "summary": result.get("summary"),
            }
        for where, pems in _chains(evidence):
            label = f"{key}{where}"
            header = f"# {result.get('check')} {label}: certificate chain as served, leaf first\n"
            name = f"evidence/tls/{SAFE_NAME.sub('_', label).strip('_')}.pem"
            files[name] = (header + "".join(str(p) for p in pems)).encode("utf-8")
    files["evidence/dns.json"] = _json(dns)
    files["evidence/proxy.json"] = _json(proxy)
    return files


def _chains(evidence: Any, where: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every `chain_pem` list in the evidence, however deep (per address, per path), with where it was."""
    if isinstance(evidence, dict):
        pems = evidence.get("chain_pem")
        if isinstance(pems, list) and pems:
            yield where, pems
        for name, value in evidence.items():
            if name != "chain_pem" and isinstance(value, dict | list):
                yield from _chains(value, f"{where}@{name}" if isinstance(value, dict) else where)
    elif isinstance(evidence, list):
        for index, value in enumerate(evidence):
            yield from _chains(value, f"{where}#{index}")


def _target_key(target: Mapping[str, Any]) -> str:
    key = str(target.get("host", "?"))
    if target.get("port") is not None:
        key += f":{target['port']}"
    if target.get("address"):
        key += f"@{target['address']}"
    return key


def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _learn(
    pseudonymizer: Pseudonymizer,
    report: Report,
    host: Mapping[str, Any],
    documents: Mapping[str, Any],
    texts: Mapping[str, str],
    public: set[str],
) -> None:
    """The names to hide: this host's name and domains, internal hosts from the hosts file and the proxy
    settings, the user, the tenant. The profile's public endpoint names stay: support needs them."""
    pseudonymizer.add("host", [host.get("hostname")])
    pseudonymizer.add("user", [host.get("user")])
    resolver = host.get("resolver") or {}
    pseudonymizer.add("domain", resolver.get("search", []))
    for entry in host.get("hosts") or []:
        pseudonymizer.add("host", (n for n in entry.get("names", []) if n.lower() not in public))
    tenant = report.options.get("tenant_id")
    if tenant:
        pseudonymizer.add("tenant", [str(tenant)])
    given = (report.options.get("tenant") or {}).get("given")
    if given and given != tenant:  # a domain of the tenant (contoso.com) names the organisation too
        pseudonymizer.add("domain", [str(given)])
    proxies = [h for h in _proxy_hosts(documents, texts) if h.lower() not in public]
    pseudonymizer.add("host", proxies)
    pseudonymizer.add_domains_of(proxies)
    for name, value in (host.get("proxy_environment") or {}).items():
        if name.lower() == "no_proxy":  # bypass entries name internal hosts and domains
            entries = [e.strip().lstrip("*").strip(".") for e in value.split(",")]
            pseudonymizer.add("domain", [e for e in entries if e.lower() not in public and "/" not in e])
    for result in report.results:
        name = result.target.host
        internal = name.lower() not in public and not name.startswith("*.") and " " not in name
        if internal and (result.check.startswith("proxy.") or result.check == "clock.skew"):  # proxies, NTP
            pseudonymizer.add("host", [name])
    for text in [json.dumps(d) for d in documents.values()] + list(texts.values()):
        pseudonymizer.learn(text)


_URL_HOST = re.compile(r"(?i)\b(?:https?|socks5h?|socks4a?)://(?:[^\s/@\"']*@)?(?P<host>[A-Za-z0-9.-]+)")
_PROXY_DIRECTIVE = re.compile(r"\b(?:PROXY|HTTPS|SOCKS[45]?)\s+(?P<host>[A-Za-z][A-Za-z0-9.-]*):\d+")


def _proxy_hosts(documents: Mapping[str, Any], texts: Mapping[str, str]) -> set[str]:
    """Proxy host names wherever the proxy settings are written: URLs in the proxy option, the proxy
    environment and the proxy evidence, PAC `PROXY host:port` directives, and the attached config files."""
    report = documents["report.json"]
    parts: list[Any] = [report.get("options", {}).get("proxy"), documents["host.json"].get("proxy_environment")]
    parts += [r.get("evidence") for r in report.get("results", []) if str(r.get("check")).startswith("proxy.")]
    blob = "\n".join([json.dumps(p) for p in parts] + list(texts.values()))
    return {m.group("host") for m in _PROXY_DIRECTIVE.finditer(blob)} | {
        m.group("host") for m in _URL_HOST.finditer(blob)
    }
