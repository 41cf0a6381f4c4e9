"""`netknit graph`'s pure parts: the model as graph data, link and node states from
inspect's view, --node-filter, the exports (snapshots), the page's template fields and
the one-file page; and the page's HTTP server on loopback with a scripted sampler."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from netknit._errors import UsageError
from netknit.engine import IfaceView, LabView, NodeView
from netknit.graph import (
    dot,
    drawio,
    graph_data,
    mermaid,
    offline_html,
    only_nodes,
    render,
)
from netknit.graph._server import Snapshots, make_server, parse_srv
from netknit.topology import Topology, loads

SNAPSHOTS = Path(__file__).parent / "snapshots"

LAB = dedent("""
    name: fabric
    topology:
      nodes:
        spine1: {kind: netns, group: spine, labels: {graph-posX: "200", graph-posY: "20"}}
        leaf1: {kind: netns, group: leaf}
        leaf2: {kind: netns, group: leaf}
        br-srv: {kind: bridge}
        srv1: {kind: netns}
      links:
        - endpoints: ["spine1:eth1", "leaf1:eth1"]
          ipv4: ["10.0.1.0/31", "10.0.1.1/31"]
        - endpoints: ["spine1:eth2", "leaf2:eth1"]
        - endpoints: ["spine1:eth3", "leaf2:eth2"]
        - endpoints: ["leaf1:eth2", "br-srv:br-leaf1"]
        - endpoints: ["srv1:eth1", "br-srv:br-srv1"]
          ipv4: ["192.168.0.10/24", ""]
        - type: host
          endpoint: {node: srv1, interface: eth2}
          host-interface: srv1-up
