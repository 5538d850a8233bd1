"""On Windows, ask WinHTTP itself which proxy it would use for a URL (WinHttpGetProxyForUrl, with auto-detect and
the configured script), and what DHCP option 252 says (WinHttpDetectAutoProxyConfigUrl). The answers are compared
with the tool's own route for each endpoint; a difference is `proxy.divergent` with both routes.

The ctypes binding is the only Windows-only part; everything else works on `AutoProxyApi`, which the tests fake
with WinHTTP's own semantics (its error numbers, its proxy-list strings).
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
from ctypes import wintypes
from typing import Any, Protocol

from preflight.proxy.windows import parse_proxy_server

# WinHTTP's error numbers (winhttp.h), as GetLastError returns them.
WINHTTP_ERRORS: dict[int, str] = {
    12002: "ERROR_WINHTTP_TIMEOUT",
    12005: "ERROR_WINHTTP_INVALID_URL",
    12006: "ERROR_WINHTTP_UNRECOGNIZED_SCHEME",
    12007: "ERROR_WINHTTP_NAME_NOT_RESOLVED",
    12015: "ERROR_WINHTTP_LOGIN_FAILURE",
    12166: "ERROR_WINHTTP_BAD_AUTO_PROXY_SCRIPT",
    12167: "ERROR_WINHTTP_UNABLE_TO_DOWNLOAD_SCRIPT",
    12178: "ERROR_WINHTTP_AUTO_PROXY_SERVICE_ERROR",
    12180: "ERROR_WINHTTP_AUTODETECTION_FAILED",
}
WINHTTP_ACCESS_TYPE_NO_PROXY = 1
WINHTTP_ACCESS_TYPE_NAMED_PROXY = 3
WINHTTP_AUTOPROXY_AUTO_DETECT = 0x1
WINHTTP_AUTOPROXY_CONFIG_URL = 0x2
WINHTTP_AUTO_DETECT_TYPE_DHCP = 0x1
WINHTTP_AUTO_DETECT_TYPE_DNS_A = 0x2


@dataclasses.dataclass(frozen=True)
class WinHttpAnswer:
    """What WinHttpGetProxyForUrl returned: an access type and proxy list, or the error it failed with."""

    access_type: int | None = None
    proxy: str | None = None  # "p:3128", "http=p:3128;https=q:8080", several separated by ';' or spaces
    bypass: str | None = None
    error: int | None = None

    def as_pac(self, scheme: str) -> str:
        """The same answer as a FindProxyForURL string. An error means WinHTTP found no script or the script
        failed: the caller then goes without one, which for these components means direct."""
        if self.error is None and self.access_type == WINHTTP_ACCESS_TYPE_NAMED_PROXY and self.proxy:
            servers = parse_proxy_server(self.proxy)
            server = servers.get(scheme) or servers.get("*")
            if server:
                return f"PROXY {server.split('://')[-1]}"
        return "DIRECT"

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error, "error_name": WINHTTP_ERRORS.get(self.error, "unknown WinHTTP error")}
        access = {WINHTTP_ACCESS_TYPE_NO_PROXY: "no proxy", WINHTTP_ACCESS_TYPE_NAMED_PROXY: "named proxy"}
        return {
            "access_type": access.get(self.access_type or 0, str(self.access_type)),
            "proxy": self.proxy,
            "bypass": self.bypass,
        }


class AutoProxyApi(Protocol):
    """The two WinHTTP calls this tool makes. Each blocks; callers run them in a daemon thread with a timeout."""

    def detect_dhcp(self) -> str | None:
        """The PAC URL DHCP option 252 gives, None when DHCP gives none."""

    def proxy_for_url(self, url: str, *, auto_detect: bool, config_url: str | None) -> WinHttpAnswer: ...


def _last_error() -> int:  # pragma: no cover - Windows only
    return int(getattr(ctypes, "get_last_error")())  # noqa: B009 - absent from ctypes off Windows


def default_api(timeout: float) -> AutoProxyApi | None:
    return WinHttpApi(timeout) if sys.platform == "win32" else None


class _AutoProxyOptions(ctypes.Structure):
    _fields_ = [
        ("dwFlags", wintypes.DWORD),
        ("dwAutoDetectFlags", wintypes.DWORD),
        ("lpszAutoConfigUrl", wintypes.LPCWSTR),
        ("lpvReserved", ctypes.c_void_p),
        ("dwReserved", wintypes.DWORD),
        ("fAutoLogonIfChallenged", wintypes.BOOL),
    ]


class _ProxyInfo(ctypes.Structure):
    # the strings are WinHTTP's allocations, freed with GlobalFree: kept as raw pointers
    _fields_ = [("dwAccessType", wintypes.DWORD), ("lpszProxy", ctypes.c_void_p), ("lpszProxyBypass", ctypes.c_void_p)]


class WinHttpApi:  # pragma: no cover - needs Windows' winhttp.dll; its callers are tested with a fake
    """WinHTTP through ctypes: one session (no proxy of its own), WinHTTP's timeouts set to --timeout."""

    def __init__(self, timeout: float) -> None:
        loader: Any = getattr(ctypes, "WinDLL")  # noqa: B009 - absent off Windows, where this is never built
        self._winhttp = loader("winhttp.dll", use_last_error=True)
        self._kernel32 = loader("kernel32.dll", use_last_error=True)
        self._winhttp.WinHttpOpen.restype = ctypes.c_void_p
        self._winhttp.WinHttpOpen.argtypes = [
            wintypes.LPCWSTR,
            wintypes.DWORD,
            wintypes.LPCWSTR,
            wintypes.LPCWSTR,
            wintypes.DWORD,
        ]
        self._winhttp.WinHttpGetProxyForUrl.argtypes = [
            ctypes.c_void_p,
            wintypes.LPCWSTR,
            ctypes.POINTER(_AutoProxyOptions),
            ctypes.POINTER(_ProxyInfo),
        ]
        self._winhttp.WinHttpDetectAutoProxyConfigUrl.argtypes = [wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p)]
        self._winhttp.WinHttpSetTimeouts.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._winhttp.WinHttpCloseHandle.argtypes = [ctypes.c_void_p]
        self._kernel32.GlobalFree.argtypes = [ctypes.c_void_p]
        self._session = self._winhttp.WinHttpOpen("connector-preflight", WINHTTP_ACCESS_TYPE_NO_PROXY, None, None, 0)
        if not self._session:
            raise OSError(_last_error(), "WinHttpOpen failed")
        ms = max(1, int(timeout * 1000))
        self._winhttp.WinHttpSetTimeouts(self._session, ms, ms, ms, ms)

    def detect_dhcp(self) -> str | None:
        found = ctypes.c_void_p()
        if not self._winhttp.WinHttpDetectAutoProxyConfigUrl(WINHTTP_AUTO_DETECT_TYPE_DHCP, ctypes.byref(found)):
            error = _last_error()
            if error == 12180:  # ERROR_WINHTTP_AUTODETECTION_FAILED: DHCP has no option 252
                return None
            raise OSError(error, WINHTTP_ERRORS.get(error, "WinHttpDetectAutoProxyConfigUrl failed"))
        try:
            return ctypes.wstring_at(found.value) if found.value else None
        finally:
            self._kernel32.GlobalFree(found)

    def proxy_for_url(self, url: str, *, auto_detect: bool, config_url: str | None) -> WinHttpAnswer:
        options = _AutoProxyOptions()
        if auto_detect:
            options.dwFlags |= WINHTTP_AUTOPROXY_AUTO_DETECT
            options.dwAutoDetectFlags = WINHTTP_AUTO_DETECT_TYPE_DHCP | WINHTTP_AUTO_DETECT_TYPE_DNS_A
        if config_url:
            options.dwFlags |= WINHTTP_AUTOPROXY_CONFIG_URL
            options.lpszAutoConfigUrl = config_url
        options.fAutoLogonIfChallenged = True
        info = _ProxyInfo()
        if not self._winhttp.WinHttpGetProxyForUrl(self._session, url, ctypes.byref(options), ctypes.byref(info)):
            return WinHttpAnswer(error=_last_error())
        try:
            proxy = ctypes.wstring_at(info.lpszProxy) if info.lpszProxy else None
            bypass = ctypes.wstring_at(info.lpszProxyBypass) if info.lpszProxyBypass else None
        finally:
            for pointer in (info.lpszProxy, info.lpszProxyBypass):
                if pointer:
                    self._kernel32.GlobalFree(pointer)
        return WinHttpAnswer(int(info.dwAccessType), proxy, bypass)

    def close(self) -> None:
        if self._session:
            self._winhttp.WinHttpCloseHandle(self._session)
            self._session = None
