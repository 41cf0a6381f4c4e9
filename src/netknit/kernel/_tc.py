"""tc stitching: join two devices of one namespace into a wire, both ways.

Each device gets an ingress qdisc and, on it, a classifier that matches every frame and
a mirred action that *redirects* it (egress) to the other device: whatever arrives on one
leaves by the other, untouched, without a bridge (no learning, no STP, no MAC table).

The classifier is the first of matchall, flower, u32 that the kernel accepts, probed
once per process on the first stitch and cached. Kernels without the matchall/flower
modules (the build machines: only u32) still work with u32: one key, mask 0 value 0,
TC_U32_TERMINAL, protocol ETH_P_ALL.

Filters carry a fixed priority and handle and are sent with NLM_F_CREATE (not EXCL), so
stitching again replaces the filter in place: idempotent, and never a moment without one.
Bodies are packed by hand (see :mod:`._msg`): no pyroute2 on this path.
"""

from __future__ import annotations

import _socket as socket  # the C half: what is used here, without socket.py (~2 ms)
import errno
import struct
import threading

from .._errors import KernelError
from . import _msg
from ._msg import NLM_F_CREATE, NLM_F_EXCL
from ._nl import Netlink, Request

RTM_NEWQDISC = 36
RTM_NEWTFILTER = 44
RTM_GETTFILTER = 46

TCA_KIND = 1
TCA_OPTIONS = 2
TC_H_INGRESS = 0xFFFFFFF1
INGRESS_HANDLE = 0xFFFF0000  # ffff:
ETH_P_ALL = 0x0003

# actions
TCA_ACT_KIND = 1
TCA_ACT_OPTIONS = 2
TCA_MIRRED_PARMS = 2
TCA_EGRESS_REDIR = 1
TC_ACT_STOLEN = 4

# classifiers: the attribute (inside TCA_OPTIONS) that holds the action list
TCA_MATCHALL_ACT = 2
TCA_FLOWER_ACT = 3
TCA_U32_SEL = 5
TCA_U32_ACT = 7
TC_U32_TERMINAL = 1

CLASSIFIERS = ("matchall", "flower", "u32")
_ACT_ATTR = {"matchall": TCA_MATCHALL_ACT, "flower": TCA_FLOWER_ACT, "u32": TCA_U32_ACT}
#: the filter's handle: matchall/flower take any; u32's is 800::800 (first node of the
#: root hash table the kernel makes for the first u32 filter of a block)
_HANDLE = {"matchall": 1, "flower": 1, "u32": 0x80000800}
#: priority of the stitch filter on the ingress of each stitched device
STITCH_PRIO = 1

_TCMSG = struct.Struct("BxxxiIII")  # family, ifindex, handle, parent, info
_MIRRED = struct.Struct("IIiiiiI")  # tc_gen (index, capab, action, refcnt, bindcnt),
#                                     eaction, ifindex
_U32_SEL = struct.Struct("BBBxHHhhI")  # flags, offshift, nkeys, offmask, off, offoff,
#                                        hoff, hmask
_U32_KEY = struct.Struct("IIii")  # mask, val, off, offmask

_probe_lock = threading.Lock()
_classifier: str | None = None  # the probed choice, once known

#: errors that mean "this classifier (or its module) is not in this kernel"
_UNSUPPORTED = (errno.ENOENT, errno.EOPNOTSUPP)


def tcmsg(index: int, handle: int = 0, parent: int = 0, info: int = 0) -> bytes:
    return _TCMSG.pack(socket.AF_UNSPEC, index, handle, parent, info)


def ingress_request(index: int, what: str) -> Request:
    body = tcmsg(index, INGRESS_HANDLE, TC_H_INGRESS) + _msg.string(TCA_KIND, "ingress")
    return Request(body, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, what)


def _redirect_action(target: int) -> bytes:
    """An action list of one mirred egress redirect to ``target``."""
    parms = _MIRRED.pack(0, 0, TC_ACT_STOLEN, 0, 0, TCA_EGRESS_REDIR, target)
    act = (_msg.string(TCA_ACT_KIND, "mirred")
           + _msg.attr(TCA_ACT_OPTIONS, _msg.attr(TCA_MIRRED_PARMS, parms)))
    return _msg.attr(1, act)  # actions are numbered from 1 (their order)


