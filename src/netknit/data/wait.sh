#!/bin/sh
# netknit wait: block until this container's lab interfaces exist.
#   NETKNIT_INTFS=eth1,uplink0  exact names, comma-separated (any naming)
#   CLAB_INTFS=2                containerlab's count of eth* interfaces (if no names)
#   NETKNIT_WAIT_TIMEOUT=30     seconds (or the first argument)
# Exit status: 0 ready, 1 timeout (the missing interfaces are listed), 2 usage.
# POSIX sh: runs under busybox and alpine.
limit=${1:-${NETKNIT_WAIT_TIMEOUT:-30}}
case $limit in
    ''|*[!0-9]*) echo "usage: $0 [TIMEOUT_SECONDS]  (NETKNIT_INTFS or CLAB_INTFS set)" >&2; exit 2 ;;
esac
if [ -z "${NETKNIT_INTFS:-}" ] && [ -z "${CLAB_INTFS:-}" ]; then
    echo "netknit wait: set NETKNIT_INTFS (names) or CLAB_INTFS (a count)" >&2
    exit 2
fi
case ${CLAB_INTFS:-0} in *[!0-9]*) echo "netknit wait: CLAB_INTFS is not a number" >&2; exit 2 ;; esac

# /proc/net/dev lists the interfaces of the reader's network namespace (/sys/class/net
# shows the namespace /sys was mounted in, which is not always ours)
names() {
    while IFS= read -r line; do
        case $line in *:*) n=${line%%:*}; printf '%s\n' "${n##* }" ;; esac
    done </proc/net/dev
}

missing() {
    have=$(names)
    out=
    if [ -n "${NETKNIT_INTFS:-}" ]; then
        old_ifs=$IFS; IFS=,
        for name in $NETKNIT_INTFS; do
            case "
$have
" in *"
$name
"*) ;; *) [ -n "$name" ] && out="$out $name" ;; esac
        done
        IFS=$old_ifs
    else
        count=0
        for n in $have; do case $n in eth*) count=$((count + 1)) ;; esac; done
        [ "$count" -lt "$CLAB_INTFS" ] && out=" $((CLAB_INTFS - count)) of $CLAB_INTFS eth* interfaces"
    fi
    printf '%s' "$out"
}

start=$(date +%s)
while :; do
    left=$(missing)
    [ -z "$left" ] && exit 0
    if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
        echo "netknit wait: timeout after ${limit}s; missing:$left" >&2
        exit 1
    fi
    sleep 0.05 2>/dev/null || sleep 1
done
