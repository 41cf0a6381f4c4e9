"""Linux nodes as containerlab makes them: `docker inspect` shows what containerlab's
CreateContainer (runtime/docker/docker.go) would set, for each node field."""

from __future__ import annotations

import os
import resource
import time

from netknit.runtimes.docker import bounded_caps
from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

LAB = f"""
name: LAB
topology:
  defaults:
    env: {{no_proxy: "example.com"}}
  kinds:
    linux: {{image: {IMAGE}, sysctls: {{net.ipv4.ip_forward: 1}}}}
  nodes:
    a:
      kind: linux
      cmd: sh
      labels: {{team.name: blue}}
      hostname: router-a
      ports: ["127.0.0.1:18080:80", "5353:53/udp"]
      cpu: 0.5
      cpu-set: "0"
      memory: 256MB
      shm-size: 64MiB
      dns: {{servers: [192.0.2.53], search: [lab.example], options: ["ndots:2"]}}
      sysctls: {{kernel.msgmax: 65536}}
      devices: [/dev/net/tun]
      cap-add: [SYS_TIME]
      env-files: [vars.env]
      volumes: [TAG-vol:/data:ro]
      tmpfs: {{/scratch: "size=1m"}}
      security-opts: [no-new-privileges]
      exec: ["ip addr add 192.0.2.1/24 dev eth1"]
    b: {{kind: linux, privileged: false, cmd: sh, start-strategy: gate}}
    c: {{kind: netns}}
  links:
    - endpoints: [a:eth1, b:eth1]
    - endpoints: [a:eth2, c:eth1]
"""


def _deploy(dlab: DockerLab, text: str = LAB) -> None:
    (dlab.dir / "vars.env").write_text("FROM_FILE=yes\n")
    topo = dlab.write(text)
    done = run_cli("deploy", "-t", str(topo), "--quiet")
    assert done.returncode == 0, done.stderr


def _running(dlab: DockerLab, node: str) -> bool:
    # a container whose cmd exits at once would show it within a second
    for _ in range(10):
        if not dlab.container(node)["State"]["Running"]:
            return False
        time.sleep(0.1)
    return True


def test_fields_reach_docker_as_containerlab_sets_them(dlab: DockerLab) -> None:
    _deploy(dlab)
    try:
        a = dlab.container("a")
        sandbox = dict(dlab.api.inspect_container(f"clab-{dlab.name}-a-sandbox"))
        host, config = a["HostConfig"], a["Config"]
        # containerlab's defaults: tty, stdin, privileged, nofile, restart always
        assert config["Tty"] and config["OpenStdin"]
        if bounded_caps():  # runc cannot start a privileged container here: the nearest
            assert not host["Privileged"] and "NET_ADMIN" in host["CapAdd"]
            assert "seccomp=unconfined" in host["SecurityOpt"] and host["MaskedPaths"] == []
        else:
            assert host["Privileged"]
        hard = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": hard, "Hard": hard}]
        assert host["RestartPolicy"]["Name"] == "always"
        assert (host["CpuQuota"], host["CpuPeriod"], host["CpusetCpus"]) == (50000, 100000, "0")
        assert (host["Memory"], host["ShmSize"]) == (256_000_000, 64 * 2 ** 20)
        assert host["Devices"] == [{"PathOnHost": "/dev/net/tun",
                                    "PathInContainer": "/dev/net/tun",
                                    "CgroupPermissions": "rwm"}]
        assert host["CapAdd"][0] == "SYS_TIME" and host["SecurityOpt"][0] == "no-new-privileges"
        assert host["Tmpfs"] == {"/scratch": "size=1m"}
        assert host["Mounts"] == [{"Type": "volume", "Source": f"{dlab.tag}-vol",
                                   "Target": "/data", "ReadOnly": True}]
        # the non-net sysctl on the workload; net.* ones on the namespace's owner
        assert host["Sysctls"] == {"kernel.msgmax": "65536"}
        sbox = sandbox["HostConfig"]
        assert sbox["Sysctls"]["net.ipv4.ip_forward"] == "1"
        assert sbox["Sysctls"]["net.ipv6.conf.all.disable_ipv6"] == "0"
        # hostname, DNS and ports belong to the namespace's owner
        assert sandbox["Config"]["Hostname"] == "router-a"
        assert (sbox["Dns"], sbox["DnsSearch"], sbox["DnsOptions"]) == (
            ["192.0.2.53"], ["lab.example"], ["ndots:2"])
        assert sbox["PortBindings"] == {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}],
            "53/udp": [{"HostIp": "", "HostPort": "5353"}]}
        hostname = dlab.api.exec_create(a["Id"], ["hostname"])
        assert dlab.api.exec_start(hostname["Id"]).decode().strip() == "router-a"
        # cmd: sh stays running (tty + stdin), on both strategies
        assert _running(dlab, "a") and _running(dlab, "b")
        # exec: ip addr add worked (privileged)
        shown = run_cli("exec", "-t", str(dlab.dir / "lab.clab.yml"), "--node", "a", "--",
                        "ip", "-o", "addr", "show", "dev", "eth1")
        assert "192.0.2.1/24" in shown.stdout, shown.stdout + shown.stderr
        b = dlab.container("b")["HostConfig"]
        assert not b["Privileged"] and b["RestartPolicy"]["Name"] == "always"
    finally:
        run_cli("destroy", "-t", str(dlab.dir / "lab.clab.yml"), "--quiet")
        dlab.api.remove_volume(f"{dlab.tag}-vol", force=True)