""")


@pytest.fixture(scope="module")
def topo() -> Topology:
    return dataclasses.replace(loads(LAB, filename="fabric.clab.yml"),
                               path=Path("/labs/fabric.clab.yml"))


def test_graph_data_from_the_file_alone(topo: Topology) -> None:
    data = graph_data(topo)
    assert data["name"] == "fabric" and data["live"] is False and data["deployed"] is False
    assert [n["name"] for n in data["nodes"]] == ["br-srv", "leaf1", "leaf2", "spine1", "srv1"]
    nodes = {n["name"]: n for n in data["nodes"]}
    # containerlab's keys, its N/A where nothing is known
    assert nodes["leaf1"]["kind"] == "netns" and nodes["leaf1"]["group"] == "leaf"
    assert nodes["leaf1"]["state"] == nodes["leaf1"]["ipv4_address"] == "N/A"
    # grouped by group, else kind; placed by graph-posX/graph-posY where given
    assert nodes["srv1"]["graph_group"] == "netns" and nodes["br-srv"]["graph_group"] == "bridge"
    assert (nodes["spine1"]["x"], nodes["spine1"]["y"]) == (200.0, 20.0)
    assert nodes["leaf1"]["x"] is None
    assert nodes["leaf1"]["container"] == "clab-fabric-leaf1"
    # the file's interfaces and addresses, before any deploy
    assert [(i["name"], i["addresses"]) for i in nodes["srv1"]["interfaces"]] == \
        [("eth1", ["192.168.0.10/24"]), ("eth2", [])]
    # point-to-point links only (as containerlab), labelled with their interfaces
    assert [(ln["source"], ln["source_endpoint"], ln["target"], ln["target_endpoint"])
            for ln in data["links"]] == [
        ("spine1", "eth1", "leaf1", "eth1"), ("spine1", "eth2", "leaf2", "eth1"),
        ("spine1", "eth3", "leaf2", "eth2"), ("leaf1", "eth2", "br-srv", "br-leaf1"),
        ("srv1", "eth1", "br-srv", "br-srv1")]
    assert {ln["state"] for ln in data["links"]} == {"N/A"}


def _iface(name: str, state: str = "up", drift: list[str] | None = None) -> IfaceView:
    return IfaceView(name, "02:00:00:00:00:01", 1500, [], "", state, drift or [],
                     operstate=state)


def _view(ends: dict[str, list[IfaceView]], states: dict[str, str] | None = None) -> LabView:
    nodes = [NodeView(name, "netns", f"clab-fabric-{name}", (states or {}).get(name, "running"),
                      "-", ifaces) for name, ifaces in ends.items()]
    return LabView("fabric", "/labs/clab-fabric", True, nodes)


def _states(data: dict[str, Any]) -> dict[str, str]:
    return {f"{ln['source']}:{ln['source_endpoint']}": ln["state"] for ln in data["links"]}


def test_link_states_follow_inspect(topo: Topology) -> None:
    view = _view({
        "spine1": [_iface("eth1"), _iface("eth2", "down", ["down"]),
                   _iface("eth3", drift=["mtu 9000"])],
        "leaf1": [_iface("eth1"), _iface("eth2", drift=["no carrier (peer down)"])],
        "leaf2": [_iface("eth1"), _iface("eth2")],
        "br-srv": [_iface("br-leaf1", "missing", ["missing"])],
        "srv1": [_iface("eth1", "parked")],
    }, states={"srv1": "stopped"})
    data = graph_data(topo, view)
    assert data["live"] and data["deployed"]
    assert _states(data) == {"spine1:eth1": "up", "spine1:eth2": "down",
                             "spine1:eth3": "drifted", "leaf1:eth2": "down",
                             "srv1:eth1": "stopped"}
    link = next(ln for ln in data["links"] if ln["source_endpoint"] == "eth3")
    assert link["drift"] == ["spine1:eth3 mtu 9000"]
    nodes = {n["name"]: n for n in data["nodes"]}
    assert nodes["srv1"]["state"] == "stopped" and nodes["leaf1"]["state"] == "running"
    assert nodes["spine1"]["interfaces"][0]["mac"] == "02:00:00:00:00:01"
    # while a repair runs, what differs is being repaired; the rest stays as it is
    repairing = _states(graph_data(topo, view, repairing=True))
    assert repairing == {"spine1:eth1": "up", "spine1:eth2": "repairing",
                         "spine1:eth3": "repairing", "leaf1:eth2": "repairing",
                         "srv1:eth1": "stopped"}


def test_a_lab_not_deployed_is_drawn_from_its_file(topo: Topology) -> None:
    data = graph_data(topo, LabView("fabric", "/labs/clab-fabric", False, []))
    assert data["live"] and not data["deployed"]
    assert {n["state"] for n in data["nodes"]} == {"N/A"}
    assert {ln["state"] for ln in data["links"]} == {"N/A"}


def test_node_filter_keeps_the_links_between_kept_nodes(topo: Topology) -> None:
    data = only_nodes(graph_data(topo), ["spine1", "leaf2"])
    assert [n["name"] for n in data["nodes"]] == ["leaf2", "spine1"]
    assert [ln["target_endpoint"] for ln in data["links"]] == ["eth1", "eth2"]
    with pytest.raises(UsageError, match="no node 'nope'"):
        only_nodes(graph_data(topo), ["spine1", "nope"])


# -- exports: snapshots ----------------------------------------------------------------------
# regenerate after a deliberate change: NETKNIT_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_graph.py


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("NETKNIT_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text()


def test_mermaid_snapshot(topo: Topology) -> None:
    _snapshot("fabric.mermaid", mermaid(graph_data(topo)))
    assert mermaid(graph_data(topo), "LR").splitlines()[3] == "graph LR"


def test_dot_snapshot(topo: Topology) -> None:
    _snapshot("fabric.dot", dot(graph_data(topo), "fabric.clab"))


def test_drawio_snapshot_is_valid_xml_with_every_node_and_link(topo: Topology) -> None:
    data = graph_data(topo)
    text = drawio(data)
    _snapshot("fabric.drawio", text)
    root = ET.fromstring(text)
    assert root.tag == "mxfile"
    cells = root.findall("./diagram/mxGraphModel/root/mxCell")
    vertices = {c.get("value"): c for c in cells if c.get("vertex") and c.get("parent") == "1"}
    assert sorted(vertices) == sorted(n["name"] for n in data["nodes"])
    spine = vertices["spine1"].find("mxGeometry")
    assert spine is not None and (spine.get("x"), spine.get("y")) == ("200", "20")
    ids = {c.get("id"): c.get("value") for c in cells}
    edges = [c for c in cells if c.get("edge") == "1"]
    assert [(ids[e.get("source")], ids[e.get("target")]) for e in edges] == \
        [(ln["source"], ln["target"]) for ln in data["links"]]
    labels = {(c.get("parent"), c.get("value")) for c in cells if "edgeLabel" in
              (c.get("style") or "")}
    assert ("link-0", "eth1") in labels and ("link-4", "br-srv1") in labels


# -- the page ---------------------------------------------------------------------------------


def test_template_fields_as_containerlab_fills_them(topo: Topology) -> None:
    data = {**graph_data(topo), "name": "a<b"}
    page = render("<title>{{ .Name }}</title><script>var d = '{{ .Data }}';"
                  "var o = {{.Data}};</script>", data)
    assert "<title>a&lt;b</title>" in page
    quoted = page.split("var d = ")[1].split(";var o")[0]
    assert json.loads(json.loads(quoted)) == data  # a JSON string, as containerlab's
    raw = page.split("var o = ")[1].rsplit(";</script>")[0]
    assert json.loads(raw) == data and "<b" not in raw  # no "</script>" can close it


def test_offline_page_is_one_file(topo: Topology) -> None:
    page = offline_html(graph_data(topo))
    assert 'src="' not in page and "href=\"static" not in page
    assert "forceSimulation" in page and "window.NETKNIT_GRAPH = {" in page  # d3, data
    assert page.count("<script") == page.count("</script>") == 3


# -- the server -------------------------------------------------------------------------------


class Scripted:
    """A sampler whose data the test changes."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __call__(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.data))


