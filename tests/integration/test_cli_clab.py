"""The CLI as a containerlab user's scripts drive it: `inspect` (json, csv, table,
--all, --name, --details, --wide), `inspect interfaces`, `exec` (--label, repeated --cmd,
-f json, exit status), the global flags, the aliases, `-t -`, `version`, `completion`.

Every test runs `netknit` as a separate process against real labs on the kernel, and
parses JSON and CSV with the exact keys containerlab prints."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from .conftest import Lab, netknit, run_cli

#: containerlab's keys of one inspect row, in its order (types.ContainerDetails)
ROW_KEYS = ["lab_name", "labPath", "absLabPath", "name", "container_id", "image", "kind",
            "state", "status", "ipv4_address", "ipv6_address", "owner"]
#: containerlab's keys of one interface (types.ContainerInterfaceDetails)
IFACE_KEYS = ["name", "alias", "mac", "ifindex", "mtu", "type", "state"]

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns, labels: {role: edge, site: one}}
    b: {kind: netns, cmd: "sleep 3600", labels: {role: core}}
    c: {kind: netns, group: spine}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: [10.61.0.1/24, 10.61.0.2/24]
    - endpoints: ["c:eth1", "brTAG:pTAG-c"]
      ipv4: [10.61.1.3/24, ""]
"""


def deploy(lab: Lab, text: str = LAB, filename: str = "lab.clab.yml") -> Path:
    topo = lab.write(text, filename)
    done = run_cli("deploy", "-t", str(topo), "--quiet")
    assert done.returncode == 0, done.stderr
    return topo


