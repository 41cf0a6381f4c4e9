"""containerlab's kinds that netknit knows but does not deploy yet
(schemas/clab.schema.json): a node of one is refused with "not supported yet", not as
an unknown kind. A kind netknit gains moves from here to a module of its own."""

from __future__ import annotations

PLANNED = frozenset(
    """srl nokia_srlinux nokia_srsim ceos arista_ceos crpd juniper_crpd sonic-vs sonic-vm
    vr-sros nokia_sros vr-nokia_sros vr-vmx vr-juniper_vmx juniper_vmx vr-vqfx
    vr-juniper_vqfx juniper_vqfx vr-vsrx vr-juniper_vsrx juniper_vsrx juniper_vjunosrouter
    juniper_vjunosswitch juniper_vjunosevolved vr-xrv vr-cisco_xrv cisco_xrv vr-xrv9k
    vr-cisco_xrv9k cisco_xrv9k vr-veos vr-arista_veos arista_veos vr-csr vr-cisco_csr
    cisco_csr1000v vr-pan vr-paloalto_panos paloalto_panos vr-ros vr-mikrotik_ros
    mikrotik_ros vr-n9kv vr-cisco_n9kv cisco_n9kv vr-nxos vr-cisco_nxos cisco_ftdv
    dell_ftosv dell_sonic vr-aoscx vr-aruba_aoscx aruba_aoscx ovs-bridge border0 mysocketio
    keysight_ixia-c-one ipinfusion_ocnos checkpoint_cloudguard ext-container xrd cisco_xrd
    rare c8000 cisco_c8000 c8000v cisco_c8000v cisco_cat9kv cisco_iol cvx cumulus_cvx
    openbsd freebsd generic_vm fortinet_fortigate k8s-kind""".split()  # noqa: SIM905
)
