"""The netlink transport: one rtnetlink socket, requests, pipelined batches, safe dumps.

Messages are packed and parsed by :mod:`._msg` and its siblings; this module owns the
socket so that it can (a) pipeline many requests per system call — the kernel handles each
netlink message synchronously inside ``send``, so sending 64 requests in one buffer and
then reading 64 acks is what makes netknit faster than ``ip -batch`` — and (b) check
``NLM_F_DUMP_INTR`` on every message of every dump, which pyroute2 0.9 silently drops.
No pyroute2 at run time (see README's dependency table).

A socket belongs to the network namespace it was *created* in, whatever the thread does
afterwards; :func:`netknit.kernel._ns` relies on that to hold one socket per namespace.
"""

from __future__ import annotations

import _socket
import errno as _errno
import struct
import time
from _thread import _local, allocate_lock

from .._errors import DumpInterruptedError, KernelError

# Nothing here imports socket, threading or typing at run time: the CNI plugin is a
# process per call and those three cost ~30 ms to import on a small VM.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any, Protocol

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NLMSGERR_ATTR_MSG = 1

#: How many times a dump is retried when the kernel flags it as interrupted.
DUMP_RETRIES = 8
#: Requests sent per system call; bounded so the acks always fit the receive buffer.
PIPELINE_DEPTH = 64

_HDR = struct.Struct("IHHII")  # nlmsghdr: len, type, flags, seq, pid


if TYPE_CHECKING:

    class RawSocket(Protocol):
        """The part of ``socket.socket`` this module uses (tests inject their own)."""

        def send(self, data: bytes, /) -> int: ...
        def recv(self, bufsize: int, /) -> bytes: ...
        def recv_into(self, buffer: memoryview, /) -> int: ...
        def close(self) -> None: ...


#: the largest datagram a receive takes (a netlink receive is one skb, never two)
RECV_SIZE = 1 << 20
#: receives in a process before they go through a buffer of their own
PLAIN_RECEIVES = 32

_received = 0
_buffers = _local()


def _receive(sock: RawSocket) -> bytes:
    """One datagram. ``recv(1 MiB)`` has Python map, shrink and unmap 1 MiB for every
    call (~10 us, most of a small request's round trip): past the first few receives of
    a process, each thread receives into a 1 MiB anonymous mapping of its own (pages the
    kernel never writes stay unmapped) and copies the datagram out. A process that makes
    only a few requests (a CNI call) neither imports ``mmap`` nor maps anything."""
    global _received
    buf: memoryview | None = getattr(_buffers, "buf", None)
    if buf is None:
        _received += 1  # racy between threads, and only a threshold
        if _received <= PLAIN_RECEIVES:
            return sock.recv(RECV_SIZE)
        import mmap

        buf = _buffers.buf = memoryview(mmap.mmap(-1, RECV_SIZE))
    n = sock.recv_into(buf)
    return bytes(buf[:n])


def _setup(sock: _socket.socket) -> None:
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, 1 << 20)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        sock.bind((0, 0))
    except BaseException:
        sock.close()
        raise


