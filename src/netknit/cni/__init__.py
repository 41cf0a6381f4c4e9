"""netknit as a CNI plugin (``netknit-cni``) and its config installer.

- ``type: netknit-host-device`` moves a host interface into the container under
  CNI_IFNAME, never visible under a temporary name on either side, and back on DEL
  (the host sees only its own name; the container, letting it go, sees it renamed to
  that name, down, as it leaves).
- ``type: netknit`` runs delegate networks in order (reverse for DEL), rolling back on
  failure; its config can never delegate to itself.
- :func:`netknit.cni.install.run` (``netknit cni-install``) writes ``00-netknit.conflist``
  around the primary network's config, atomically, and never reads its own output.

A CNI plugin is a process per call, so this package imports nothing heavy: no pyroute2,
pydantic, click or rich on the plugin's path. CNI finds a plugin by its ``type``, so the
same program is installed under the names ``netknit-host-device`` and ``netknit`` too
(:func:`netknit.cni.install.install_binaries`); it dispatches on the config's type.
"""

from __future__ import annotations


def main() -> int:
    """Console script ``netknit-cni``: one CNI call."""
    from ._plugin import main as _main

    return _main()

__all__ = ["main"]
