#!/bin/sh
# netknit gate: the entrypoint wrapper of a `start-strategy: gate` container.
# netknit writes /.netknit/ready once every interface of the node exists, named, addressed
# and up; only then does the image's own entrypoint + cmd run, with its arguments exactly
# as given (exec "$@"). POSIX sh: works with busybox and alpine.
limit=${NETKNIT_GATE_TIMEOUT:-600}
start=$(date +%s)
while [ ! -e /.netknit/ready ]; do
    if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
        echo "netknit gate: interfaces not ready after ${limit}s (${NETKNIT_INTFS:-})" >&2
        exit 1
    fi
    sleep 0.02 2>/dev/null || sleep 1
done
[ "$#" -gt 0 ] || exit 0
exec "$@"
