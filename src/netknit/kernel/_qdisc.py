"""Link impairment as a root qdisc: netem (delay, jitter, loss, corruption, and a rate
with them, as containerlab sets it) or tbf (a rate alone: the token bucket shapes on
every kernel, sch_netem is often missing, as on the build machines).

Requests are ``tc qdisc replace``'s (handle 0, NLM_F_CREATE | NLM_F_REPLACE): the
kernel changes a root qdisc of the same kind in place and swaps one of another kind,
so setting again is idempotent and an interface is never without a qdisc. Bodies are
packed by hand, as in :mod:`._tc`; layouts are <linux/pkt_sched.h>'s.
"""

from __future__ import annotations

import errno
import struct
import threading
from collections.abc import Mapping

from .._errors import KernelError
from .._impair import Impairment
from . import _msg
from ._lookup import RTM_DELQDISC, RTM_GETQDISC, TC_H_ROOT
from ._msg import NLM_F_CREATE
from ._nl import Netlink, Request
from ._tc import RTM_NEWQDISC, TCA_KIND, TCA_OPTIONS, tcmsg

NLM_F_REPLACE = 0x100
#: psched ticks per ns (/proc/net/psched's second field: PSCHED_TICKS2NS(1) = 64)
_NS_PER_TICK = 64
_U32_MAX = 2**32 - 1

# netem
_NETEM_QOPT = struct.Struct("IIIIII")  # latency, limit, loss, gap, duplicate, jitter
TCA_NETEM_CORRUPT = 4
TCA_NETEM_RATE = 6
TCA_NETEM_RATE64 = 8
TCA_NETEM_LATENCY64 = 10
TCA_NETEM_JITTER64 = 11
_NETEM_RATE = struct.Struct("IiIi")  # rate (bytes/s), packet_overhead, cell_size, cell_overhead
_NETEM_CORRUPT = struct.Struct("II")  # probability, correlation
#: packets netem holds (containerlab's limit: enough for its delay at line rate)
NETEM_LIMIT = 10000

# tbf
TCA_TBF_PARMS = 1
TCA_TBF_RATE64 = 4
TCA_TBF_BURST = 6
_RATESPEC = struct.Struct("BBHhHI")  # cell_log, linklayer, overhead, cell_align, mpu, rate
_TBF_QOPT = struct.Struct("12s12sIII")  # rate, peakrate, limit, buffer, mtu
TC_LINKLAYER_ETHERNET = 1  # rates computed by the kernel itself: no rate table to send
#: the queue tbf keeps, in time at its rate (beyond the bucket), and at least
#: TBF_QUEUE_MIN bytes: two 64 KiB GSO packets (tbf splits one into frames and queues
#: them all, or drops them all), so that TCP fills a slow link
TBF_QUEUE_NS = 100_000_000
TBF_QUEUE_MIN = 2 * 65536
#: the bucket, in time at its rate, at least one frame of the interface's MTU (a frame
#: larger than the bucket never leaves)
TBF_BURST_NS = 10_000_000
_ETH_HLEN = 18  # Ethernet header and a VLAN tag

_probe_lock = threading.Lock()
_netem: bool | None = None  # probed once per process


def _bytes_per_s(kbit: int) -> int:
    return kbit * 1000 // 8


def _fraction(percent: float) -> int:
    """A probability as the kernel holds it: a share of 2^32 - 1."""
    return round(_U32_MAX * percent / 100)


def _percent(value: int) -> float:
    """The kernel's probability as a percentage (unrounded: :func:`matches` compares it
    back as the kernel's number; people see it rounded)."""
    return value / _U32_MAX * 100