def filter_request(kind: str, index: int, target: int, what: str) -> Request:
    """RTM_NEWTFILTER: on ``index``'s ingress, match all and redirect to ``target``."""
    options = b""
    if kind == "u32":
        sel = _U32_SEL.pack(TC_U32_TERMINAL, 0, 1, 0, 0, 0, 0, 0)
        sel += _U32_KEY.pack(0, 0, 0, 0)  # mask 0, value 0: every frame matches
        options += _msg.attr(TCA_U32_SEL, sel)
    options += _msg.attr(_ACT_ATTR[kind], _redirect_action(target))
    info = (STITCH_PRIO << 16) | socket.htons(ETH_P_ALL)
    body = (tcmsg(index, _HANDLE[kind], INGRESS_HANDLE, info)
            + _msg.string(TCA_KIND, kind) + _msg.attr(TCA_OPTIONS, options))
    return Request(body, RTM_NEWTFILTER, NLM_F_CREATE, what)


def _ingress(nl: Netlink, indexes: tuple[int, ...]) -> None:
    requests = [ingress_request(i, f"add ingress qdisc to #{i} in {nl.label}")
                for i in indexes]
    for err in nl.batch(requests):
        if err is not None and err.errno != errno.EEXIST:  # there already: fine
            raise err


def _probe(nl: Netlink, a: int, b: int) -> str:
    """Install the a→b filter with the first classifier the kernel accepts."""
    global _classifier
    refused: list[str] = []
    for kind in CLASSIFIERS:
        err = nl.batch([filter_request(kind, a, b, f"stitch #{a} to #{b} ({kind})")])[0]
        if err is None:
            _classifier = kind
            return kind
        if err.errno not in _UNSUPPORTED:
            raise err
        refused.append(f"{kind}: {err.message}")
    raise KernelError(
        f"stitch #{a} and #{b} in {nl.label}", errno.EOPNOTSUPP,
        detail="no classifier accepted: " + "; ".join(refused),
        hint="this kernel needs cls_matchall, cls_flower or cls_u32, and act_mirred",
    )


def stitch(nl: Netlink, a: int, b: int) -> str:
    """Join two devices of nl's namespace both ways: an ingress qdisc on each, and a
    match-all classifier with a mirred egress redirect to the other. Returns the
    classifier used ("matchall", "flower" or "u32"). Idempotent."""
    global _classifier
    if a == b:
        raise ValueError(f"cannot stitch device #{a} to itself")
    _ingress(nl, (a, b))
    kind = _classifier
    if kind is None:
        with _probe_lock:
            kind = _classifier
            if kind is None:
                # a stitch made by an earlier process (a device that survived a repair):
                # the kernel refuses a filter of another kind at its priority, so keep its
                # kind (the kernel accepted it) instead of probing on it
                kind = _classifier = _existing(nl, a) or _existing(nl, b)
            if kind is None:
                kind = _probe(nl, a, b)
                err = nl.batch([filter_request(kind, b, a, f"stitch #{b} to #{a} ({kind})")])[0]
                if err is not None:
                    raise err
                return kind
    for err in nl.batch([filter_request(kind, a, b, f"stitch #{a} to #{b} ({kind})"),
                         filter_request(kind, b, a, f"stitch #{b} to #{a} ({kind})")]):
        if err is not None:
            raise err
    return kind


def _has_mirred(kind: str, options: bytes) -> bool:
    act_attr = _ACT_ATTR.get(kind)
    if act_attr is None:
        return False
    opts = _msg.attrs(options, 0, len(options))
    actions = opts.get(act_attr)
    if actions is None:
        return False
    for act in _msg.attrs(actions, 0, len(actions)).values():
        fields = _msg.attrs(act, 0, len(act))
        if fields.get(TCA_ACT_KIND, b"").split(b"\0", 1)[0] == b"mirred":
            return True
    return False


def stitched(nl: Netlink, index: int) -> bool:
    """Is there an ingress filter with a mirred action on device ``index`` of nl's
    namespace? (One DUMP_INTR-safe filter dump; for drift checks.)"""
    return _existing(nl, index) is not None


def _existing(nl: Netlink, index: int) -> str | None:
    """The classifier of an ingress filter with a mirred action on device ``index``."""
    what = f"list ingress filters of #{index} in {nl.label}"
    for raw in nl.dump_raw(tcmsg(index, 0, TC_H_INGRESS), RTM_GETTFILTER, what):
        top = _msg.attrs(raw, 16 + _TCMSG.size, len(raw))
        kind = top.get(TCA_KIND, b"").split(b"\0", 1)[0].decode(errors="replace")
        options = top.get(TCA_OPTIONS)
        if options is not None and _has_mirred(kind, options):
            return kind
    return None
