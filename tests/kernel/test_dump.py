"""Netlink.dump_raw / Netlink.batch: (a) an injected socket with canned kernel answers,
(b) real dumps while another thread churns the namespace."""

from __future__ import annotations

import errno
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from ipaddress import IPv4Interface, ip_interface
from socket import AF_INET

import pytest
from pyroute2.netlink import NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from netknit._errors import DumpInterruptedError, KernelError
from netknit.kernel import (
    NLM_F_DUMP_INTR,
    Netlink,
    Request,
    VethEnd,
    addresses,
    create_veths,
    delete_links,
    entered,
    links,
)
from netknit.kernel._msg import getlink_body, parse_link
from netknit.kernel._nl import DUMP_RETRIES, PIPELINE_DEPTH

NLM_F_MULTI = 0x2
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
HDR = struct.Struct("IHHII")

# -- (a) canned answers ----------------------------------------------------------------


def link_msg(seq: int, index: int, name: str, flags: int) -> bytes:
    """A real RTM_NEWLINK, encoded by pyroute2, as the kernel would send it in a dump."""
    msg = ifinfmsg()
    msg["header"]["type"] = RTM_NEWLINK
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg["index"] = index
    msg["attrs"] = [("IFLA_IFNAME", name), ("IFLA_MTU", 1500),
                    ("IFLA_ADDRESS", f"02:00:00:00:00:{index:02x}")]
    msg.encode()
    return bytes(msg.data)


def done_msg(seq: int, flags: int = NLM_F_MULTI, code: int = 0) -> bytes:
    return HDR.pack(20, NLMSG_DONE, flags, seq, 0) + struct.pack("i", -code)


def error_msg(seq: int, code: int, request: bytes, text: str = "") -> bytes:
    """An NLMSG_ERROR as netlink_ack sends it to a socket without NETLINK_CAP_ACK: an ack
    (code 0) echoes only the request's header (NLM_F_CAPPED), an error echoes the whole
    request, then the extack attributes (NLM_F_ACK_TLVS) if there is a text."""
    echo = request if code else request[: HDR.size]
    body = struct.pack("i", -code) + echo
    flags = 0 if code else NLM_F_CAPPED
    if text:
        raw = text.encode() + b"\0"
        nla = struct.pack("HH", 4 + len(raw), NLMSGERR_ATTR_MSG) + raw
        body += nla + b"\0" * (-len(nla) % 4)
        flags |= NLM_F_ACK_TLVS
    return HDR.pack(HDR.size + len(body), NLMSG_ERROR, flags, seq, 0) + body


Answer = Callable[[int, int, bytes], list[bytes]]  # (attempt, seq, request) -> chunks


