"""Image pulls as containerlab makes them (runtime/docker ``PullImage``, core/image.go):
per ``image-pull-policy``, each distinct image once, all of them at once, each bounded in
time, before any object of the lab exists.

The Engine API calls are the Docker runtime's (it hands in ``fetch``); this module is the
policy, the progress by layer bytes and the clock, and it names no SDK.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from .._errors import ImageError, RuntimeFailure
from ._base import Progress

#: Seconds each image pull may take (a registry that does not answer fails after that).
PULL_ENV = "NETKNIT_PULL_TIMEOUT"
DEFAULT_PULL_TIMEOUT = 300.0
#: Words in the Engine's errors that mean no registry answered (dial, DNS, TLS, timeouts).
_UNANSWERED = ("dial tcp", "connection refused", "no such host", "i/o timeout",
               "TLS handshake timeout", "network is unreachable", "no route to host",
               "no answer within", "context deadline exceeded", "server misbehaving")
#: The Engine's per-layer words: a message with another status is not about a layer.
_LAYER_WORDS = ("Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
                "Download complete", "Extracting", "Pull complete", "Already exists",
                "Retrying")


class PullFailed(Exception):
    """One pull failed; ``str`` is the reason as the user should read it."""


#: ``fetch(image, timeout)``: the Engine's progress messages (decoded JSON) of one pull;
#: PullFailed when the Engine refuses it or does not answer within ``timeout`` seconds.
Fetch = Callable[[str, float], Iterator[Mapping[str, Any]]]


def pull_timeout() -> float:
    """NETKNIT_PULL_TIMEOUT, else the default."""
    text = os.environ.get(PULL_ENV, "").strip()
    if not text:
        return DEFAULT_PULL_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise RuntimeFailure(f"{PULL_ENV}={text!r} is not a number of seconds above 0",
                             hint=f"set {PULL_ENV}=SECONDS (default {DEFAULT_PULL_TIMEOUT:.0f}), "
                             "or unset it")
    return seconds


def registry_of(image: str) -> str:
    """The registry Docker asks for ``image``: by Docker's reference rules a first path
    component with a dot or a colon, or ``localhost``, names one; else Docker Hub."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


@dataclass
class Want:
    """An image the lab needs, the nodes that use it, and the policies they ask for."""

    image: str
    nodes: list[str] = field(default_factory=list)
    policies: set[str] = field(default_factory=set)

    @property
    def policy(self) -> str:
        """One pull per image: ``Always`` if a node says so; a node that may pull lets
        the others have the image too."""
        for policy in ("Always", "IfNotPresent"):
            if policy in self.policies:
                return policy
        return "Never"

    @property
    def who(self) -> str:
        return f"node{'s' if len(self.nodes) > 1 else ''} {', '.join(self.nodes)}"


def wants(uses: Iterable[tuple[str, str, str]]) -> list[Want]:
    """The distinct images of ``(image, node, policy)`` uses, in the order first used."""
    out: dict[str, Want] = {}
    for image, node, policy in uses:
        want = out.setdefault(image, Want(image))
        if node not in want.nodes:
            want.nodes.append(node)
        want.policies.add(policy)
    return list(out.values())


def decide(found: Iterable[Want], present: Callable[[str], bool]
           ) -> tuple[list[Want], list[Want]]:
    """Which images to pull, and which are missing with ``Never`` (containerlab's
    PullImage: ``Always`` pulls, ``IfNotPresent`` pulls what is missing)."""
    pull: list[Want] = []
    refused: list[Want] = []
    for want in found:
        if want.policy == "Always":
            pull.append(want)
        elif not present(want.image):
            (pull if want.policy == "IfNotPresent" else refused).append(want)
    return pull, refused


def never_error(refused: list[Want]) -> ImageError:
    listed = "; ".join(f"{w.image} ({w.who})" for w in refused)
    return ImageError(
        f"image not found locally: {listed}; image-pull-policy Never keeps netknit from "
        "pulling it",
        hint="load or build it (`docker load -i FILE`, `docker import`, `docker build`), "
        "or set `image-pull-policy: IfNotPresent` to pull it from its registry")


