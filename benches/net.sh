# shellcheck shell=bash
# Sourced by benches/run (section 4): bridged networking through published
# ports, paddockd against rootful podman with runc and its default CNI bridge.
# What each benchmark measures: benches/README.md, section 4.
#
# paddockd and podman each run in a network namespace this script creates,
# one apiece (both use 10.88.0.0/16 for their bridges, so they cannot share
# one). Every client runs in the same namespace as its server's engine. Each
# namespace stands in for a host: loopback, plus a veth pair with the address
# NET_HOST_IP on one end (the "host's own address"). No other address is used.

NET_SECONDS=${BENCH_NET_SECONDS:-5}
NET_REPS=${BENCH_NET_REPS:-5}
AB_REQUESTS=${BENCH_AB_REQUESTS:-5000}
AB_CONCURRENCY=${BENCH_AB_CONCURRENCY:-8}
SETUP_RUNS=${BENCH_SETUP_RUNS:-10}
NET_HOST_IP=192.168.241.1
NET_IMAGE=paddock.bench/net:1         # in paddock's store
NET_PODMAN_IMAGE=localhost/paddock-bench-net:$$
PADDOCK_NS=$TAG-paddock
PODMAN_NS=$TAG-podman

in_ns() { # NETNS CMD...: CMD in that network namespace (only)
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" "$@"
}

new_netns() { # NAME: a namespace standing in for a host
    ip netns add "$1"
    NETNS+=("$1")
    ip -n "$1" link set lo up
    ip -n "$1" link add pbup0 type veth peer name pbup1
    ip -n "$1" addr add "$NET_HOST_IP/24" dev pbup0
    ip -n "$1" link set pbup0 up
    ip -n "$1" link set pbup1 up
}

# ge_verdict RATIO TARGET: "met" when RATIO >= TARGET.
ge_verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t) ? "met" : "NOT met"}'; }
fmt1() { awk -v x="$1" 'BEGIN {printf "%.1f", x}'; }

step "4. bridged networking: paddockd vs podman (runc, CNI bridge), each in its own network namespace"
echo "  iperf3 $(iperf3 --version | awk 'NR==1{print $2}'), ab $(ab -V | awk 'NR==1{print $5}')," \
    "iptables $(iptables --version | awk '{print $2, $3}'), nft $(nft --version | awk '{print $2}')"
new_netns "$PADDOCK_NS"
new_netns "$PODMAN_NS"