@pytest.fixture
def served(topo: Topology) -> Iterator[tuple[str, Scripted]]:
    sample = Scripted(graph_data(topo, _view({"spine1": [_iface("eth1")],
                                              "leaf1": [_iface("eth1")]})))
    snapshots = Snapshots(sample, period=0.05)
    server = make_server("127.0.0.1:0", snapshots, template="<h1>{{ .Name }}</h1>")
    snapshots.start()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", sample
    snapshots.stop()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_server_serves_page_files_and_data(served: tuple[str, Scripted]) -> None:
    base, _ = served
    assert _get(base + "/") == (200, b"<h1>fabric</h1>")
    status, body = _get(base + "/static/d3.min.js")
    assert status == 200 and b"forceSimulation" in body
    assert _get(base + "/static/d3.LICENSE.txt")[0] == 200
    status, body = _get(base + "/data.json")
    assert status == 200 and json.loads(body)["name"] == "fabric"
    for bad in ("/static/../_server.py", "/static/", "/static/index.html", "/nope"):
        assert _get(base + bad)[0] == 404, bad


def test_events_stream_sends_the_data_and_each_change(served: tuple[str, Scripted]) -> None:
    base, sample = served
    with urllib.request.urlopen(base + "/events", timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"

        def next_data() -> dict[str, Any]:
            while True:
                line = stream.readline()
                assert line, "stream ended"
                if line.startswith(b"data: "):
                    return dict(json.loads(line[6:]))

        first = next_data()
        assert _states(first)["spine1:eth1"] == "up"
        sample.data = {**sample.data, "links": [{**ln, "state": "down"}
                                                for ln in sample.data["links"]]}
        assert _states(next_data())["spine1:eth1"] == "down"


def test_srv_address() -> None:
    assert parse_srv("127.0.0.1:50080") == ("127.0.0.1", 50080)
    assert parse_srv(":3002") == ("127.0.0.1", 3002)  # containerlab: every address
    assert parse_srv("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_srv("[::1]:8080") == ("::1", 8080)
    for bad in ("50080", "host:", "h:99999"):
        with pytest.raises(UsageError, match="not host:port"):
            parse_srv(bad)


def test_a_failing_look_keeps_the_last_data_and_says_why(topo: Topology) -> None:
    calls = {"n": 0}

    def sample() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("state file being replaced")
        return graph_data(topo)

    snapshots = Snapshots(sample, period=0.01)
    first = snapshots.version
    snapshots.start()
    try:
        version, text = snapshots.newer(first, 10)
        assert text is not None and json.loads(text)["error"] == "state file being replaced"
        assert json.loads(text)["nodes"] == graph_data(topo)["nodes"]
        _, text = snapshots.newer(version, 10)  # the next look works again
        assert text is not None and "error" not in json.loads(text)
    finally:
        snapshots.stop()


def test_repair_running_reads_the_lock_without_taking_it(tmp_path: Path) -> None:
    from netknit.graph._live import repair_running
    from netknit.state import LabDir

    lab_dir = LabDir(tmp_path / "clab-t")
    assert not repair_running(lab_dir.path)  # no lab directory
    with lab_dir.lock("t", "reconcile", create=True):
        assert repair_running(lab_dir.path)
        assert repair_running(lab_dir.path)  # looking twice did not take the lock
    assert not repair_running(lab_dir.path)  # released: its note stays, no lock
    with lab_dir.lock("t", "deploy"):
        assert not repair_running(lab_dir.path)  # a deploy is no repair


def test_static_dir_serves_its_files_only(tmp_path: Path, topo: Topology) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.js").write_text("draw()")
    (tmp_path / "secret.txt").write_text("no")
    snapshots = Snapshots(lambda: graph_data(topo))
    server = make_server("127.0.0.1:0", snapshots, static_dir=tmp_path / "static",
                         template="<script>var data = '{{ .Data }}'</script>")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert _get(base + "/static/app.js") == (200, b"draw()")
        for bad in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/",
                    "/static/d3.min.js"):
            assert _get(base + bad)[0] == 404, bad
        status, page = _get(base + "/")
        assert status == 200 and b"var data = \"{" in page  # containerlab's quoted field
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
