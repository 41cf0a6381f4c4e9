"""``kind: netns``: a network namespace of its own, on netknit's built-in runtime (the
default kind: no image needed; ``cmd`` runs inside, supervised)."""

from __future__ import annotations

from types import MappingProxyType

from ._base import NodeKind

#: Its own mount namespace: binds (containerlab's syntax) and private directories.
FIELDS = MappingProxyType({"binds": "binds", "private_dirs": "private-dirs"})

KIND = NodeKind("netns", runtime="netns", fields=FIELDS)
