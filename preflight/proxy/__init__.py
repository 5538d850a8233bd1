"""The proxy route the connector really takes.

- url: proxy URLs and their printable forms; environment: HTTPS_PROXY/NO_PROXY and friends
- windows: WinHTTP, WinINET and the connector's .exe.config, parsed as Windows and .NET read them
- sources: one RouteSource per place a route can come from (--proxy, .exe.config, a script, WinHTTP, WinINET,
  the environment); settings: ProxySettings, every source's settings, in the connector's order
- pac, pacworker: proxy auto-config scripts in a bounded JavaScript worker; autoconfig: one script in the run
- wpad: WPAD discovery; winhttp_api: WinHTTP's own answer on Windows; automatic: all of them for one run
"""

from preflight.proxy.environment import EnvironmentProxies, NoProxyRule, from_environment, parse_no_proxy
from preflight.proxy.settings import ProxyInputs, ProxySettings, ScriptOutcome, read_inputs, windows_settings
from preflight.proxy.sources import Route, RouteSource
from preflight.proxy.url import ProxyConfig, parse_proxy_url, redact_url, strip_userinfo

__all__ = [
    "EnvironmentProxies",
    "NoProxyRule",
    "ProxyConfig",
    "ProxyInputs",
    "ProxySettings",
    "Route",
    "RouteSource",
    "ScriptOutcome",
    "from_environment",
    "parse_no_proxy",
    "parse_proxy_url",
    "read_inputs",
    "redact_url",
    "strip_userinfo",
    "windows_settings",
]
