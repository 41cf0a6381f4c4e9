"""``kind: netns``: a network namespace of its own, on netknit's built-in runtime (the
default kind: no image needed; ``cmd`` runs inside, supervised)."""

from __future__ import annotations

from ._base import NodeKind

KIND = NodeKind("netns", runtime="netns")
