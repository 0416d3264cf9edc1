"""Ports on this machine: a free one, and whether a server could listen on one now (TCP as the servers
bind, and UDP for the DNS server). Used by ``servers.py`` and the backends that choose their ports."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now, chosen by the kernel."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def bind_error(host: str, port: int, *, reuse_address: bool = False) -> int | None:
    """None if ``host:port`` can be listened on, else the errno (-1 when the OS gave none)."""
    with socket.socket() as s:
        if reuse_address:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            return err.errno or -1
        return None


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if a server could listen on ``host:port`` now. MiniStack and moto (werkzeug) both listen with
    ``SO_REUSEADDR``, so this binds with it too: connections of a stopped server left in TIME_WAIT do
    not hold the port for them, and must not make it look taken."""
    return bind_error(host, port, reuse_address=True) is None


def udp_port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if a UDP socket can be bound to ``host:port`` (a DNS server needs UDP and TCP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True
