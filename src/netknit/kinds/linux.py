"""``kind: linux``: containerlab's container kind, a Docker container (sandbox + workload,
see README). With ``--runtime netns`` its nodes are wired as bare namespaces."""

from __future__ import annotations

from types import MappingProxyType

from ._base import NodeKind

#: Settings honoured on Docker nodes only: model field -> YAML key.
DOCKER_FIELDS = MappingProxyType({
    "entrypoint": "entrypoint", "binds": "binds", "user": "user", "healthcheck": "healthcheck",
    "restart_policy": "restart-policy", "network_mode": "network-mode",
    "mgmt_ipv4": "mgmt-ipv4", "mgmt_ipv6": "mgmt-ipv6", "start_strategy": "start-strategy",
    "sandbox_image": "sandbox-image",
    "privileged": "privileged", "hostname": "hostname", "ports": "ports", "cpu": "cpu",
    "cpu_set": "cpu-set", "memory": "memory", "shm_size": "shm-size", "dns": "dns",
    "aliases": "aliases", "sysctls": "sysctls", "devices": "devices", "cap_add": "cap-add",
    "env_files": "env-files", "volumes": "volumes", "tmpfs": "tmpfs", "pid_mode": "pid-mode",
    "cgroupns_mode": "cgroupns-mode", "security_opts": "security-opts",
    "image_pull_policy": "image-pull-policy",
})  # fmt: skip

KIND = NodeKind("linux", runtime="docker", container=True, fields=DOCKER_FIELDS,
                needs_image=True, bare_kind="netns")
