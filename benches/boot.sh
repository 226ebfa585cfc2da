# shellcheck shell=bash
# Sourced by benches/run (section 5): what the verified root costs at boot
# and on reads. One image, booted as built (dm-verity root) and as a copy
# whose loader entry lacks `paddock.verity=` (stage 1 then mounts the
# partition directly), alternately, BOOT_RUNS times each, in QEMU (TCG):
# power on (vm/run started) to the first HTTP answer of a preloaded
# host-network busybox httpd. The instance's readbench program
# (benches/readbench) reads the whole root through dm-verity and raw.
# Secure Boot is not measured yet (UKIs are still to come).

BOOT_RUNS=${BENCH_BOOT_RUNS:-3}
step "5. boot: a dm-verity root against the same image without verity (QEMU, TCG, $BOOT_RUNS boots each)"
if [ -z "${REGISTRY:-}" ]; then
    PORT=$(free_port)
    REGISTRY=127.0.0.1:$PORT
    mkdir -p "$T/registry"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
        "$T/registry/data" "$REGISTRY" >"$T/registry/config.yml"
    docker-registry serve "$T/registry/config.yml" >"$T/registry/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do curl -fs "http://$REGISTRY/v2/" >/dev/null && break; sleep 0.1; done
fi
PORT=${REGISTRY##*:}
BR=$T/boot-push
new_root "$BR"
busybox_rootfs "$T/boot-rootfs"
"$BIN/paddock" --root "$BR" image build --rootfs "$T/boot-rootfs" --tag "$REGISTRY/bench/boot:1" \
    --env PATH=/bin --cmd '["sh"]' --push >/dev/null
BI=$T/boot-inst
"$BIN/paddock" new bench --dir "$BI" >/dev/null
sed -i '/^registries:/d; /^preload:/d' "$BI/config.yaml"
cat >>"$BI/config.yaml" <<YAML
registries: {insecure: ["10.0.2.2:$PORT", "$REGISTRY"], mirrors: {"10.0.2.2:$PORT": ["$REGISTRY"]}}
preload: true
YAML
cat >"$BI/containers/web.yaml" <<YAML
image: 10.0.2.2:$PORT/bench/boot:1
network: host
command: [sh, -c, 'mkdir -p /tmp/www && echo up > /tmp/www/index.html && exec httpd -f -p 8081 -h /tmp/www']
YAML
"$BIN/paddock" add --instance "$BI" "$REPO/benches/readbench" >/dev/null
t0=${EPOCHREALTIME/./}
"$BIN/paddock" build --instance "$BI" -o "$T/verity.img" --bin-dir "$BIN" -q >"$T/boot-build.log" 2>&1 ||
    { cat "$T/boot-build.log"; die "paddock build failed"; }
t1=${EPOCHREALTIME/./}
echo "  built the image in $(us_to_ms $((t1 - t0))) ms ($(du -m --apparent-size "$T/verity.img" | cut -f1) MiB)"

# The copy without verity: the ESP's entries lose `paddock.verity=`.
cp --sparse=always "$T/verity.img" "$T/plain.img"
esp=$(sfdisk --json "$T/plain.img" | jq '.partitiontable.partitions[] | select(.name == "esp") | .start * 512')
for e in $(mdir -b -i "$T/plain.img@@$esp" ::loader/entries/); do
    mtype -i "$T/plain.img@@$esp" "$e" | sed 's/ paddock\.verity=[^ ]*//' >"$T/entry"
    mcopy -o -i "$T/plain.img@@$esp" "$T/entry" "$e"
done
mtype -i "$T/plain.img@@$esp" ::loader/entries/paddock-00000002-a.conf | grep -q verity &&
    die "the entry still has paddock.verity="

# boot IMAGE: power on → the httpd's first answer (ms); its readbench lines
# go to $T/readbench-IMAGE.
boot() {
    local img=$1 fwd serial pid start ms
    fwd=$(free_port)
    serial=$T/serial-$(basename "$img").log
    cp --sparse=always "$img" "$T/run.img"
    start=${EPOCHREALTIME/./}
    "$REPO/vm/run" "$T/run.img" --isolated --fwd "$fwd:8081" --serial "$serial" >/dev/null 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    until curl -fs -m 1 "http://127.0.0.1:$fwd/" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "vm/run exited; see $serial"
        [ $(((${EPOCHREALTIME/./} - start) / 1000000)) -gt 300 ] && die "no answer in 300 s; see $serial"
        sleep 0.1
    done
    ms=$(((${EPOCHREALTIME/./} - start) / 1000))
    for _ in $(seq 600); do grep -q 'readbench: \(raw\|no dm\)' "$serial" && break; sleep 0.1; done
    grep -ao 'readbench: .*' "$serial" | tr -d '\r' >>"$T/readbench-$(basename "$img")"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$ms"
}
: >"$T/boot-verity" && : >"$T/boot-plain"
for i in $(seq "$BOOT_RUNS"); do
    v=$(boot "$T/verity.img")
    p=$(boot "$T/plain.img")
    echo "  boot $i: verity $v ms, without $p ms"
    echo "$v" >>"$T/boot-verity"
    echo "$p" >>"$T/boot-plain"
done
section_load
bv=$(median <"$T/boot-verity")
bp=$(median <"$T/boot-plain")
cost=$(awk -v v="$bv" -v p="$bp" 'BEGIN {printf "%.1f", (v - p) * 100 / p}')
record "5 boot: power on to a preloaded container's answer: with dm-verity $bv ms, without $bp ms (median of $BOOT_RUNS): cost $cost % (target < 5 % for verity and Secure Boot together: $(awk -v c="$cost" 'BEGIN {print (c < 5) ? "met" : "NOT met"}'); Secure Boot not measured yet)"
rate() { grep -h "readbench: $1 " "$T/readbench-verity.img" | sed 's/.*= \([0-9.]*\) MiB\/s/\1/' | median; }
rv=$(rate verity)
rr=$(rate raw)
record "5 read: the whole root inside the VM: through dm-verity $rv MiB/s, raw $rr MiB/s ($(ratio "$rv" "$rr")x)"
