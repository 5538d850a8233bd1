"""The proxy route the connector really takes.

- url: proxy URLs and their printable forms; environment: HTTPS_PROXY/NO_PROXY and friends
- windows: WinHTTP, WinINET and the connector's .exe.config, parsed as Windows and .NET read them
- settings: ProxySettings, every source together, and the route per endpoint
- pac, pacworker: proxy auto-config scripts in a bounded JavaScript worker; autoconfig: one script in the run
- wpad: WPAD discovery; winhttp_api: WinHTTP's own answer on Windows; automatic: all of them for one run
"""

from preflight.proxy.environment import EnvironmentProxies, NoProxyRule, from_environment, parse_no_proxy
from preflight.proxy.settings import ProxySettings, Route, windows_settings
from preflight.proxy.url import ProxyConfig, parse_proxy_url, redact_url, strip_userinfo

__all__ = [
    "EnvironmentProxies",
    "NoProxyRule",
    "ProxyConfig",
    "ProxySettings",
    "Route",
    "from_environment",
    "parse_no_proxy",
    "parse_proxy_url",
    "redact_url",
    "strip_userinfo",
    "windows_settings",
]