def netem_options(imp: Impairment) -> bytes:
    qopt = _NETEM_QOPT.pack(min(imp.delay // _NS_PER_TICK, _U32_MAX), NETEM_LIMIT,
                            _fraction(imp.loss), 0, 0,
                            min(imp.jitter // _NS_PER_TICK, _U32_MAX))
    rate = _bytes_per_s(imp.rate)
    out = qopt + _msg.attr(TCA_NETEM_LATENCY64, struct.pack("q", imp.delay))
    out += _msg.attr(TCA_NETEM_JITTER64, struct.pack("q", imp.jitter))
    out += _msg.attr(TCA_NETEM_RATE, _NETEM_RATE.pack(min(rate, _U32_MAX), 0, 0, 0))
    if rate > _U32_MAX:
        out += _msg.attr(TCA_NETEM_RATE64, struct.pack("Q", rate))
    # always sent (0 too), as containerlab does, so that setting again clears it
    out += _msg.attr(TCA_NETEM_CORRUPT, _NETEM_CORRUPT.pack(_fraction(imp.corruption), 0))
    return out


def tbf_options(rate_kbit: int, mtu: int) -> bytes:
    rate = _bytes_per_s(rate_kbit)
    burst = max(rate * TBF_BURST_NS // 1_000_000_000, mtu + _ETH_HLEN)
    limit = burst + max(rate * TBF_QUEUE_NS // 1_000_000_000, TBF_QUEUE_MIN)
    buffer = min(burst * 1_000_000_000 // rate // _NS_PER_TICK, _U32_MAX)
    spec = _RATESPEC.pack(0, TC_LINKLAYER_ETHERNET, 0, 0, 0, min(rate, _U32_MAX))
    parms = _TBF_QOPT.pack(spec, bytes(_RATESPEC.size), min(limit, _U32_MAX), buffer, 0)
    out = _msg.attr(TCA_TBF_PARMS, parms) + _msg.u32(TCA_TBF_BURST, min(burst, _U32_MAX))
    if rate > _U32_MAX:
        out += _msg.attr(TCA_TBF_RATE64, struct.pack("Q", rate))
    return out


def impair_request(index: int, imp: Impairment, mtu: int, what: str) -> Request:
    """RTM_NEWQDISC (replace) of interface ``index``'s root qdisc: netem when ``imp``
    needs it, else tbf (``mtu``: the interface's, the least bucket tbf may have)."""
    if imp.netem:
        kind, options = "netem", netem_options(imp)
    else:
        kind, options = "tbf", tbf_options(imp.rate, mtu)
    body = tcmsg(index, 0, TC_H_ROOT) + _msg.string(TCA_KIND, kind)
    body += _msg.attr(TCA_OPTIONS, options)
    return Request(body, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, what)


def clear_request(index: int, kind: str, what: str) -> Request:
    """Delete interface ``index``'s root ``kind`` qdisc (back to the default one)."""
    body = tcmsg(index, 0, TC_H_ROOT) + _msg.string(TCA_KIND, kind)
    return Request(body, RTM_DELQDISC, 0, what)


NETEM_HINT = ("this kernel has no sch_netem module, which delay, jitter, loss and "
              "corruption need: load it (`modprobe sch_netem`; on Debian and Ubuntu it "
              "ships in linux-modules-extra-$(uname -r); RHEL: kernel-modules-extra), "
              "or impair the rate alone (--rate works with tbf)")


def explain(err: KernelError, imp: Impairment) -> KernelError:
    """``err`` with the missing module named when the kernel lacks netem or tbf."""
    if err.errno != errno.ENOENT:  # the kernel's "Specified qdisc kind is unknown"
        return err
    module = "sch_netem" if imp.netem else "sch_tbf"
    hint = NETEM_HINT if imp.netem else \
        "this kernel has no sch_tbf module: load it (`modprobe sch_tbf`)"
    return KernelError(err.operation, err.errno,
                       detail=f"the kernel has no {module} (qdisc kind unknown)", hint=hint)


def impair(nl: Netlink, index: int, imp: Impairment | None, mtu: int, what: str) -> None:
    """Set (``imp``) or clear (None, or nothing asked) interface ``index``'s
    impairment. Idempotent."""
    if imp:
        err = nl.batch([impair_request(index, imp, mtu, what)])[0]
        if err is not None:
            raise explain(err, imp)
        return
    clear(nl, index, what)


def clear(nl: Netlink, index: int, what: str) -> None:
    """Remove the netem or tbf root qdisc of ``index``, if it has one."""
    found = impairments(nl).get(index)
    if found is not None:
        err = nl.batch([clear_request(index, found[0], what)])[0]
        if err is not None and err.errno != errno.ENOENT:  # gone meanwhile: fine
            raise err


def impairments(nl: Netlink) -> dict[int, tuple[str, Impairment]]:
    """The impairment of every interface of nl's namespace that has one: ifindex ->
    (qdisc kind, what it does). A root netem or tbf qdisc is one. One DUMP_INTR-safe
    dump."""
    out: dict[int, tuple[str, Impairment]] = {}
    for raw in nl.dump_raw(tcmsg(0), RTM_GETQDISC, f"list the qdiscs in {nl.label}"):
        _, ifindex, _, parent, _ = struct.unpack_from("BxxxiIII", raw, 16)
        if parent != TC_H_ROOT:
            continue
        top = _msg.attrs(raw, 36, len(raw))
        kind = top.get(TCA_KIND, b"").split(b"\0", 1)[0].decode(errors="replace")
        options = top.get(TCA_OPTIONS, b"")
        if kind == "netem" and len(options) >= _NETEM_QOPT.size:
            out[ifindex] = (kind, _read_netem(options))
        elif kind == "tbf":
            out[ifindex] = (kind, _read_tbf(options))
    return out


def _read_netem(options: bytes) -> Impairment:
    latency, _limit, loss, _gap, _dup, jitter = _NETEM_QOPT.unpack_from(options)
    attrs = _msg.attrs(options, _NETEM_QOPT.size, len(options))
    delay = latency * _NS_PER_TICK
    if TCA_NETEM_LATENCY64 in attrs:
        delay = struct.unpack_from("q", attrs[TCA_NETEM_LATENCY64])[0]
    if TCA_NETEM_JITTER64 in attrs:
        jitter = struct.unpack_from("q", attrs[TCA_NETEM_JITTER64])[0]
    else:
        jitter *= _NS_PER_TICK
    rate = 0
    if TCA_NETEM_RATE64 in attrs:
        rate = struct.unpack_from("Q", attrs[TCA_NETEM_RATE64])[0]
    elif TCA_NETEM_RATE in attrs:
        rate = _NETEM_RATE.unpack_from(attrs[TCA_NETEM_RATE])[0]
    corrupt = _NETEM_CORRUPT.unpack_from(attrs[TCA_NETEM_CORRUPT])[0] \
        if TCA_NETEM_CORRUPT in attrs else 0
    return Impairment(delay=delay, jitter=jitter, loss=_percent(loss), rate=rate * 8 // 1000,
                      corruption=_percent(corrupt))


def _read_tbf(options: bytes) -> Impairment:
    attrs = _msg.attrs(options, 0, len(options))
    rate = 0
    if TCA_TBF_RATE64 in attrs:
        rate = struct.unpack_from("Q", attrs[TCA_TBF_RATE64])[0]
    elif TCA_TBF_PARMS in attrs:
        rate = _RATESPEC.unpack_from(attrs[TCA_TBF_PARMS])[5]
    return Impairment(rate=rate * 8 // 1000)


def netem_available() -> bool:
    """Does this kernel have sch_netem? Probed once per process, without touching any
    namespace but a throwaway one: a netem qdisc on the ``lo`` of a fresh anonymous
    namespace, which goes with it."""
    global _netem
    with _probe_lock:
        if _netem is None:
            from ._ns import anonymous

            ns = anonymous("netem probe")
            try:
                err = ns.nl.batch([impair_request(1, Impairment(delay=1000), 0,
                                                  "probe sch_netem")])[0]
                _netem = err is None
            finally:
                ns.close()
        return _netem


def impair_all(nl: Netlink, wanted: Mapping[str, Impairment]) -> None:
    """Set the impairment of each named interface of nl's namespace: one link dump and
    one pipelined batch. Raises the first refusal (the missing module named)."""
    from ._link import links

    have = {link.name: link for link in links(nl)}
    requests = []
    for name, imp in wanted.items():
        link = have.get(name)
        if link is None:
            raise KernelError(f"impair {name} in {nl.label}", errno.ENODEV)
        requests.append(impair_request(link.index, imp, link.mtu,
                                       f"impair {name} in {nl.label} ({imp.words()})"))
    for err, imp in zip(nl.batch(requests), wanted.values(), strict=True):
        if err is not None:
            raise explain(err, imp)


def matches(kind: str, have: Impairment, want: Impairment) -> bool:
    """Does a root ``kind`` qdisc doing ``have`` do what ``want`` asks (probabilities
    compared as the kernel holds them)?"""
    return (kind == ("netem" if want.netem else "tbf") and have.delay == want.delay
            and have.jitter == want.jitter and have.rate == want.rate
            and _fraction(have.loss) == _fraction(want.loss)
            and _fraction(have.corruption) == _fraction(want.corruption))
