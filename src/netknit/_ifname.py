"""The one check of interface names, shared by the topology loader, the kernel layer and
the CNI plugin.

A leaf module that imports nothing: the CNI plugin is a process per call and checks
``CNI_IFNAME`` on its lean path.

The kernel's rule is ``dev_valid_name()`` (net/core/dev.c): 1 to IFNAMSIZ - 1 bytes, not
``.`` or ``..``, no ``/``, ``:`` or byte its ``isspace()`` takes (space, ``\\t\\n\\v\\f\\r``
and 0xA0). A ``%`` passes that check but makes the name a template (``eth%d`` becomes
``eth0``, any other ``%`` is EINVAL), so the device would not get the name asked for:
refused everywhere. A name netknit gives must also be printable ASCII: 0xA0 hides inside
UTF-8 characters such as ``à``, and tools print other bytes escaped or mangled.
"""

from __future__ import annotations

#: Linux's IFNAMSIZ: 16 bytes including the terminating NUL.
IFNAMSIZ = 16
IFNAME_MAX = IFNAMSIZ - 1

_BAD_CHARS = {
    "/": "'/'",
    ":": "':'",
    "%": "'%'",
    "\0": "a NUL character",
    " ": "a space",
    "\t": "a tab",
    "\n": "a line break",
    "\v": "a vertical tab",
    "\f": "a form feed",
    "\r": "a carriage return",
}


def ifname_error(name: str, *, kernel_only: bool = False) -> str | None:
    """Why ``name`` cannot be an interface name netknit gives, or None if it is fine.

    ``kernel_only``: only what the kernel itself refuses (with ``%``), for looking up a
    device that may exist under a name netknit did not choose.
    """
    if name == "":
        return "interface name is empty"
    if name in (".", ".."):
        return f"interface name '{name}' is not allowed by Linux"
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) > IFNAME_MAX:
        return (f"interface name '{name}' is {len(raw)} bytes long; Linux allows at most "
                f"{IFNAME_MAX}")
    for char in name:
        if char in _BAD_CHARS:
            return (f"interface name {name!r} contains {_BAD_CHARS[char]}, "
                    "which Linux does not allow in interface names")
        if kernel_only:
            continue
        if not char.isascii() or not char.isprintable():
            what = "not ASCII" if not char.isascii() else "a control character"
            return (f"interface name {name!r} contains {char!r}, which is {what}; use ASCII "
                    "letters, digits and punctuation such as '-', '_', '.'")
    if b"\xa0" in raw:  # the kernel's isspace() takes this byte (inside e.g. 'à')
        return (f"interface name {name!r} contains the byte 0xA0, which Linux does not "
                "allow in interface names")
    return None
