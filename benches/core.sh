# --- registry ----------------------------------------------------------------
step "registry and images"
PORT=$(free_port)
REGISTRY=127.0.0.1:$PORT
mkdir -p "$T/registry"
cat >"$T/registry/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/registry/data
http:
  addr: $REGISTRY
YAML
docker-registry serve "$T/registry/config.yml" >"$T/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fs "http://$REGISTRY/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$REGISTRY/v2/" >/dev/null || die "docker-registry did not answer on $REGISTRY"

SMALL=$REGISTRY/bench/busybox:1
BIG=$REGISTRY/bench/big:1
R1=$T/d1
new_root "$R1"
P1=("$BIN/paddock" --root "$R1")
busybox_rootfs "$T/small-rootfs"
"${P1[@]}" image build --rootfs "$T/small-rootfs" --tag "$SMALL" \
    --env PATH=/bin --cmd '["sh"]' --push >/dev/null
mkdir -p "$T/big"
busybox_rootfs "$T/big/l1"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/big/l1/data1"
for k in 2 3 4 5; do
    mkdir -p "$T/big/l$k"
    head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/big/l$k/data$k"
done
t0=${EPOCHREALTIME/./}
"${P1[@]}" image build --rootfs "$T/big/l1" --layer "$T/big/l2" --layer "$T/big/l3" \
    --layer "$T/big/l4" --layer "$T/big/l5" --tag "$BIG" --env PATH=/bin --cmd '["sh"]' --push >/dev/null
t1=${EPOCHREALTIME/./}
echo "  pushed $SMALL and $BIG ($(du -sm "$T/registry/data" | cut -f1) MB in the registry;" \
    "building and pushing the big one took $(us_to_ms $((t1 - t0))) ms)"

# --- 1a. runtime: paddock-runner run vs runc run on one bundle ---------------
step "1a. start latency of one runtime call: paddock-runner run vs runc run (hyperfine, $RUNS runs)"
B=$T/bundle
busybox_rootfs "$B/rootfs"
(cd "$B" && runc spec)
jq --arg cg "$CG" '.process.args = ["echo", "hi"] | .process.terminal = false | .linux.cgroupsPath = $cg' \
    "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
mkdir -p "$T/runc-state" "$T/runner-state"
[ "$(runc --root "$T/runc-state" run -b "$B" "$TAG-check")" = hi ] || die "runc run on the bundle did not print hi"
[ "$("$BIN/paddock-runner" --root "$T/runner-state" run -b "$B" "$TAG-check")" = hi ] ||
    die "paddock-runner run on the bundle did not print hi"
section_load
# --output=pipe: libcontainer 0.7.0 re-opens a /dev/null stdout read-only inside
# the container (see benches/README.md), so `echo` would fail under hyperfine's
# default of /dev/null. Both runtimes get the same pipe.
hyperfine --style basic --output=pipe --warmup "$WARMUP" --runs "$RUNS" --export-json "$T/1a.json" \
    -n "runc run" "runc --root $T/runc-state run -b $B $TAG-rc-\$\$" \
    -n "paddock-runner run" "$BIN/paddock-runner --root $T/runner-state run -b $B $TAG-pr-\$\$"
RUNC_MED=$(jq '.results[0].median * 1e6 | floor' "$T/1a.json")
RUNNER_MED=$(jq '.results[1].median * 1e6 | floor' "$T/1a.json")
R=$(ratio "$RUNNER_MED" "$RUNC_MED")
record "1a runtime start (median): paddock-runner $(us_to_ms "$RUNNER_MED") ms, runc $(us_to_ms "$RUNC_MED") ms," \
    "ratio ${R}x (target <= 0.6x: $(verdict "$R" 0.6))"

# --- 1b. paddockd: manifest applied -> first output line ----------------------
step "1b. start latency to the first output line: paddockd vs podman run vs runc run ($RUNS runs each, interleaved)"
start_daemon "$R1"
D1=$DAEMON_PID
sleep 2
IDLE0_RSS=$(status_kib "$D1" VmRSS); IDLE0_ANON=$(status_kib "$D1" RssAnon)
"${P1[@]}" pull "$SMALL" >/dev/null
podman pull -q --tls-verify=false "$SMALL" >/dev/null
PODMAN_IMAGES+=("$SMALL")
PODMAN_RUN=(podman --runtime runc run --rm --network host --ulimit nofile=1024:1024
    --ulimit nproc=1024:1024 "$SMALL" echo hi)
