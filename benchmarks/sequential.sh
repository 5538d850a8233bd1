#!/usr/bin/env bash
# The way admins check connector endpoints by hand, one after another: a TCP connect per endpoint (bash's
# /dev/tcp, as `nc -z` would), `openssl s_client` for TLS ports and `curl` for port 80, each bounded by the same
# timeout the tool uses. Usage: sequential.sh ENDPOINTS_FILE TIMEOUT_S   (one "host port" per line)
set -u
endpoints=$1
limit=$2
while read -r host port; do
    timeout "$limit" bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null && tcp=open || tcp=failed
    case "$port" in
        80) curl -s -o /dev/null -m "$limit" "http://$host/" && app=ok || app=failed ;;
        *) timeout "$limit" openssl s_client -connect "$host:$port" -servername "$host" </dev/null >/dev/null 2>&1 \
               && app=ok || app=failed ;;
    esac
    echo "$host $port tcp=$tcp app=$app"
done < "$endpoints"
