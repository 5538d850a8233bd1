"""An Ansible connection plugin for tests: a "host" is a network namespace on the controller machine, and tasks
run inside it with `ip netns exec` (the filesystem is shared, so files are copied in place). A namespace that
does not exist is an unreachable host. Used by tests/test_fleet.py to give each candidate its own network."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
    name: netns
    short_description: run tasks inside a Linux network namespace on the controller
    description:
      - Each inventory host is a network namespace; commands run through `ip netns exec`.
    options:
      remote_addr:
        description: the network namespace to enter
        default: inventory_hostname
        vars:
          - name: ansible_host
"""


class Connection(ConnectionBase):
    transport = "netns"
    has_pipelining = True

    def _namespace(self) -> str:
        return str(self.get_option("remote_addr"))

    def _connect(self) -> Connection:
        if not self._connected:
            listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
            if self._namespace() not in [line.split()[0] for line in listing.splitlines() if line.strip()]:
                raise AnsibleConnectionFailure(f"network namespace {self._namespace()!r} does not exist")
            self._connected = True
        return self

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self._namespace(), "/bin/sh", "-c", cmd],
            stdin=subprocess.PIPE if in_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        shutil.copyfile(in_path, out_path)

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        shutil.copyfile(in_path, out_path)

    def reset(self) -> None:
        self.close()  # nothing persistent to reset: every command is its own `ip netns exec`

    def close(self, *args: Any) -> None:
        self._connected = False