MANIFESTS=$R1/etc/paddock/containers
paddock_start() { # NAME: apply the manifest written for it, then follow its logs
    "${P1[@]}" apply >/dev/null
    exec "${P1[@]}" logs -f "$1"
}
: >"$T/1b-paddockd"; : >"$T/1b-file"; : >"$T/1b-podman"; : >"$T/1b-runc"; : >"$T/1b-runner"
LOST=0
section_load
for i in $(seq -w 1 $((RUNS + WARMUP))); do
    # Untimed: remove the previous container, so apply only starts the new one.
    rm -f "$MANIFESTS"/*.yaml
    "${P1[@]}" apply >/dev/null
    printf 'name: b%s\nimage: %s\ncommand: [echo, hi]\nnetwork: host\nrestart: "no"\n' \
        "$i" "$SMALL" >"$MANIFESTS/b$i.yaml"
    t0=${EPOCHREALTIME/./}
    if KILL_READER=1 first_line paddock_start "b$i"; then t_paddockd=$LAST_US; else t_paddockd=; fi
    # When the monitor wrote the line to its log file (its own timestamp).
    logged=$(awk '$2 == "stdout" && $3 == "hi" {print $1; exit}' \
        "$R1/var/log/paddock/b$i/current.log" 2>/dev/null || true)
    t_file=; [ -n "$logged" ] && t_file=$(($(date -d "$logged" +%s%6N) - t0))
    first_line "${PODMAN_RUN[@]}" || die "podman run printed no hi (see $T/first-line.err)"
    t_podman=$LAST_US
    first_line runc --root "$T/runc-state" run -b "$B" "$TAG-l$i" || die "runc run printed no hi"
    t_runc=$LAST_US
    first_line "$BIN/paddock-runner" --root "$T/runner-state" run -b "$B" "$TAG-l$i" ||
        die "paddock-runner run printed no hi"
    t_runner=$LAST_US
    if [ "$((10#$i))" -gt "$WARMUP" ]; then
        if [ -n "$t_paddockd" ]; then echo "$t_paddockd" >>"$T/1b-paddockd"; else LOST=$((LOST + 1)); fi
        [ -n "$t_file" ] && echo "$t_file" >>"$T/1b-file"
        echo "$t_podman" >>"$T/1b-podman"
        echo "$t_runc" >>"$T/1b-runc"; echo "$t_runner" >>"$T/1b-runner"
    fi
done
rm -f "$MANIFESTS"/*.yaml
"${P1[@]}" apply >/dev/null
declare -A MED P90
declare -A LABEL=([paddockd]="paddockd (apply + logs -f)" [file]="paddockd (apply -> log file)"
    [podman]="podman run --rm" [runc]="runc run (bundle)" [runner]="paddock-runner run (bundle)")
for k in paddockd file podman runc runner; do
    [ -s "$T/1b-$k" ] || continue
    MED[$k]=$(pct 50 <"$T/1b-$k"); P90[$k]=$(pct 90 <"$T/1b-$k")
    printf '  %-28s median %7s ms   p90 %7s ms   (%s runs)\n' "${LABEL[$k]}" \
        "$(us_to_ms "${MED[$k]}")" "$(us_to_ms "${P90[$k]}")" "$(wc -l <"$T/1b-$k")"
done
LOST_NOTE="$LOST of $RUNS runs lost: the line never came through logs -f within ${FIRST_LINE_TIMEOUT}s"
if [ -s "$T/1b-paddockd" ]; then
    record "1b paddockd apply -> first line: median $(us_to_ms "${MED[paddockd]}") ms," \
        "p90 $(us_to_ms "${P90[paddockd]}") ms ($LOST_NOTE)"
else
    record "1b paddockd apply -> first line: no measurement ($LOST_NOTE)"
fi
if [ -s "$T/1b-file" ]; then
    record "1b paddockd apply -> line in the monitor's log file: median $(us_to_ms "${MED[file]}") ms," \
        "p90 $(us_to_ms "${P90[file]}") ms"
fi
record "1b podman run --rm -> first line: median $(us_to_ms "${MED[podman]}") ms, p90 $(us_to_ms "${P90[podman]}") ms"
record "1b runc run -> first line: median $(us_to_ms "${MED[runc]}") ms, p90 $(us_to_ms "${P90[runc]}") ms" \
    "(paddock-runner run: median $(us_to_ms "${MED[runner]}") ms, p90 $(us_to_ms "${P90[runner]}") ms)"
for k in paddockd file; do
    [ -n "${MED[$k]:-}" ] || continue
    RP=$(ratio "${MED[$k]}" "${MED[podman]}"); RR=$(ratio "${MED[$k]}" "${MED[runc]}")
    record "1b ${LABEL[$k]} / podman = ${RP}x (target <= 0.15x: $(verdict "$RP" 0.15))," \
        "/ runc = ${RR}x (target <= 1.5x: $(verdict "$RR" 1.5))"
done

# --- 2. pull of a 5-layer ~100 MB image ---------------------------------------
step "2. pull of $BIG (5 layers, ~100 MB incompressible; $PULL_RUNS runs each)"
paddock_empty() { "${P1[@]}" rmi "$BIG" >/dev/null 2>&1 || true; "${P1[@]}" prune >/dev/null; }
# The store must really be emptied between runs, or the pull would be a cache hit.
"${P1[@]}" pull "$BIG" >/dev/null
paddock_empty
left=$(du -sm "$R1/var/lib/paddock" | cut -f1)
[ "$left" -lt 20 ] || die "paddock rmi + prune left $left MB in $R1/var/lib/paddock; pulls would hit the cache"
podman pull -q --tls-verify=false "$BIG" >/dev/null
PODMAN_IMAGES+=("$BIG")
podman rmi -f "$BIG" >/dev/null
! podman image exists "$BIG" || die "podman rmi left $BIG"
section_load
hyperfine --style basic --warmup 1 --runs "$PULL_RUNS" --export-json "$T/2.json" \
    --prepare "${P1[*]} rmi $BIG >/dev/null 2>&1 || true; ${P1[*]} prune >/dev/null" \
    -n "paddock pull (paddockd)" "${P1[*]} pull $BIG" \
    --prepare "podman rmi -f $BIG >/dev/null 2>&1 || true" \
    -n "podman pull" "podman pull --tls-verify=false $BIG" \
    --prepare "rm -rf $T/skopeo-oci" \
    -n "skopeo copy to oci:" "skopeo copy --src-tls-verify=false docker://$BIG oci:$T/skopeo-oci" \
    -S bash
PAD=$(jq '.results[0].median * 1e6 | floor' "$T/2.json")
POD=$(jq '.results[1].median * 1e6 | floor' "$T/2.json")
SKO=$(jq '.results[2].median * 1e6 | floor' "$T/2.json")
R=$(ratio "$PAD" "$POD")
record "2 pull (median): paddock $(us_to_ms "$PAD") ms, podman $(us_to_ms "$POD") ms, skopeo $(us_to_ms "$SKO") ms;" \
    "paddock / podman = ${R}x (target <= 0.7x: $(verdict "$R" 0.7)), paddock / skopeo = $(ratio "$PAD" "$SKO")x"

# Peak memory of a pull: paddockd's VmHWM (reset before each pull) vs podman pull's max RSS.
HWM=(); PODRSS=(); SKORSS=()
for _ in 1 2 3; do
    paddock_empty
    echo 5 >"/proc/$D1/clear_refs"
    "${P1[@]}" pull "$BIG" >/dev/null
    HWM+=("$(status_kib "$D1" VmHWM)")
    podman rmi -f "$BIG" >/dev/null 2>&1 || true
    /usr/bin/time -f %M -o "$T/time.out" podman pull -q --tls-verify=false "$BIG" >/dev/null
    PODRSS+=("$(cat "$T/time.out")")
    rm -rf "$T/skopeo-oci"
    /usr/bin/time -f %M -o "$T/time.out" skopeo copy -q --src-tls-verify=false "docker://$BIG" "oci:$T/skopeo-oci"
    SKORSS+=("$(cat "$T/time.out")")
done
paddock_empty
HWM_MAX=$(printf '%s\n' "${HWM[@]}" | pct 100)
POD_MAX=$(printf '%s\n' "${PODRSS[@]}" | pct 100)
SKO_MAX=$(printf '%s\n' "${SKORSS[@]}" | pct 100)
record "2 pull peak RSS (max of 3): paddockd VmHWM $(kib "$HWM_MAX") (runs: ${HWM[*]} KiB)," \
    "podman pull $(kib "$POD_MAX") (runs: ${PODRSS[*]} KiB), skopeo copy $(kib "$SKO_MAX")"
stop_daemon "$D1"

# --- 3. paddockd's memory supervising idle containers --------------------------
step "3. memory: paddockd supervising $IDLE idle containers, vs podman's conmon"
R2=$T/d2
new_root "$R2"
for i in $(seq -w 1 "$IDLE"); do
    printf 'name: idle%s\nimage: %s\ncommand: [sleep, "100000"]\nnetwork: host\nrestart: always\nstop_signal: SIGKILL\n' \
        "$i" "$SMALL" >"$R2/etc/paddock/containers/idle$i.yaml"
done
start_daemon "$R2"
D2=$DAEMON_PID
for _ in $(seq 600); do
    n=$("$BIN/paddock" --root "$R2" ps --json | jq '[.[] | select(.state == "running")] | length')
    [ "$n" = "$IDLE" ] && break
    sleep 0.1
done
[ "$n" = "$IDLE" ] || { "$BIN/paddock" --root "$R2" ps; die "only $n of $IDLE containers are running"; }
sleep 10 # let things settle (the first etc-files rounds, allocator)
section_load
D_RSS=$(status_kib "$D2" VmRSS); D_PSS=$(pss_kib "$D2"); D_HWM=$(status_kib "$D2" VmHWM)
D_ANON=$(status_kib "$D2" RssAnon); D_FILE=$(status_kib "$D2" RssFile)
M_RSS=0; M_PSS=0; M_ANON=0; m=0
for s in "$R2"/run/paddock/monitors/*/status.json; do
    pid=$(jq -r .monitor_pid "$s")
    M_RSS=$((M_RSS + $(status_kib "$pid" VmRSS))); M_PSS=$((M_PSS + $(pss_kib "$pid")))
    M_ANON=$((M_ANON + $(status_kib "$pid" RssAnon))); m=$((m + 1))