def _open_socket() -> _socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's current network namespace (the
    C-level socket object: no ``import socket``)."""
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                          NETLINK_ROUTE)
    _setup(sock)
    return sock


class Request:
    """One netlink request: a packed body (or a message object that encodes itself, as
    pyroute2's do: the tests build some that way), its type and flags."""

    __slots__ = ("flags", "msg", "msg_type", "what")

    def __init__(self, msg: Any, msg_type: int, flags: int, what: str) -> None:
        self.msg = msg
        self.msg_type = msg_type
        self.flags = flags
        self.what = what  # human words for errors: "create veth eth1 in clab-x-h1"


class Netlink:
    """A locked rtnetlink socket with request, batch and dump helpers."""

    def __init__(self, sock: RawSocket, label: str = "host") -> None:
        self._sock = sock
        self._lock = allocate_lock()
        self._seq = 0
        self.label = label  # namespace name, for messages
        self.dump_retries_seen = 0  # interrupted dumps retried over this socket's life

    @classmethod
    def here(cls, label: str = "host") -> Netlink:
        """A socket in the calling thread's current network namespace."""
        return cls(_open_socket(), label)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------

    def request(self, req: Request) -> None:
        """Send one request and wait for its ack; raise KernelError on failure."""
        err = self.batch([req])[0]
        if err is not None:
            raise err

    def batch(self, requests: Sequence[Request]) -> list[KernelError | None]:
        """Send requests pipelined; return one error (or None) per request, in order.

        Requests are independent: one failing does not stop the others (the kernel
        processes each message on its own). Callers decide what a failure means.
        """
        results: list[KernelError | None] = [None] * len(requests)
        with self._lock:
            for start in range(0, len(requests), PIPELINE_DEPTH):
                chunk = requests[start : start + PIPELINE_DEPTH]
                pending: dict[int, int] = {}
                buf = bytearray()
                for offset, req in enumerate(chunk):
                    seq = self._next_seq()
                    pending[seq] = start + offset
                    buf += self._encode(req, seq, NLM_F_REQUEST | NLM_F_ACK | req.flags)
                self._sock.send(bytes(buf))
                while pending:
                    for seq, code, text in self._read_acks():
                        index = pending.pop(seq, None)
                        if index is None:
                            continue  # an ack of an earlier, abandoned request
                        if code:
                            results[index] = KernelError(requests[index].what, code, detail=text)
        return results

    def get_raw(self, body: bytes, msg_type: int, what: str) -> bytes | None:
        """One RTM_GET* request that is not a dump (e.g. RTM_GETLINK by IFLA_IFNAME):
        the reply message (header included), or None when the kernel says ENODEV."""
        with self._lock:
            seq = self._next_seq()
            self._sock.send(self._encode(Request(body, msg_type, 0, what), seq, NLM_F_REQUEST))
            data, here, length, mtype, _flags = next(self._replies(seq))
            if mtype == NLMSG_ERROR:
                code = _payload_errno(data, here, length)
                if code == _errno.ENODEV:
                    return None
                raise KernelError(what, code or None, detail=_extack_text(data, here, length))
            return data[here : here + length]

    # -- dumps ----------------------------------------------------------------------

    def dump_raw(self, body: bytes, msg_type: int, what: str) -> list[bytes]:
        """Dump and return every message (header included) as bytes, retrying whenever
        the kernel flags the dump as interrupted (``NLM_F_DUMP_INTR``): partial data is
        never returned."""
        delay = 0.001
        for _attempt in range(DUMP_RETRIES + 1):
            messages, interrupted = self._dump_once(body, msg_type, what)
            if not interrupted:
                return messages
            self.dump_retries_seen += 1
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        raise DumpInterruptedError(
            what,
            _errno.EINTR,
            detail=f"dump interrupted by concurrent changes {DUMP_RETRIES + 1} times in a row",
            hint="something is changing this namespace very fast; retry when it settles",
        )

    def _dump_once(self, body: bytes, msg_type: int, what: str) -> tuple[list[bytes], bool]:
        with self._lock:
            seq = self._next_seq()
            self._sock.send(self._encode(Request(body, msg_type, 0, what), seq,
                                         NLM_F_REQUEST | NLM_F_DUMP))
            out: list[bytes] = []
            interrupted = False
            for data, here, length, mtype, flags in self._replies(seq):
                if flags & NLM_F_DUMP_INTR:
                    interrupted = True
                if mtype == NLMSG_DONE:
                    # a dump that fails part-way ends with DONE carrying -errno in its
                    # payload (netlink_dump); a clean end carries 0
                    code = _payload_errno(data, here, length)
                    if code == _errno.EINTR:
                        return out, True
                    if code:
                        raise KernelError(what, code)
                    return out, interrupted
                if mtype == NLMSG_ERROR:
                    code = _payload_errno(data, here, length)
                    if code == _errno.EINTR:
                        # newer kernels report an interrupted dump as EINTR
                        return out, True
                    raise KernelError(what, code or None)
                out.append(data[here : here + length])
            raise AssertionError("unreachable: _replies never ends")

    # -- internals ------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF or 1
        return self._seq

    @staticmethod
    def _encode(req: Request, seq: int, flags: int) -> bytes:
        msg = req.msg
        if isinstance(msg, bytes):  # a body packed by ._msg
            return _HDR.pack(_HDR.size + len(msg), req.msg_type, flags, seq, 0) + msg
        msg["header"]["type"] = req.msg_type
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = seq
        msg.encode()
        # pyroute2 appends to msg.data when a message is encoded again (dump retries
        # reuse theirs): send only this encoding
        return bytes(msg.data[: msg["header"]["length"]])

    def _replies(self, seq: int) -> Iterator[tuple[bytes, int, int, int, int]]:
        """(data, offset, length, type, flags) of every message answering request
        ``seq``, receiving for as long as the caller asks; messages of earlier requests
        are skipped."""
        while True:
            data = _receive(self._sock)
            for here, length, mtype, flags, mseq in _frames(data):
                if mseq == seq:
                    yield data, here, length, mtype, flags

    def _read_acks(self) -> Iterable[tuple[int, int, str]]:
        """Yield (seq, errno, extack text) for every ack in one receive."""
        data = _receive(self._sock)
        for here, length, mtype, _flags, seq in _frames(data):
            if mtype == NLMSG_ERROR:
                (code,) = struct.unpack_from("i", data, here + 16)
                text = _extack_text(data, here, length) if code else ""
                yield seq, -code, text


def _frames(data: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(offset, length, type, flags, seq) of every netlink message in one receive."""
    offset = 0
    while offset + _HDR.size <= len(data):
        length, mtype, flags, seq, _pid = _HDR.unpack_from(data, offset)
        if length < _HDR.size:
            return
        yield offset, length, mtype, flags, seq
        offset += (length + 3) & ~3


def _payload_errno(data: bytes, offset: int, length: int) -> int:
    """The positive errno an NLMSG_DONE or NLMSG_ERROR carries (0: none)."""
    if length < _HDR.size + 4:
        return 0
    (code,) = struct.unpack_from("i", data, offset + _HDR.size)
    return -code if code < 0 else 0


def _extack_text(data: bytes, offset: int, length: int) -> str:
    """The kernel's extended-ack message (why a request failed), if it sent one."""
    _len, _t, flags, _s, _p = _HDR.unpack_from(data, offset)
    # after nlmsghdr + error code + the echoed request header (capped: no payload)
    (orig_len,) = struct.unpack_from("I", data, offset + 20)
    pos = offset + 20 + (_HDR.size if flags & 0x100 else ((orig_len + 3) & ~3))
    end = offset + length
    while pos + 4 <= end:
        nla_len, nla_type = struct.unpack_from("HH", data, pos)
        if nla_len < 4:
            break
        if nla_type == NLMSGERR_ATTR_MSG:
            return data[pos + 4 : pos + nla_len].split(b"\0", 1)[0].decode(errors="replace")
        pos += (nla_len + 3) & ~3
    return ""