class Layers:
    """One pull's progress by layer bytes, from the Engine's messages: download bytes
    of the layers whose size is known so far; a layer already there counts as done."""

    def __init__(self) -> None:
        self.size: dict[str, int] = {}
        self.got: dict[str, int] = {}
        self.state: dict[str, str] = {}

    def feed(self, message: Mapping[str, Any]) -> None:
        if message.get("error"):
            raise PullFailed(str(message["error"]).strip())
        status, layer = str(message.get("status", "")), str(message.get("id", ""))
        if not layer or not status.startswith(_LAYER_WORDS):
            return
        self.state[layer] = status
        detail = message.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            self.size[layer] = int(detail["total"])
            self.got[layer] = int(detail.get("current") or 0)
        elif status in ("Verifying Checksum", "Download complete", "Extracting",
                        "Pull complete"):
            self.got[layer] = self.size.get(layer, 0)

    @property
    def status(self) -> str:
        """containerlab's word for the whole image (aggregateProgress)."""
        states = set(self.state.values())
        for word, status in (("Downloading", "downloading"), ("Extracting", "extracting"),
                             ("Verifying Checksum", "verifying"),
                             ("Download complete", "downloaded")):
            if word in states:
                return status
        return "waiting"

    @property
    def done(self) -> int:
        return sum(self.got.values())

    @property
    def total(self) -> int:
        return sum(self.size.values())


class _Pull(threading.Thread):
    """One image's pull, in a thread of its own: the caller's clock stays exact even
    while the Engine says nothing (a registry that does not answer)."""

    def __init__(self, image: str, fetch: Fetch, report: Progress, timeout: float) -> None:
        super().__init__(name=f"pull {image}", daemon=True)
        self.image, self.fetch, self.report, self.timeout = image, fetch, report, timeout
        self.layers = Layers()
        self.error: str | None = None
        self.cancel = threading.Event()
        self.lock = threading.Lock()  # no progress reported once cancelled

    def run(self) -> None:
        messages = self.fetch(self.image, self.timeout)
        try:
            for message in messages:
                self.layers.feed(message)
                with self.lock:
                    if self.cancel.is_set():
                        return  # closing the stream ends the Engine's pull
                    self.report.transfer(self.image, self.layers.status, self.layers.done,
                                         self.layers.total)
        except PullFailed as exc:
            self.error = str(exc)
        except Exception as exc:  # the Engine API's own errors
            self.error = str(exc) or type(exc).__name__
        finally:
            close = getattr(messages, "close", None)
            if close is not None:
                close()


def pull_all(found: list[Want], fetch: Fetch, report: Progress, why: Mapping[str, str]
             ) -> dict[str, str]:
    """Pull every image of ``found`` at once, each within the timeout. Returns the
    failures: image -> reason. ``why`` says, per image, why it is pulled."""
    timeout = pull_timeout()
    started = time.monotonic()
    pulls = [_Pull(w.image, fetch, report, timeout) for w in found]
    for one in pulls:
        report.note(f"pulling {one.image} from {registry_of(one.image)} "
                    f"({why.get(one.image, 'image-pull-policy')})")
        one.start()
    failed: dict[str, str] = {}
    for one in pulls:
        one.join(max(0.0, started + timeout - time.monotonic()))
        if one.is_alive():
            with one.lock:  # it ends by itself: each read from the Engine is bounded too
                one.cancel.set()
            one.error = f"no answer within {timeout:.0f}s ({PULL_ENV})"
        seconds = time.monotonic() - started
        if one.error is not None:
            report.transfer(one.image, "failed", one.layers.done, one.layers.total)
            failed[one.image] = one.error
        else:
            report.transfer(one.image, "done", one.layers.done, one.layers.total)
            n = len(one.layers.size)
            size = f"{n} layer{'s' if n > 1 else ''}, {one.layers.total / 1e6:.1f} MB" \
                if one.layers.total else "nothing new to download"
            report.note(f"pulled {one.image} ({size}, {seconds:.1f}s)")
    return failed


def pull_error(failed: Mapping[str, str], found: list[Want], local: Callable[[str], bool]
               ) -> ImageError:
    """One error for every failed pull: image, registry, nodes, and what to do next."""
    lines = []
    for want in found:
        reason = failed.get(want.image)
        if reason is None:
            continue
        registry = registry_of(want.image)
        answer = f"no answer from registry {registry}" if any(
            w in reason for w in _UNANSWERED) else f"registry {registry} answered"
        head = f"{want.image} ({want.who})" if local(want.image) else \
            f"image not found locally: {want.image} ({want.who})"
        lines.append(f"{head}: {answer}: {reason}")
    always = any(w.policy == "Always" and local(w.image) for w in found if w.image in failed)
    return ImageError(
        f"cannot pull {len(lines)} image{'s' if len(lines) > 1 else ''}:\n  "
        + "\n  ".join(lines),
        hint="check the image's name and that its registry answers (`docker pull IMAGE`); "
        "or load the image (`docker load -i FILE`, `docker import`) or build it, and set "
        "`image-pull-policy: never` so that netknit does not contact a registry"
        + ("; `image-pull-policy: IfNotPresent` uses the local copy" if always else "")
        + f"; {PULL_ENV}=SECONDS bounds each pull (default {DEFAULT_PULL_TIMEOUT:.0f})")