done
[ "$m" = "$IDLE" ] || die "found $m monitors for $IDLE containers"
for i in $(seq -w 1 "$IDLE"); do
    PODMAN_CTRS+=("$TAG-idle$i")
    podman --runtime runc run -d --name "$TAG-idle$i" --network host --ulimit nofile=1024:1024 \
        --ulimit nproc=1024:1024 "$SMALL" sleep 100000 >/dev/null
done
sleep 5
C_RSS=0; C_PSS=0; C_ANON=0
for c in "${PODMAN_CTRS[@]}"; do
    pid=$(podman inspect --format '{{.State.ConmonPid}}' "$c")
    C_RSS=$((C_RSS + $(status_kib "$pid" VmRSS))); C_PSS=$((C_PSS + $(pss_kib "$pid")))
    C_ANON=$((C_ANON + $(status_kib "$pid" RssAnon)))
done
podman rm -f -t 0 "${PODMAN_CTRS[@]}" >/dev/null
PODMAN_CTRS=()
record "3 paddockd with $IDLE idle containers: VmRSS $(kib "$D_RSS") (anon $(kib "$D_ANON"), file $(kib "$D_FILE");" \
    "Pss $(kib "$D_PSS"), VmHWM $(kib "$D_HWM")) (target < 15 MiB: $(awk -v k="$D_RSS" 'BEGIN {print (k < 15 * 1024) ? "met" : "NOT met"}'))"
record "3 for context, paddockd with no manifests (section 1b's, before any pull): VmRSS $(kib "$IDLE0_RSS") (anon $(kib "$IDLE0_ANON"))"
record "3 per container: paddock-runner monitor VmRSS $(kib $((M_RSS / IDLE))) (anon $(kib $((M_ANON / IDLE))), Pss $(kib $((M_PSS / IDLE))))," \
    "podman conmon VmRSS $(kib $((C_RSS / IDLE))) (anon $(kib $((C_ANON / IDLE))), Pss $(kib $((C_PSS / IDLE))))"
record "3 total for $IDLE containers (Pss): paddockd + monitors $(kib $((D_PSS + M_PSS))), conmons $(kib "$C_PSS")"
stop_daemon "$D2"