# wait-ports open|closed OUT HOST PORT...: from the namespace it runs in,
# connects to every PORT until each has accepted once (open) or refused
# (closed), then writes the time (µs since the epoch) to OUT. bash's
# /dev/tcp: the connect is in-process, no fork per attempt. Gives up after
# 20 s (exit 1).
cat >"$T/wait-ports" <<'SH'
#!/bin/bash
exec 2>/dev/null
want=$1 out=$2 host=$3
shift 3
pending=("$@")
deadline=$((${EPOCHREALTIME/./} + 20000000))
fifo=$(mktemp -u "$out.fifo.XXXXXX")
mkfifo "$fifo"
exec {z}<>"$fifo"   # read -t on it sleeps without a fork
rm -f "$fifo"
while :; do
    left=()
    for p in "${pending[@]}"; do
        if exec {fd}<>"/dev/tcp/$host/$p"; then
            exec {fd}>&-
            [ "$want" = open ] || left+=("$p")
        else
            [ "$want" = closed ] || left+=("$p")
        fi
    done
    if [ ${#left[@]} -eq 0 ]; then echo "${EPOCHREALTIME/./}" >"$out"; exit 0; fi
    pending=("${left[@]}")
    [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || exit 1
    read -r -t 0.002 -u "$z" || true
done
SH
chmod +x "$T/wait-ports"
wait_ports() { # NETNS open|closed PORT...: blocks until done; fails after 20 s
    local ns=$1 want=$2
    shift 2
    in_ns "$ns" "$T/wait-ports" "$want" "$T/ports.out" 127.0.0.1 "$@"
}

# --- the image: busybox, iperf3 with its libraries, a web root ----------------
NR=$T/net-rootfs
busybox_rootfs "$NR"
mkdir -p "$NR/usr/bin" "$NR/tmp" "$NR/www"
chmod 1777 "$NR/tmp" # iperf3 makes its buffer file there
cp /usr/bin/iperf3 "$NR/usr/bin/"
for lib in $(ldd /usr/bin/iperf3 | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$NR$(dirname "$lib")"
    cp -L "$lib" "$NR$lib"
done
printf 'hello from the bench\n' >"$NR/www/index.html"
in_ns "$PADDOCK_NS" true # nsenter works
RN=$T/dn
mkdir -p "$RN/etc/paddock/containers"
printf 'clock: {wait: false}\nauto_prune: false\nbind_var: false\n' >"$RN/etc/paddock/paddockd.yaml"
"$BIN/paddock" --root "$RN" image build --rootfs "$NR" --tag "$NET_IMAGE" --import \
    --env PATH=/bin:/usr/bin --cmd '["sh"]' >/dev/null
tar -C "$NR" -cf "$T/net-rootfs.tar" .
PODMAN_IMAGES+=("$NET_PODMAN_IMAGE")
podman import -q --change 'ENV PATH=/bin:/usr/bin' "$T/net-rootfs.tar" "$NET_PODMAN_IMAGE" >/dev/null
rm -f "$T/net-rootfs.tar"
echo "  one rootfs ($(du -sm "$NR" | cut -f1) MB: busybox, iperf3 and $(ldd /usr/bin/iperf3 | grep -c /) libraries):" \
    "imported into paddock's store as $NET_IMAGE, into podman as $NET_PODMAN_IMAGE"

PD=("$BIN/paddock" --root "$RN")
NM=$RN/etc/paddock/containers
PODMAN_NET=(podman --runtime runc run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
paddock_manifest() { # NAME PORTS-YAML-LIST COMMAND-YAML-LIST
    printf 'name: %s\nimage: %s\npull: never\nports: %s\ncommand: %s\nstop_signal: SIGKILL\n' \
        "$1" "$NET_IMAGE" "$2" "$3" >"$NM/$1.yaml"
}
podman_start() { # NAME PODMAN-RUN-ARGS...
    local name=$1
    shift
    PODMAN_NS_CTRS+=("$name")
    in_ns "$PODMAN_NS" "${PODMAN_NET[@]}" --name "$name" "$@" >/dev/null
}
podman_rm() { # NAME
    in_ns "$PODMAN_NS" podman rm -f -t 0 "$1" >/dev/null
    local keep=() c
    for c in "${PODMAN_NS_CTRS[@]}"; do [ "$c" = "$1" ] || keep+=("$c"); done
    PODMAN_NS_CTRS=("${keep[@]}")
}

start_daemon "$RN" "$PADDOCK_NS"
DN=$DAEMON_PID

# --- 4a/4b: an iperf3 server and a web server, in both ------------------------
paddock_manifest iperf '["5201:5201"]' '[/usr/bin/iperf3, -s]'
paddock_manifest web '["8080:80"]' '[/bin/httpd, -f, -p, "80", -h, /www]'
"${PD[@]}" apply >/dev/null
podman_start "$TAG-iperf" -p 5201:5201 "$NET_PODMAN_IMAGE" /usr/bin/iperf3 -s
podman_start "$TAG-web" -p 8080:80 "$NET_PODMAN_IMAGE" /bin/httpd -f -p 80 -h /www
for ns in "$PADDOCK_NS" "$PODMAN_NS"; do
    wait_ports "$ns" open 5201 8080 || die "the servers in $ns did not come up (see $RN/paddockd.log)"
    for addr in 127.0.0.1 "$NET_HOST_IP"; do
        body=$(in_ns "$ns" curl -fsS --max-time 5 "http://$addr:8080/") ||
            die "no answer from http://$addr:8080/ in $ns"
        [ "$body" = "hello from the bench" ] || die "http://$addr:8080/ in $ns answered: $body"
    done
done
echo "  paddock: $("${PD[@]}" ps | awk 'NR > 1 {printf "%s ", $0}')"

iperf_gbits() { # NETNS ADDR SECONDS: received Gbit/s
    in_ns "$1" iperf3 -c "$2" -t "$3" -J >"$T/iperf.json" || {
        cat "$T/iperf.json" >&2
        die "iperf3 -c $2 in $1 failed"
    }
    jq '.end.sum_received.bits_per_second / 1e9' "$T/iperf.json"
}
step "4a. TCP throughput through a published port (iperf3 -c ADDR -t $NET_SECONDS, $NET_REPS runs per tool and address, interleaved)"
for ns in "$PADDOCK_NS" "$PODMAN_NS"; do iperf_gbits "$ns" 127.0.0.1 1 >/dev/null; done # warm-up
section_load
for addr in 127.0.0.1 "$NET_HOST_IP"; do
    : >"$T/4a-paddock-$addr"; : >"$T/4a-podman-$addr"
    for r in $(seq "$NET_REPS"); do
        a=$(iperf_gbits "$PADDOCK_NS" "$addr" "$NET_SECONDS")
        b=$(iperf_gbits "$PODMAN_NS" "$addr" "$NET_SECONDS")
        echo "$a" >>"$T/4a-paddock-$addr"; echo "$b" >>"$T/4a-podman-$addr"
        printf '  %-15s run %s: paddock %6.2f Gbit/s   podman %6.2f Gbit/s\n' "$addr" "$r" "$a" "$b"
    done
done
for addr in 127.0.0.1 "$NET_HOST_IP"; do
    a=$(median <"$T/4a-paddock-$addr"); b=$(median <"$T/4a-podman-$addr")
    R=$(ratio "$a" "$b")
    record "4a throughput to $addr:5201 (median of $NET_REPS x ${NET_SECONDS}s): paddock $(fmt1 "$a") Gbit/s" \
        "(runs: $(paste -sd' ' "$T/4a-paddock-$addr" | xargs printf '%.1f ')), podman $(fmt1 "$b") Gbit/s" \
        "(runs: $(paste -sd' ' "$T/4a-podman-$addr" | xargs printf '%.1f ')); ratio ${R}x (target >= 0.95x: $(ge_verdict "$R" 0.95))"
done

# For context: the same client against an iperf3 server in the namespace
# itself, no container, no NAT, no veth.
nsenter --net="/run/netns/$PADDOCK_NS" iperf3 -s -p 5301 >/dev/null 2>&1 & # exec: $! is iperf3
BG_PIDS+=($!)
wait_ports "$PADDOCK_NS" open 5301 || die "the bare iperf3 server did not come up"
: >"$T/4a-bare"
for r in $(seq "$NET_REPS"); do
    in_ns "$PADDOCK_NS" iperf3 -c 127.0.0.1 -p 5301 -t "$NET_SECONDS" -J >"$T/iperf.json" || die "bare iperf3 failed"
    jq '.end.sum_received.bits_per_second / 1e9' "$T/iperf.json" >>"$T/4a-bare"
done
kill "${BG_PIDS[-1]}"; wait "${BG_PIDS[-1]}" 2>/dev/null || true
unset 'BG_PIDS[-1]'
record "4a for context, no container: iperf3 server in the namespace itself, 127.0.0.1:5301: $(fmt1 "$(median <"$T/4a-bare")") Gbit/s" \
    "(runs: $(paste -sd' ' "$T/4a-bare" | xargs printf '%.1f '))"

ab_rps() { # NETNS ADDR: requests per second (fails on a failed request)
    in_ns "$1" ab -q -n "$AB_REQUESTS" -c "$AB_CONCURRENCY" "http://$2:8080/" >"$T/ab.out" 2>&1 || {
        cat "$T/ab.out" >&2
        die "ab against $2 in $1 failed"
    }
    local failed
    failed=$(awk '/^Failed requests:/ {print $3}' "$T/ab.out")
    [ "$failed" = 0 ] || { cat "$T/ab.out" >&2; die "ab against $2 in $1: $failed failed requests"; }
    awk '/^Requests per second:/ {print $4}' "$T/ab.out"
}
step "4b. connection rate through a published port (ab -n $AB_REQUESTS -c $AB_CONCURRENCY, busybox httpd; $NET_REPS runs per tool and address, interleaved)"
for ns in "$PADDOCK_NS" "$PODMAN_NS"; do ab_rps "$ns" 127.0.0.1 >/dev/null; done # warm-up
section_load
for addr in 127.0.0.1 "$NET_HOST_IP"; do
    : >"$T/4b-paddock-$addr"; : >"$T/4b-podman-$addr"
    for r in $(seq "$NET_REPS"); do
        a=$(ab_rps "$PADDOCK_NS" "$addr")
        b=$(ab_rps "$PODMAN_NS" "$addr")
        echo "$a" >>"$T/4b-paddock-$addr"; echo "$b" >>"$T/4b-podman-$addr"
        printf '  %-15s run %s: paddock %8.0f req/s   podman %8.0f req/s\n' "$addr" "$r" "$a" "$b"
    done
done
for addr in 127.0.0.1 "$NET_HOST_IP"; do
    a=$(median <"$T/4b-paddock-$addr"); b=$(median <"$T/4b-podman-$addr")
    record "4b connections to $addr:8080 (median of $NET_REPS ab runs): paddock $(fmt1 "$a") req/s," \
        "podman $(fmt1 "$b") req/s; ratio $(ratio "$a" "$b")x (no target)"
done

# Stop the servers before the setup benchmark, so only it runs.
rm -f "$NM/iperf.yaml" "$NM/web.yaml"
"${PD[@]}" apply >/dev/null
podman_rm "$TAG-iperf"
podman_rm "$TAG-web"

# --- 4c: setup of a bridged container with two published ports ---------------
step "4c. setup: manifest/podman run -> both published ports accept a connection ($SETUP_RUNS runs each after $WARMUP warm-up, interleaved)"
SETUP_CMD='[/bin/sh, -c, "/bin/httpd -p 81 -h /www; exec /bin/httpd -f -p 80 -h /www"]'
# timed_open NETNS CMD...: runs CMD with a poller waiting for both ports;
# sets OPEN_US (start of CMD -> both accept) and CMD_US (CMD's own time).
OPEN_US=; CMD_US=; T0=
timed_open() {
    local ns=$1 poller t1
    shift
    rm -f "$T/ports.out"
    nsenter --net="/run/netns/$ns" "$T/wait-ports" open "$T/ports.out" 127.0.0.1 18080 18081 &
    poller=$!
    BG_PIDS+=("$poller")
    sleep 0.1 # the poller is connecting (and being refused)
    T0=${EPOCHREALTIME/./}
    "$@"
    t1=${EPOCHREALTIME/./}
    wait "$poller" || die "the published ports did not open within 20 s (after: $*)"
    unset 'BG_PIDS[-1]'
    CMD_US=$((t1 - T0))
    OPEN_US=$(($(cat "$T/ports.out") - T0))
}
# timed_close NETNS CMD...: runs CMD (the removal); sets CMD_US; then waits
# until both ports refuse connections, untimed.
timed_close() {
    local ns=$1 t0
    shift
    t0=${EPOCHREALTIME/./}
    "$@"
    CMD_US=$((${EPOCHREALTIME/./} - t0))
    wait_ports "$ns" closed 18080 18081 || die "the published ports still accept connections after: $*"
}
check_both() { # NETNS: both published ports serve the page
    local p
    for p in 18080 18081; do
        [ "$(in_ns "$1" curl -fsS --max-time 5 "http://127.0.0.1:$p/")" = "hello from the bench" ] ||
            die "port $p in $1 did not serve the page after setup"
    done
}
paddock_setup() { # NAME: the timed part for paddock
    paddock_manifest "$1" '["18080:80", "18081:81"]' "$SETUP_CMD"
    "${PD[@]}" apply >/dev/null
}
paddock_remove() { rm -f "$NM/$1.yaml"; "${PD[@]}" apply >/dev/null; }
# The log's timestamp (µs) of paddockd's line MESSAGE for container NAME.
log_us() { # NAME MESSAGE
    local ts
    ts=$(sed 's/\x1b\[[0-9;]*m//g' "$RN/paddockd.log" |
        awk -v n="$1" -v m="$2" 'index($0, " " m " ") && ($0 ~ "container=\"?" n "\"?( |$)") {print $1; exit}')
    [ -n "$ts" ] && date -d "$ts" +%s%6N
}
for f in open apply attached running rm; do : >"$T/4c-paddock-$f"; : >"$T/4c-podman-$f"; done
section_load
for i in $(seq -w 1 $((SETUP_RUNS + WARMUP))); do
    counted=$([ "$((10#$i))" -gt "$WARMUP" ] && echo 1 || true)
    name=setup$i
    timed_open "$PADDOCK_NS" paddock_setup "$name"
    p_open=$OPEN_US p_apply=$CMD_US
    t0=$T0
    check_both "$PADDOCK_NS"
    attached=$(log_us "$name" "network attached" || true)
    running=$(log_us "$name" running || true)
    timed_close "$PADDOCK_NS" paddock_remove "$name"
    p_rm=$CMD_US
    timed_open "$PODMAN_NS" podman_start "$TAG-$name" -p 18080:80 -p 18081:81 "$NET_PODMAN_IMAGE" \
        /bin/sh -c "/bin/httpd -p 81 -h /www; exec /bin/httpd -f -p 80 -h /www"
    q_open=$OPEN_US q_apply=$CMD_US
    check_both "$PODMAN_NS"
    timed_close "$PODMAN_NS" podman_rm "$TAG-$name"
    q_rm=$CMD_US
    printf '  %s%s: paddock %6s ms (apply %6s, remove %6s)   podman %6s ms (run -d %6s, rm -f %6s)\n' \
        "$i" "$([ -n "$counted" ] || echo ' warm-up')" "$(us_to_ms "$p_open")" "$(us_to_ms "$p_apply")" "$(us_to_ms "$p_rm")" \
        "$(us_to_ms "$q_open")" "$(us_to_ms "$q_apply")" "$(us_to_ms "$q_rm")"
    [ -n "$counted" ] || continue
    echo "$p_open" >>"$T/4c-paddock-open"; echo "$p_apply" >>"$T/4c-paddock-apply"; echo "$p_rm" >>"$T/4c-paddock-rm"
    echo "$q_open" >>"$T/4c-podman-open"; echo "$q_apply" >>"$T/4c-podman-apply"; echo "$q_rm" >>"$T/4c-podman-rm"
    if [ -n "$attached" ] && [ -n "$running" ]; then
        echo $((attached - t0)) >>"$T/4c-paddock-attached"
        echo $((running - t0)) >>"$T/4c-paddock-running"
    fi
done
med() { us_to_ms "$(pct 50 <"$T/4c-$1")"; }
P_OPEN=$(pct 50 <"$T/4c-paddock-open"); Q_OPEN=$(pct 50 <"$T/4c-podman-open")
R=$(ratio "$P_OPEN" "$Q_OPEN")
record "4c setup with two published ports -> both accept (median of $SETUP_RUNS): paddock $(med paddock-open) ms" \
    "(p90 $(us_to_ms "$(pct 90 <"$T/4c-paddock-open")")), podman $(med podman-open) ms (p90 $(us_to_ms "$(pct 90 <"$T/4c-podman-open")"));" \
    "ratio ${R}x (target <= 0.3x: $(verdict "$R" 0.3))"
record "4c commands (median): paddock apply $(med paddock-apply) ms, podman run -d $(med podman-apply) ms;" \
    "removal: paddock apply $(med paddock-rm) ms, podman rm -f -t 0 $(med podman-rm) ms"
if [ -s "$T/4c-paddock-attached" ]; then
    record "4c where paddock's setup goes (median from the start, by paddockd's log timestamps):" \
        "'network attached' at $(med paddock-attached) ms, 'running' at $(med paddock-running) ms" \
        "(both ports accept at $(med paddock-open) ms) ($(wc -l <"$T/4c-paddock-attached") of $SETUP_RUNS runs)"
fi

# --- what is left after the containers are gone --------------------------------
stop_daemon "$DN"
left_rules=$(in_ns "$PADDOCK_NS" nft -j list table inet paddock 2>/dev/null | jq '[.nftables[] | select(.rule)] | length' || echo "no table")
left_links=$(ip -n "$PADDOCK_NS" -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -c '^pd-' || true)
left_cni=$(in_ns "$PODMAN_NS" iptables -t nat -S 2>/dev/null | grep -c -- '-A CNI-DN-' || true)
record "4 after paddockd stopped: $left_rules rules in inet paddock, $left_links pd-* veths;" \
    "podman after rm: $left_cni CNI DNAT rules"
for ns in "$PADDOCK_NS" "$PODMAN_NS"; do ip netns del "$ns"; done
NETNS=()
host_links=$(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -cE '^(pd-|paddock0$|cni-podman0$)' || true)
[ "$host_links" = 0 ] || echo "  note: the host's own namespace has $host_links pd-*/paddock0/cni-podman0 links (not from this run's namespaces)"
