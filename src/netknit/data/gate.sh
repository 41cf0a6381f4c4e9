#!/bin/sh
# netknit gate: the entrypoint wrapper of a `start-strategy: gate` container.
# netknit writes /.netknit/ready once every interface of the node exists, named, addressed
# and up; only then does the image's own entrypoint + cmd run, with its arguments exactly
# as given (exec "$@"). POSIX sh: works with busybox, dash and alpine.
#
# It waits without polling: it holds /.netknit/wake (a FIFO) open, checks for the ready
# file, and sleeps in `read` until netknit writes a line to the FIFO after writing the
# ready file (a line from anyone else only means "look again"). A poll loop would fork
# every few ms: a hundred gates waiting at once starve the Docker engine that is starting
# the rest of the lab.
limit=${NETKNIT_GATE_TIMEOUT:-600}
late() {
    echo "netknit gate: interfaces not ready after ${limit}s (${NETKNIT_INTFS:-})" >&2
    exit 1
}
# (`command`: a failed redirection of `exec` must not end the shell; read-write: the
# open of a FIFO never blocks)
if [ ! -e /.netknit/ready ] && [ -p /.netknit/wake ] &&
        { command exec 3<>/.netknit/wake; } 2>/dev/null; then
    # the time limit: a timer writes `timeout` when it runs out (killed, with its sleep,
    # once the gate opens; both reaped here, so the workload inherits no zombie)
    (
        trap 'kill $! 2>/dev/null; wait; exit 0' TERM
        sleep "$limit" &
        wait $! && echo timeout >&3
    ) &
    timer=$!
    while [ ! -e /.netknit/ready ]; do
        read -r line <&3
        [ "$line" != timeout ] || [ -e /.netknit/ready ] || late
    done
    kill "$timer" 2>/dev/null
    wait "$timer"
    exec 3<&-
else  # no FIFO (a lab made by an older netknit) or no access to it: poll, gently
    waited=0  # in 20 ms ticks
    while [ ! -e /.netknit/ready ]; do
        [ "$waited" -lt $((limit * 50)) ] || late
        if [ "$waited" -lt 50 ]; then step=1 pause=0.02; else step=10 pause=0.2; fi
        sleep "$pause" 2>/dev/null || { sleep 1; step=50; }
        waited=$((waited + step))
    done
fi
[ "$#" -gt 0 ] || exit 0
exec "$@"
