"""sha256 and sha1 without ``hashlib``, which loads OpenSSL's libcrypto at import: ~2 ms
of every command, for digests of a few kilobytes at most, which the interpreter's own
modules compute as fast."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha1, sha256
else:
    try:
        from _sha2 import sha256  # Python 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:  # a build without the interpreter's own: OpenSSL's
            from hashlib import sha256
    try:
        from _sha1 import sha1
    except ImportError:
        from hashlib import sha1

__all__ = ["sha1", "sha256"]