def test_labels_and_env_as_containerlab(dlab: DockerLab) -> None:
    _deploy(dlab)
    a = dlab.container("a")
    labels = a["Config"]["Labels"]
    owner = os.environ.get("SUDO_USER") or os.environ.get("USER", "")
    lab_dir = dlab.dir / f"clab-{dlab.name}"
    assert labels["containerlab"] == dlab.name and labels["clab-owner"] == owner
    assert labels["clab-node-lab-dir"] == str(lab_dir / "a")
    assert labels["clab-topo-file"] == str(dlab.dir / "lab.clab.yml")
    assert labels["team.name"] == "blue" and labels["netknit.role"] == "workload"
    # sandboxes carry netknit's labels only: containerlab's tools count one per node
    sandbox = dlab.api.inspect_container(f"clab-{dlab.name}-a-sandbox")["Config"]["Labels"]
    assert sandbox == {"netknit.lab-dir": str(lab_dir), "netknit.role": "sandbox"}
    listed = dlab.api.containers(filters={"label": f"containerlab={dlab.name}"})
    assert sorted(c["Names"][0] for c in listed) == [f"/clab-{dlab.name}-a",
                                                     f"/clab-{dlab.name}-b"]
    env = dict(e.split("=", 1) for e in a["Config"]["Env"])
    assert env["CLAB_INTFS"] == "2" and env["FROM_FILE"] == "yes"
    assert env["CLAB_LABEL_TEAM_NAME"] == "blue"
    assert env["CLAB_LABEL_CLAB_NODE_NAME"] == "a"
    assert env["CLAB_LABEL_CONTAINERLAB"] == dlab.name
    assert env["CLAB_LABEL_CLAB_NODE_LAB_DIR"] == str(lab_dir / "a")
    # the default management network's subnets too, as containerlab (it always has them)
    assert env["no_proxy"] == env["NO_PROXY"] == "example.com,localhost,127.0.0.1,::1," \
        "*.local,172.20.20.0/24,3fff:172:20:20::/64,a,b,c"


MGMT = f"""
name: LAB
mgmt: {{network: nkn-TAG, ipv4-subnet: 172.30.NET.0/24}}
topology:
  nodes:
    d1: {{kind: linux, image: {IMAGE}, cmd: sh, mgmt-ipv4: 172.30.NET.11, aliases: [web, db]}}
"""


def test_aliases_on_the_management_network_and_no_proxy(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    _deploy(dlab, MGMT.replace("NET", net))
    # the sandbox joins the management network (it owns the namespace), with the aliases
    sandbox = dlab.api.inspect_container(f"clab-{dlab.name}-d1-sandbox")
    joined = sandbox["NetworkSettings"]["Networks"][f"nkn-{dlab.tag}"]
    assert {"web", "db"} <= set(joined["Aliases"])
    env = dict(e.split("=", 1) for e in dlab.container("d1")["Config"]["Env"])
    assert env["no_proxy"] == (f"localhost,127.0.0.1,::1,*.local,172.30.{net}.0/24,"
                               f"172.30.{net}.11,d1")
