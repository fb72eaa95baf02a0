# test_trackfs_lib.sh: what the trackfs integration tests share (sourced
# after testlib.sh; not a test itself). Sets tmp and page, installs the
# cleanup trap, and exits 77 (skipped) when FUSE cannot be used here.
#   new_tmpfs DIR                 a fresh tmpfs of its own at DIR
#   mount_trackfs NAME OPTIONS    backing $tmp/NAME.back (a new tmpfs unless it
#                                 exists), mount $tmp/NAME, log $tmp/NAME.log;
#                                 sets NAME_pid
#   unmount_trackfs NAME          fusermount3 -u, then waits for the daemon
#   equal NAME WANT GOT           passes when GOT is WANT (both printed if not)
#   is_mounted DIR                a FUSE mount is at DIR
#   wait_until 'CONDITION'        retries a shell condition for up to 5 s
#   stat_field DIR KEY            a figure of the root's user.trackfs.stats
#   start_broker TOTAL_PAGES      an mbserver on $tmp/run/socket (MEMBROKER_SOCKET)
#   trackfs_balance, pool         figures of `mbctl status --json`
# TRACKFS_TRANSPORT picks how the kernel's requests reach the mounts made
# with mount_trackfs: "dev" (the default: /dev/fuse, uring=off) or "uring"
# (FUSE over io_uring: the fuse module's enable_uring is switched on for
# the test and back after; unmount_trackfs checks that requests came over
# the ring). Mounts started otherwise keep trackfs's default, uring=auto.
[[ -e /dev/fuse ]] || { echo "SKIP: /dev/fuse is missing"; exit 77; }
[[ $(id -u) -eq 0 ]] || { echo "SKIP: FUSE mounts and tmpfs need root"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: fusermount3 is not installed"; exit 77; }
uring_param=/sys/module/fuse/parameters/enable_uring
uring_was=
case ${TRACKFS_TRANSPORT:-dev} in
  dev) transport_opt=uring=off ;;
  uring)
    [[ -w $uring_param ]] || { echo "SKIP: this kernel has no FUSE over io_uring ($uring_param)"; exit 77; }
    uring_was=$(cat "$uring_param")
    echo Y >"$uring_param" || { echo "FAIL cannot switch on $uring_param"; exit 1; }
    transport_opt=uring=auto ;;
  *) echo "FAIL TRACKFS_TRANSPORT=$TRACKFS_TRANSPORT: use dev or uring"; exit 1 ;;
esac

tmp=$(mktemp -d /tmp/mb-trackfs.XXXXXX)
page=$(getconf PAGESIZE)
mounts=() tmpfs_mounts=() pids=()
cleanup() {
  local m p
  for m in "${mounts[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for m in "${tmpfs_mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  rm -rf "$tmp"
  [[ -z $uring_was ]] || echo "$uring_was" >"$uring_param"
}
trap cleanup EXIT

equal() {
  if [[ "$2" == "$3" ]]; then passed=$((passed + 1))
  else failed=$((failed + 1)); printf 'FAIL %s: want "%s", got "%s"\n' "$1" "$2" "$3"; fi
}
wait_until() { local i; for i in $(seq 100); do eval "$1" && return 0; sleep 0.05; done; return 1; }
is_mounted() { grep -qs " $1 fuse" /proc/mounts; }
new_tmpfs() { mkdir -p "$1" && mount -t tmpfs -o size=256M tmpfs "$1" && tmpfs_mounts+=("$1"); }

mount_trackfs() {
  local name=$1 opts=$2
  mkdir -p "$tmp/$name"
  [[ -d $tmp/$name.back ]] || new_tmpfs "$tmp/$name.back"
  "$trackfs" -f -o "$opts,$transport_opt" "$tmp/$name.back" "$tmp/$name" >>"$tmp/$name.log" 2>&1 &
  pids+=($!)
  mounts+=("$tmp/$name")
  eval "${name}_pid=$!"
  wait_for is_mounted "$tmp/$name" || { echo "FAIL trackfs $name did not mount:"; cat "$tmp/$name.log"; return 1; }
}
unmount_trackfs() {
  local pidvar=${1}_pid
  # (reading the statistics attribute always reaches trackfs)
  [[ $transport_opt == uring=off ]] || { stat_field "$tmp/$1" used >/dev/null
    check "$1 served over io_uring" grep -q "requests come over io_uring" "$tmp/$1.log"; }
  fusermount3 -u "$tmp/$1"
  wait "${!pidvar}"
}
stat_field() {
  python3 -c "
import os, sys
text = os.getxattr(sys.argv[1], 'user.trackfs.stats').decode()
print(dict(l.split(' ', 1) for l in text.splitlines()).get(sys.argv[2], 'absent'))" "$1" "$2"
}
start_broker() {
  export MEMBROKER_SOCKET=$tmp/run/socket
  MBSERVER_REQUEST_TIMEOUT=300ms "$server" --foreground --socket "$MEMBROKER_SOCKET" --total "$1p" --log-level err &
  pids+=($!)
  broker_pid=$!
  wait_for test -S "$MEMBROKER_SOCKET" || { echo "FAIL mbserver did not start"; exit 1; }
}
trackfs_balance() {
  "$mbctl" status --json | json_field '([c["balance"] for c in d["clients"] if c["name"]=="trackfs"] + ["none"])[0]'
}
pool() { "$mbctl" status --json | json_field 'd["pool"]'; }
