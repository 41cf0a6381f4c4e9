"""``kind: host``: the host namespace itself; its endpoints are host interfaces."""

from __future__ import annotations

from ._base import NodeKind

KIND = NodeKind("host", runtime=None, own_namespace=False)
