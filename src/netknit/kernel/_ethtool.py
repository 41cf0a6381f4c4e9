"""Interface offloads through the SIOCETHTOOL ioctl (no ``ethtool`` binary)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct

from ._ns import Namespace, entered

SIOCETHTOOL = 0x8946  # linux/sockios.h
ETHTOOL_GTXCSUM = 0x16  # linux/ethtool.h
ETHTOOL_STXCSUM = 0x17
_IFREQ = struct.Struct("16sP")  # struct ifreq: the name, then ifr_data (a pointer)
_IFREQ_SIZE = 40  # the union is 24 bytes on 64-bit Linux


def _socket(ns: Namespace | None) -> socket.socket:
    """A socket of ``ns`` (the caller's namespace for None): ioctls act where it was made."""
    if ns is None:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with entered(ns.fd):
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _ethtool(sock: socket.socket, ifname: str, cmd: int, data: int = 0) -> int:
    value = (ctypes.c_uint32 * 2)(cmd, data)  # struct ethtool_value {cmd, data}
    request = bytearray(_IFREQ.pack(ifname.encode(), ctypes.addressof(value)).ljust(
        _IFREQ_SIZE, b"\0"))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
    return int(value[1])


def tx_checksum(ns: Namespace | None, ifname: str) -> bool:
    """Whether TX checksum offload is on for ``ifname`` in ``ns``."""
    with _socket(ns) as sock:
        return bool(_ethtool(sock, ifname, ETHTOOL_GTXCSUM))


def tx_checksum_off(ns: Namespace | None, ifname: str) -> bool:
    """Turn TX checksum offload off, as containerlab's EthtoolTXOff (utils/ethtool.go).
    False when ``ifname`` does not exist there."""
    with _socket(ns) as sock:
        try:
            if _ethtool(sock, ifname, ETHTOOL_GTXCSUM):
                _ethtool(sock, ifname, ETHTOOL_STXCSUM, 0)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise
    return True
