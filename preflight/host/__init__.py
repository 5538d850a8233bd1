"""Facts about this host the checks read: Windows' SCHANNEL settings and services (`winhost`, `schannel`), the
installed connector (`installed`), the hosts file (`hostsfile`)."""
