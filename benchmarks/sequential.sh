#!/usr/bin/env bash
# The way admins check connector endpoints by hand today, one after another: the issue's "shell loop of
# nc -z / openssl s_client / curl". Per endpoint a TCP connect (bash's /dev/tcp, as `nc -z` would); then, on a TLS
# port, `openssl s_client` (whose chain is it: Microsoft's or an inspection CA's?) and `curl` over HTTPS (does a
# request get through, with a valid chain, as the connector's would); on port 80, `curl` over HTTP. Every command
# is bounded by the tool's own timeout, which loops typed by hand rarely are (unbounded, a filtered port waits for
# the kernel's SYN retries: about two minutes on Linux, 21 s on Windows).
#
# --minimal keeps one probe after the connect (openssl on a TLS port, curl on port 80): the least a loop can do
# and still say anything about TLS, and so the lower bound of what the sequential way costs.
#
# Usage: sequential.sh [--minimal] ENDPOINTS_FILE TIMEOUT_S [CAFILE]
#   ENDPOINTS_FILE: one "host port" per line; CAFILE: the anchors to verify against (default: the system's).
set -u
minimal=0
if [ "${1:-}" = "--minimal" ]; then
    minimal=1
    shift
fi
endpoints=$1
limit=$2
cafile=${3:-}
openssl_ca=()
curl_ca=()
if [ -n "$cafile" ]; then
    openssl_ca=(-CAfile "$cafile")
    curl_ca=(--cacert "$cafile")
fi
while read -r host port; do
    timeout "$limit" bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null && tcp=open || tcp=failed
    tls=- http=-
    if [ "$port" = 80 ]; then
        curl -s -o /dev/null -m "$limit" "http://$host/" && http=ok || http=failed
    else
        timeout "$limit" openssl s_client -connect "$host:$port" -servername "$host" -verify_return_error \
            "${openssl_ca[@]}" </dev/null >/dev/null 2>&1 && tls=ok || tls=failed
        if [ "$minimal" = 0 ]; then
            curl -s -o /dev/null -m "$limit" "${curl_ca[@]}" "https://$host:$port/" && http=ok || http=failed
        fi
    fi
    echo "$host $port tcp=$tcp tls=$tls http=$http"
done < "$endpoints"