class FakeSocket:
    """A RawSocket that answers every request in a send with canned chunks, one chunk
    per recv — like the kernel, which hands out one skb per recvmsg."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[int, int, int]] = []  # (type, flags, seq)
        self.chunks: deque[bytes] = deque()
        self.closed = False

    def send(self, data: bytes, /) -> int:
        offset = 0
        while offset + HDR.size <= len(data):
            length, mtype, flags, seq, _pid = HDR.unpack_from(data, offset)
            assert HDR.size <= length <= len(data) - offset, f"malformed request {data!r}"
            attempt = len(self.requests)
            self.requests.append((mtype, flags, seq))
            self.chunks.extend(self.answer(attempt, seq, data[offset : offset + length]))
            offset += (length + 3) & ~3
        assert offset == len(data), f"trailing bytes after the requests: {data[offset:]!r}"
        return len(data)

    def recv(self, bufsize: int, /) -> bytes:
        assert self.chunks, "recv with nothing queued: the code under test would hang"
        return self.chunks.popleft()

    def recv_into(self, buffer: memoryview, /) -> int:
        chunk = self.recv(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self.closed = True


NAMES = [f"if{i}" for i in range(1, 8)]


def full_dump(seq: int, intr: bool = False) -> list[bytes]:
    """Seven links over three chunks; with ``intr`` the kernel flags the later parts."""
    flag = NLM_F_MULTI | (NLM_F_DUMP_INTR if intr else 0)
    msgs = [link_msg(seq, i + 1, name, flag if i >= 3 else NLM_F_MULTI)
            for i, name in enumerate(NAMES)]
    return [b"".join(msgs[:3]), b"".join(msgs[3:]), done_msg(seq, flag)]


def dump_names(nl: Netlink) -> list[str]:
    raw = nl.dump_raw(getlink_body(), RTM_GETLINK, "dump links")
    return [parse_link(message).name for message in raw]


@pytest.mark.parametrize("k", [0, 1, 3, DUMP_RETRIES])
def test_dump_retries_exactly_k_times(k):
    def answer(attempt: int, seq: int, _req: bytes) -> list[bytes]:
        if attempt < k:  # interrupted: and a partial set, which must never come back
            return [*full_dump(seq, intr=True)[:1], done_msg(seq, NLM_F_MULTI | NLM_F_DUMP_INTR)]
        return full_dump(seq)

    sock = FakeSocket(answer)
    nl = Netlink(sock, "fake")
    assert dump_names(nl) == NAMES
    assert len(sock.requests) == k + 1
    assert nl.dump_retries_seen == k
    assert all((flags & 0x300) == 0x300 for _t, flags, _s in sock.requests)  # NLM_F_DUMP


def test_dump_flag_only_on_done_counts_too():
    calls = []

    def answer(attempt: int, seq: int, _req: bytes) -> list[bytes]:
        calls.append(attempt)
        chunks = full_dump(seq)
        if attempt == 0:
            chunks[-1] = done_msg(seq, NLM_F_MULTI | NLM_F_DUMP_INTR)
        return chunks

    nl = Netlink(FakeSocket(answer), "fake")
    assert dump_names(nl) == NAMES and calls == [0, 1] and nl.dump_retries_seen == 1


def test_always_interrupted_dump_raises_after_the_bound():
    sock = FakeSocket(lambda _a, seq, _r: full_dump(seq, intr=True))
    nl = Netlink(sock, "fake")
    with pytest.raises(DumpInterruptedError) as info:
        dump_names(nl)
    assert len(sock.requests) == DUMP_RETRIES + 1
    assert nl.dump_retries_seen == DUMP_RETRIES + 1
    assert info.value.errno == errno.EINTR and "dump links" in str(info.value)


def test_dump_answered_with_nlmsg_error_eintr_retries():
    def answer(attempt: int, seq: int, req: bytes) -> list[bytes]:
        if attempt == 0:
            return [full_dump(seq)[0], error_msg(seq, errno.EINTR, req)]
        return full_dump(seq)

    nl = Netlink(FakeSocket(answer), "fake")
    assert dump_names(nl) == NAMES and nl.dump_retries_seen == 1


def test_dump_ending_in_done_with_eintr_retries():
    def answer(attempt: int, seq: int, _req: bytes) -> list[bytes]:
        if attempt == 0:  # how netlink_dump reports a dump callback's error
            return [full_dump(seq)[0], done_msg(seq, code=errno.EINTR)]
        return full_dump(seq)

    nl = Netlink(FakeSocket(answer), "fake")
    assert dump_names(nl) == NAMES and nl.dump_retries_seen == 1


def test_dump_ending_in_done_with_an_error_raises_instead_of_returning_part():
    nl = Netlink(FakeSocket(lambda _a, seq, _r: [full_dump(seq)[0],
                                                done_msg(seq, code=errno.EMSGSIZE)]), "fake")
    with pytest.raises(KernelError) as info:
        dump_names(nl)
    assert info.value.errno == errno.EMSGSIZE


def test_dump_skips_stale_messages_of_earlier_requests():
    def answer(_attempt: int, seq: int, _req: bytes) -> list[bytes]:
        stale = link_msg(seq - 1 or 99, 42, "stale0", NLM_F_MULTI)
        return [stale + full_dump(seq)[0], *full_dump(seq)[1:]]

    assert dump_names(Netlink(FakeSocket(answer), "fake")) == NAMES


def up_request(index: int) -> Request:
    msg = ifinfmsg()
    msg["index"] = index
    return Request(msg, RTM_NEWLINK, 0, f"set link #{index}")


def test_batch_returns_one_result_per_request_in_order():
    failing = {2: (errno.EEXIST, "An interface with that name exists"), 5: (errno.ENODEV, "")}

    def answer(attempt: int, seq: int, req: bytes) -> list[bytes]:
        code, text = failing.get(attempt, (0, ""))
        return [error_msg(seq, code, req, text)]

    sock = FakeSocket(answer)
    nl = Netlink(sock, "fake")
    # the fake hands out one ack per recv: several reads per pipelined send
    results = nl.batch([up_request(i) for i in range(7)])
    assert [r is None for r in results] == [True, True, False, True, True, False, True]
    assert results[2] is not None and results[2].errno == errno.EEXIST
    assert "An interface with that name exists" in str(results[2])
    assert "set link #2" in str(results[2])
    assert results[5] is not None and results[5].errno == errno.ENODEV
    assert all((flags & 0x5) == 0x5 for _t, flags, _s in sock.requests)  # REQUEST|ACK


def test_batch_beyond_one_pipeline_keeps_order_and_skips_stray_acks():
    count = PIPELINE_DEPTH + 9
    bad = {3, PIPELINE_DEPTH, count - 1}

    def answer(attempt: int, seq: int, req: bytes) -> list[bytes]:
        ack = error_msg(seq, errno.EINVAL if attempt in bad else 0, req)
        stray = error_msg(100000 + attempt, 0, req)  # an ack nobody waits for
        return [stray + ack] if attempt % 10 == 0 else [ack]

    sock = FakeSocket(answer)
    results = Netlink(sock, "fake").batch([up_request(i) for i in range(count)])
    assert {i for i, r in enumerate(results) if r is not None} == bad
    assert len(sock.requests) == count and not sock.chunks


# -- (b) real churn --------------------------------------------------------------------

CHURN_SECONDS = 3.0
CHURN_MAX_OPS = 50_000
BASELINE_PAIRS = 40  # ~80 links: a link dump needs several 32 KiB skbs
BASELINE_ADDRS = 600  # likewise for an address dump (about two skbs)


class Churn(threading.Thread):
    """Changes a namespace as fast as it can, through its own socket, until told."""

    def __init__(self, ns_fd: int, step: Callable[[Netlink, int], None]) -> None:
        super().__init__(name="churn", daemon=True)
        self.ns_fd, self.step = ns_fd, step
        self.stop = threading.Event()
        self.ops = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            with entered(self.ns_fd):
                nl = Netlink.here("churn")
            with nl:
                deadline = time.monotonic() + CHURN_SECONDS + 2
                while (not self.stop.is_set() and self.ops < CHURN_MAX_OPS
                       and time.monotonic() < deadline):
                    self.step(nl, self.ops)
                    self.ops += 1
        except BaseException as exc:
            self.errors.append(exc)


def churn_veths(nl: Netlink, i: int) -> None:
    errors = create_veths(nl, [(VethEnd(f"c{i % 50}a"), VethEnd(f"c{i % 50}b"))])
    if errors[0] is not None and errors[0].errno != errno.EEXIST:
        raise errors[0]
    delete_links(nl, [f"c{i % 50}a"])


def addr_request(msg_type: int, index: int, address: IPv4Interface) -> Request:
    msg = ifaddrmsg()
    msg["family"] = AF_INET
    msg["prefixlen"] = address.network.prefixlen
    msg["index"] = index
    ip = str(address.ip)
    msg["attrs"] = [("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)]
    flags = 0x400 | 0x200 if msg_type == RTM_NEWADDR else 0  # CREATE|EXCL
    return Request(msg, msg_type, flags, f"{msg_type} {address}")


def well_formed(name: str) -> bool:
    return bool(name) and len(name.encode()) < 16 and "/" not in name and " " not in name


def run_dumps(dump: Callable[[], list], check: Callable[[list], None], churn: Churn,
              nl: Netlink) -> dict[str, int]:
    figures = {"dumps": 0, "interrupted_gave_up": 0}
    start_retries = nl.dump_retries_seen
    churn.start()
    deadline = time.monotonic() + CHURN_SECONDS
    try:
        while time.monotonic() < deadline and churn.is_alive():
            try:
                result = dump()
            except DumpInterruptedError:
                figures["interrupted_gave_up"] += 1
                continue
            figures["dumps"] += 1
            check(result)
    finally:
        churn.stop.set()
        churn.join(10)
    assert not churn.is_alive()
    assert not churn.errors, f"churn thread failed: {churn.errors!r}"
    figures["retries"] = nl.dump_retries_seen - start_retries
    figures["churn_ops"] = churn.ops
    return figures


@pytest.mark.root
@pytest.mark.slow
def test_link_dumps_under_churn(make_ns, record_property):
    ns = make_ns("churn")
    base = [(VethEnd(f"base{i}a"), VethEnd(f"base{i}b")) for i in range(BASELINE_PAIRS)]
    assert create_veths(ns.nl, base) == [None] * BASELINE_PAIRS
    base_names = {end.name for pair in base for end in pair}
    torn = {"dumps_with_a_churn_veth_missing_its_peer": 0}

    def check(result) -> None:
        names = [link.name for link in result]
        assert len(names) == len(set(names)), f"duplicate names in one dump: {names}"
        assert len({link.index for link in result}) == len(result), "duplicate ifindex"
        assert all(well_formed(n) for n in names), names
        assert base_names <= set(names), "a link that never changed is missing"
        index = {link.index: link for link in result}
        for link in result:
            if link.name in base_names:  # stable pairs: both ends, always
                assert link.peer_index in index, f"{link.name} listed without its peer"
        if any(link.kind == "veth" and link.peer_index not in index for link in result):
            torn["dumps_with_a_churn_veth_missing_its_peer"] += 1

    figures = run_dumps(lambda: links(ns.nl), check, Churn(ns.fd, churn_veths), ns.nl)
    figures.update(torn)
    print(f"\nlink dumps under veth churn: {figures}")
    for key, value in figures.items():
        record_property(f"links_{key}", value)
    assert figures["dumps"] > 0 and figures["churn_ops"] > 0


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["flat-out", "bursty"])
def test_address_dumps_under_churn(make_ns, record_property, mode):
    """flat-out: a change every fraction of a millisecond, so a dump spanning two skbs is
    interrupted on every attempt and ends in DumpInterruptedError (bounded, loud).
    bursty: 20 changes, then a quiet 40 ms: interrupted dumps are retried and succeed."""
    ns = make_ns("churn")
    assert create_veths(ns.nl, [(VethEnd("hold0"), VethEnd("hold1"))]) == [None]
    idx = {link.name: link.index for link in links(ns.nl)}
    base = [ip_interface(f"10.{100 + i // 250}.{i % 250}.1/32") for i in range(BASELINE_ADDRS)]
    for err in ns.nl.batch([addr_request(RTM_NEWADDR, idx["hold0"], a) for a in base]):
        assert err is None, err
    churned = [ip_interface(f"10.99.{i // 250}.{i % 250 + 1}/32") for i in range(500)]

    def step(nl: Netlink, i: int) -> None:
        address = churned[i % len(churned)]
        for err in nl.batch([addr_request(RTM_NEWADDR, idx["hold1"], address),
                             addr_request(RTM_DELADDR, idx["hold1"], address)]):
            if err is not None:
                raise err
        if mode == "bursty" and i % 20 == 19:
            time.sleep(0.04)

    base_set = set(base)

    def check(result) -> None:
        seen = [(i, a) for i, addrs in result.items() for a in addrs]
        assert len(seen) == len(set(seen)), "duplicate address in one dump"
        assert base_set <= set(result.get(idx["hold0"], [])), "a stable address is missing"

    figures = run_dumps(lambda: addresses(ns.nl), check, Churn(ns.fd, step), ns.nl)
    print(f"\naddress dumps under {mode} address churn: {figures}")
    for key, value in figures.items():
        record_property(f"addrs_{mode}_{key}", value)
    assert figures["dumps"] + figures["interrupted_gave_up"] > 0 and figures["churn_ops"] > 0


def test_receives_into_a_buffer_give_what_plain_receives_give(make_ns, host_nl) -> None:
    """A process's first receives are plain ``recv``s, the rest go through a buffer of
    each thread's own: both give the same answers, in this thread and in others, for
    dumps of many messages and for acks."""
    from netknit.kernel import _nl

    ns = make_ns("rx")
    pairs = [(VethEnd(f"rx{i}", ns_fd=ns.fd), VethEnd(f"rx{i}p", ns_fd=ns.fd))
             for i in range(40)]
    assert create_veths(host_nl, pairs) == [None] * 40

    def listing() -> list[tuple[str, int, str]]:
        with entered(ns.fd):
            nl = Netlink.here("rx")
        with nl:
            return sorted((i.name, i.index, i.mac) for i in links(nl))

    def in_a_new_thread(received: int) -> tuple[list[tuple[str, int, str]], bool]:
        """The listing from a thread of its own, ``received`` receives into the process;
        and whether that thread received through a buffer."""
        _nl._received = received
        out: list[tuple[list[tuple[str, int, str]], bool]] = []
        worker = threading.Thread(target=lambda: out.append(
            (listing(), getattr(_nl._buffers, "buf", None) is not None)))
        worker.start()
        worker.join()
        return out[0]

    plain, buffered = in_a_new_thread(0), in_a_new_thread(_nl.PLAIN_RECEIVES)
    assert plain[1] is False and buffered[1] is True
    assert buffered[0] == plain[0] and len(plain[0]) == 81  # lo and 40 pairs
    assert len(delete_links(ns.nl, [f"rx{i}" for i in range(40)])) == 40