def as_json(*args: str, cwd: Path | None = None) -> Any:
    done = run_cli(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_inspect_prints_containerlabs_rows_as_json_csv_and_table(lab: Lab) -> None:
    topo = deploy(lab)
    shown = as_json("inspect", "-t", str(topo), "-f", "json", cwd=lab.dir)
    assert list(shown) == [lab.name]
    rows = shown[lab.name]
    # one row per node with a namespace of its own (the bridge has none), sorted by name
    assert [r["name"] for r in rows] == [f"clab-{lab.name}-{n}" for n in "abc"]
    for row in rows:
        assert [k for k in row if k != "group"] == ROW_KEYS, row
        assert row["lab_name"] == lab.name and row["kind"] == "netns"
        assert row["labPath"] == "lab.clab.yml" and row["absLabPath"] == str(topo)
        assert row["state"] == "running"
        assert row["ipv4_address"] == row["ipv6_address"] == "N/A"  # no management network
        assert row["container_id"] == row["image"] == ""  # a namespace, no container
    by_name = {r["name"].rsplit("-", 1)[1]: r for r in rows}
    assert by_name["b"]["status"] == "cmd running" and by_name["a"]["status"] == ""
    assert by_name["c"]["group"] == "spine" and "group" not in by_name["a"]  # omitempty
    # the aliases, and the topology as argument or found in the current directory
    for args in (["ins", "-t", str(topo)], ["i", str(topo)], ["inspect"]):
        assert as_json(*args, "-f", "json", cwd=lab.dir) == shown, args
    # CSV: containerlab's header, one line per row
    text = run_cli("inspect", "-t", str(topo), "-f", "csv", cwd=lab.dir).stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(ROW_KEYS)
    assert [{k: r[k] for k in ROW_KEYS} for r in parsed] == [
        {k: r.get(k, "") for k in ROW_KEYS} for r in rows]
    # the table: containerlab's columns; --wide adds the owner, one line per node
    table = run_cli("inspect", "-t", str(topo)).stdout
    for word in ("Name", "Kind/Image", "State", "IPv4/6 Address", f"clab-{lab.name}-a"):
        assert word in table
    wide = run_cli("inspect", "-t", str(topo), "--wide").stdout
    assert "Owner" in wide and "running (cmd running)" in wide
    # --details: the rows with netknit's view of each node (grouped by lab)
    details = as_json("inspect", "-t", str(topo), "--details")[lab.name]
    a = next(d for d in details if d["node"] == "a")
    assert a["labels"]["role"] == "edge" and a["labels"]["clab-node-name"] == "a"
    assert [i["name"] for i in a["interfaces"]] == ["eth1"]
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    # not deployed: what containerlab prints for no containers
    assert run_cli("inspect", "-t", str(topo), "-f", "json").stdout.strip() == "{}"
    assert run_cli("inspect", "-t", str(topo), "-f", "csv").stdout.strip() == ",".join(ROW_KEYS)


def test_inspect_all_and_name_find_labs_by_their_marks(lab: Lab, tmp_path: Path) -> None:
    first = deploy(lab)
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    second_name = f"{lab.name}x"
    second = other_dir / "two.clab.yml"
    second.write_text(f"name: {second_name}\ntopology:\n  nodes:\n    z: {{kind: netns}}\n")
    assert run_cli("deploy", "-t", str(second), "--quiet").returncode == 0
    # a namespace named like a lab's node, without its mark, is nobody's lab
    fake = f"clab-{lab.name}y-q"
    subprocess.run(["ip", "netns", "add", fake], check=True)
    try:
        every = as_json("inspect", "--all", "-f", "json", cwd=Path("/"))
        assert [r["name"] for r in every[lab.name]] == [f"clab-{lab.name}-{n}" for n in "abc"]
        assert [r["absLabPath"] for r in every[second_name]] == [str(second)]
        assert f"{lab.name}y" not in every  # other labs deployed meanwhile may be there
        table = run_cli("inspect", "-a", cwd=Path("/")).stdout
        assert "Topology" in table and "Lab Name" in table and second_name in table
        # --name: that lab's rows only, from anywhere, before or after the command
        named = as_json("inspect", "--name", second_name, "-f", "json", cwd=Path("/"))
        assert named == {second_name: every[second_name]}
        assert as_json("--name", lab.name, "inspect", "-f", "json", cwd=Path("/")) == {
            lab.name: every[lab.name]}
        # a destroyed lab is gone from --all (its note goes with it)
        assert run_cli("destroy", "--name", second_name, cwd=Path("/")).returncode == 0
        assert second_name not in as_json("inspect", "--all", "-f", "json")
        missing = run_cli("exec", "--name", second_name, "--cmd", "true", cwd=Path("/"))
        assert missing.returncode == 1 and "no node matches" in missing.stderr
    finally:
        subprocess.run(["ip", "netns", "del", fake], check=True)
    assert run_cli("destroy", "-t", str(first)).returncode == 0


def test_inspect_interfaces_is_a_subcommand_with_containerlabs_shape_and_drift(
        lab: Lab) -> None:
    topo = deploy(lab)
    for args in (["inspect", "interfaces"], ["inspect", "int"], ["i", "intf"],
                 ["inspect", "-t", str(topo), "interfaces"]):
        shown = run_cli(*args, "-f", "json", cwd=lab.dir)  # cwd: the topology is found
        assert shown.returncode == 0, (args, shown.stderr)
    view = json.loads(shown.stdout)
    assert [n["name"] for n in view] == sorted(n["name"] for n in view)
    a = next(n for n in view if n["name"] == f"clab-{lab.name}-a")
    assert a["node"] == "a" and a["state"] == "running" and a["drift"] == []
    ifaces = {i["name"]: i for i in a["interfaces"]}
    assert set(ifaces) == {"lo", "eth1"}  # every interface of the namespace
    assert [k for k in ifaces["eth1"]][:len(IFACE_KEYS)] == IFACE_KEYS
    eth1 = ifaces["eth1"]
    assert (eth1["type"], eth1["state"], eth1["mtu"], eth1["managed"]) == ("veth", "up", 9500,
                                                                            True)
    assert eth1["addresses"] == ["10.61.0.1/24"] and eth1["peer"] == "b:eth1"
    assert eth1["ifindex"] > 0 and eth1["drift"] == []
    assert not ifaces["lo"]["managed"] and ifaces["lo"]["state"] == "unknown"
    # -n: one node, by its name or its container's
    for node in ("b", f"clab-{lab.name}-b"):
        only = as_json("inspect", "interfaces", "-t", str(topo), "-n", node, "-f", "json")
        assert [n["node"] for n in only] == ["b"]
    # drift, as the fault tests read it
    ns = f"clab-{lab.name}-a"
    subprocess.run(["ip", "-n", ns, "addr", "del", "10.61.0.1/24", "dev", "eth1"], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth1", "mtu", "1400"], check=True)
    again = as_json("inspect", "interfaces", "-t", str(topo), "-n", "a", "-f", "json")
    eth1 = next(i for i in again[0]["interfaces"] if i["name"] == "eth1")
    assert eth1["drift"] == ["mtu 1400", "no 10.61.0.1/24"]
    table = run_cli("inspect", "interfaces", "-t", str(topo)).stdout
    for word in ("Container Name", "Alias", "Index", "Type", "mtu 1400"):
        assert word in table
    assert run_cli("destroy", "-t", str(topo)).returncode == 0


def test_exec_labels_repeated_cmds_json_and_exit_status(lab: Lab) -> None:
    topo = deploy(lab)
    done = run_cli("exec", "-t", str(topo), "--label", "role", "--cmd", "ip -j addr show eth1",
                   "--cmd", "sh -c 'echo out; echo err >&2; exit 3'", "--cmd", "echo last",
                   "-f", "json")
    assert done.returncode == 3, done.stderr  # the first failing command's status
    out = json.loads(done.stdout)
    assert list(out) == [f"clab-{lab.name}-a", f"clab-{lab.name}-b"]  # c has no role
    for results in out.values():
        assert [list(r) for r in results] == [["cmd", "return-code", "stdout", "stderr"]] * 3
        assert [r["cmd"] for r in results] == [
            ["ip", "-j", "addr", "show", "eth1"],
            ["sh", "-c", "echo out; echo err >&2; exit 3"], ["echo", "last"]]
        assert [r["return-code"] for r in results] == [0, 3, 0]
        # JSON output stays JSON, as containerlab's Stdout marshals it
        assert results[0]["stdout"][0]["ifname"] == "eth1"
        assert (results[1]["stdout"], results[1]["stderr"]) == ("out\n", "err\n")
        assert results[2]["stdout"] == "last\n"
    # labels: KEY=VALUE, a comma list, containerlab's own labels, repeated (all must hold)
    picks = {
        ("--label", "role=edge"): ["a"],
        ("--label", "role=core,site=one"): [],
        ("--label", "clab-node-name=c"): ["c"],
        ("--label", f"containerlab={lab.name}", "--label", "role=core"): ["b"],
    }
    for args, nodes in picks.items():
        shown = run_cli("exec", "-t", str(topo), *args, "--cmd", "true", "-f", "json")
        if not nodes:
            assert shown.returncode == 1 and "no node matches" in shown.stderr
            continue
        assert shown.returncode == 0, shown.stderr
        assert list(json.loads(shown.stdout)) == [f"clab-{lab.name}-{n}" for n in nodes]
    # -t optional: the file of the current directory; elsewhere, every lab here
    here = run_cli("exec", "--label", "role=edge", "--cmd", "ping -c1 -W2 10.61.0.2",
                   cwd=lab.dir)
    assert here.returncode == 0 and "1 received" in here.stdout, here.stderr
    anywhere = as_json("exec", "--label", f"containerlab={lab.name}", "--label",
                       "clab-node-name=b", "--cmd", "echo hi", "-f", "json", cwd=Path("/"))
    assert anywhere == {f"clab-{lab.name}-b": [
        {"cmd": ["echo", "hi"], "return-code": 0, "stdout": "hi\n", "stderr": ""}]}
    # plain: one command's output as it is (stdout and stderr as the node wrote them)
    plain = run_cli("exec", "-t", str(topo), "--node", "a", "--cmd", "sh -c 'echo o; echo e >&2'")
    assert plain.stdout == "o\ne\n"
    # the global --timeout ends a command that takes longer
    started = time.monotonic()
    slow = run_cli("exec", "-t", str(topo), "--node", "a", "--timeout", "1s", "--", "sleep", "30")
    assert slow.returncode == 124 and time.monotonic() - started < 20
    assert run_cli("exec", "-t", str(topo), "--node", "a").returncode == 2  # no command
    assert run_cli("destroy", "-t", str(topo)).returncode == 0


def test_global_flags_aliases_and_topology_from_stdin(lab: Lab) -> None:
    topo = lab.write(LAB)
    # dep / des, and --name instead of the file's name (after the command, as containerlab)
    other = f"{lab.name}n"
    done = run_cli("dep", "-t", str(topo), "--name", other, "--quiet")
    assert done.returncode == 0, done.stderr
    assert Path(f"/run/netns/clab-{other}-a").exists()
    assert not Path(f"/run/netns/clab-{lab.name}-a").exists()
    assert list(as_json("inspect", "--name", other, "-f", "json", cwd=Path("/"))) == [other]
    assert run_cli("des", "-t", str(topo), "--name", other).returncode == 0
    assert not Path(f"/run/netns/clab-{other}-a").exists()
    # -t -: the topology on stdin, the same text twice is the same lab
    text = topo.read_text()
    piped = [subprocess.run([*cmd], input=text, capture_output=True, text=True, check=False)
             for cmd in ([*netknit(), "deploy", "-t", "-", "--quiet"],
                         [*netknit(), "deploy", "-t", "stdin", "--quiet"])]
    assert [p.returncode for p in piped] == [0, 0], [p.stderr for p in piped]
    assert "already deployed" in piped[1].stderr
    rows = json.loads(subprocess.run([*netknit(), "inspect", "-t", "-", "-f", "json"],
                                     input=text, capture_output=True, text=True,
                                     check=True).stdout)[lab.name]
    assert rows[0]["absLabPath"].startswith("/tmp/.clab/topo-")
    gone = subprocess.run([*netknit(), "destroy", "-t", "-", "--cleanup"], input=text,
                          capture_output=True, text=True, check=False)
    assert gone.returncode == 0, gone.stderr
    assert not Path(f"/run/netns/clab-{lab.name}-a").exists()
    Path(rows[0]["absLabPath"]).unlink()  # the kept copy of stdin: the test's own
    # --timeout takes containerlab's durations; --log-level hides notes
    assert run_cli("--timeout", "2m30s", "version", "-s").stdout.strip()
    bad = run_cli("inspect", "-t", str(topo), "--timeout", "0s")
    assert bad.returncode == 2 and "zero or negative" in bad.stderr
    quiet = run_cli("inspect", "-t", str(topo), "--log-level", "warning")
    assert quiet.returncode == 0 and "note:" not in quiet.stderr
    assert "not deployed" in run_cli("inspect", "-t", str(topo)).stderr


def test_version_completion_and_help() -> None:
    info = json.loads(run_cli("version", "-j").stdout)
    assert list(info) == ["version", "commit", "date", "repository"]
    assert run_cli("version", "--short").stdout.strip() == info["version"]
    assert "version: " + info["version"] in run_cli("version").stdout
    for shell, marker in (("bash", "complete "), ("zsh", "#compdef netknit"),
                          ("fish", "complete ")):
        script = run_cli("completion", shell)
        assert script.returncode == 0 and marker in script.stdout, shell
    bash = run_cli("completion", "bash").stdout
    assert subprocess.run(["bash", "-n"], input=bash, text=True).returncode == 0
    assert run_cli("completion", "tcsh").returncode == 2
    helped = run_cli("--help").stdout
    for command in ("deploy (dep)", "destroy (des)", "inspect (ins, i)", "exec", "version",
                    "completion"):
        assert command in helped
    assert helped.count("e.g. netknit") >= 10  # an example under each command
    # rdep names redeploy once it exists; until then it is an unknown command
    rdep = run_cli("rdep", "--help")
    assert (rdep.returncode == 0) == ("redeploy" in helped), rdep.stderr


def notes_of(name: str) -> list[dict[str, str]]:
    """The notes deploys left for the lab called ``name`` (what --all explains marks by)."""
    found = []
    for path in Path("/run/netknit/labs").glob("*.json"):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # another test's, going away meanwhile
        if note.get("lab") == name:
            found.append(note)
    return found


def test_the_note_lives_as_long_as_the_lab(lab: Lab) -> None:
    topo = deploy(lab)
    # the file's digest: destroy knows the lab by it while the file is unchanged
    digest = hashlib.sha256(topo.read_bytes()).hexdigest()
    assert notes_of(lab.name) == [{"lab": lab.name, "lab_dir": str(lab.dir / f"clab-{lab.name}"),
                                   "topology": str(topo), "owner": notes_of(lab.name)[0]["owner"],
                                   "source_sha256": digest}]
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    assert notes_of(lab.name) == []
    # a deploy that fails half-way removes what it made, its note too
    failing = lab.write(LAB.replace("c: {kind: netns, group: spine}",
                                    'c: {kind: netns, group: spine, stages: {create-links: '
                                    '{exec: {on-enter: ["false"]}}}}'), "failing.clab.yml")
    failed = run_cli("deploy", "-t", str(failing))
    assert failed.returncode == 1, failed.stderr
    assert notes_of(lab.name) == [] and lab.leftovers() == []
    assert lab.name not in as_json("inspect", "--all", "-f", "json")


def test_containerlabs_other_deploy_and_destroy_flags(lab: Lab, tmp_path: Path) -> None:
    """A containerlab script's flags run: `-g` writes the dot graph where containerlab
    does, `--export-rendered` the file with its variables expanded, `--skip-labdir-acl`
    is taken, and so is destroy's `--max-workers` (its bound on removals at once); the
    flags netknit cannot honour (`--owner`, `--restore-all`, `--restore`,
    `--export-template`, global `-r podman`, `--vars`) are taken with a warning each,
    never refused."""
    text = LAB.replace("10.61.0.1/24", "${NK_TEST_ADDR:=10.61.0.1/24}")
    topo = lab.write(text)
    rendered = tmp_path / "rendered.clab.yml"
    done = run_cli("deploy", "-t", str(topo), "-g", "--export-rendered", str(rendered),
                   "--skip-labdir-acl", "--owner", "someone", "--restore-all",
                   "--restore", "a=snap.tar", "--export-template", "t.tmpl", "--quiet")
    assert done.returncode == 0, done.stderr
    for flag in ("--owner", "--restore-all", "--restore", "--export-template"):
        assert f"warning: {flag} is ignored" in done.stderr, flag
    assert "10.61.0.1/24" in rendered.read_text() and "${" not in rendered.read_text()
    dot = (lab.dir / f"clab-{lab.name}" / "graph" / f"{topo.name.rsplit('.', 1)[0]}.dot")
    drawn = dot.read_text()
    assert all(f'"{node}"' in drawn for node in ("a", "b", "c")), drawn
    gone = run_cli("destroy", "-t", str(topo), "--max-workers", "4", "-r", "podman",
                   "--vars", "vars.yml")
    assert gone.returncode == 0, gone.stderr
    for flag in ("--runtime podman", "--vars"):
        assert f"warning: {flag} is ignored" in gone.stderr, flag
    assert "--max-workers" not in gone.stderr
    assert f"lab {lab.name!r} destroyed" in gone.stderr
    bad = run_cli("deploy", "-t", str(topo), "-4", "not-a-subnet", "--dry-run")
    assert bad.returncode == 2 and "'not-a-subnet' is not an IPv4 subnet" in bad.stderr


def test_redeploy_runtime_is_deploys(lab: Lab) -> None:
    """`redeploy -r netns` is deploy's --runtime (a `kind: linux` node as a bare
    namespace), not the global containerlab flag destroy takes."""
    topo = lab.write("name: LAB\ntopology:\n  nodes:\n    l: {kind: linux, image: alpine}\n")
    done = run_cli("redeploy", "-t", str(topo), "-r", "netns", "--quiet")
    assert done.returncode == 0, done.stderr
    assert f"clab-{lab.name}-l" in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                   text=True, check=True).stdout
    assert run_cli("destroy", "-t", str(topo), "--cleanup").returncode == 0
