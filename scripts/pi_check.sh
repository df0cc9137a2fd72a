#!/usr/bin/env bash
# The board install, tried as a new user would, in emulated 64-bit Raspberry Pi OS root filesystems:
# Debian bookworm (Python 3.11, Pi OS 12) and trixie (Python 3.13, Pi OS 13), arm64, run under qemu-user.
#
#   sudo scripts/pi_check.sh rootfs bookworm     # build (once) the cached root filesystem of a suite
#   sudo scripts/pi_check.sh check bookworm      # fresh venv, board install from this checkout, then the checks
#   sudo scripts/pi_check.sh shell bookworm CMD  # run CMD inside (bash -lc), e.g. for benchmarks/bench_instructions.py
#
# Needs root (debootstrap, chroot, mounts) and Debian's `debootstrap qemu-user qemu-user-binfmt patchelf` (installed here
# when missing). Root filesystems are cached outside git in $SENSE_ROOTFS_CACHE (default /var/cache/sense-rootfs):
# minutes to build, then reused. Not run by CI (too slow); results go to docs/board.md by hand.
#
# Inside, the guest sees a Cortex-A72 (Raspberry Pi 4) /proc/cpuinfo: QEMU passes the host's through, and
# onnxruntime crashes on an x86 cpuinfo. QEMU's CPU model is a Cortex-A72 too (QEMU_CPU=cortex-a72), so int8
# kernels that use dot-product instructions (which a Pi 4 lacks) would crash here as they would on the board.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
CACHE="${SENSE_ROOTFS_CACHE:-/var/cache/sense-rootfs}"
MIRROR="${SENSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What a Pi OS Lite image has (python3, venv, certificates) plus the board install's two Debian packages.
GUEST_PACKAGES=python3,python3-venv,ca-certificates,libportaudio2,dbus,bluez,git,procps  # dbus: debootstrap does not resolve bluez's virtual dbus-system-bus
VENV=/opt/sense-venv
export QEMU_CPU="${QEMU_CPU:-cortex-a72}"

die() { echo "pi_check: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and bind mounts)"

host_tools() {
  local missing=()
  for tool in debootstrap:debootstrap qemu-aarch64:qemu-user update-binfmts:qemu-user-binfmt patchelf:patchelf; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" binfmt-support
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
}

# Debian's binfmt entry for arm64 names /usr/libexec/qemu-binfmt/aarch64-binfmt-P (the dynamically linked
# qemu-aarch64, which accepts TCG plugins; the static one does not) and the kernel looks it up inside the chroot:
# put it there with the x86-64 libraries it links (multiarch paths, beside the arm64 ones). Its loader is moved from
# /lib64 (which usr-is-merged removes on arm64) to /usr/lib/x86_64-linux-gnu with patchelf.
host_qemu_into() {
  local target=$1 file multiarch=/usr/lib/x86_64-linux-gnu
  mkdir -p "$target$multiarch" "$target/usr/libexec/qemu-binfmt" "$target/usr/local/bin"
  for file in $(ldd /usr/bin/qemu-aarch64 | grep -o '/[^ ]*'); do
    cp -fL "$file" "$target$multiarch/$(basename "$file")"
  done
  cp -f /usr/bin/qemu-aarch64 "$target/usr/local/bin/qemu-aarch64"
  patchelf --set-interpreter "$multiarch/ld-linux-x86-64.so.2" --set-rpath "$multiarch" "$target/usr/local/bin/qemu-aarch64"
  ln -sf /usr/local/bin/qemu-aarch64 "$target/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
}

rootfs() {
  local suite=$1 target="$CACHE/$1"
  if [ -f "$target/.sense-rootfs-ready" ]; then
    echo "pi_check: $target is ready (delete it to rebuild)"
    return
  fi
  host_tools
  # never follow a mount (a failed run's /proc or /sys) while deleting
  awk -v t="$target/" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$target"
  mkdir -p "$CACHE"
  echo "pi_check: debootstrap $suite arm64 into $target"
  local started=$SECONDS
  debootstrap --foreign --arch=arm64 --variant=minbase --include="$GUEST_PACKAGES" "$suite" "$target" "$MIRROR"
  host_qemu_into "$target"
  # its own mount namespace: the /proc and /sys the second stage mounts vanish with it, even when it fails
  unshare --mount --propagation private chroot "$target" /debootstrap/debootstrap --second-stage
  install -m 0644 "$REPO/scripts/cpuinfo-cortex-a72.txt" "$target/etc/cpuinfo-cortex-a72"
  echo "$((SECONDS - started)) s" > "$target/.sense-rootfs-ready"
  echo "pi_check: $suite root filesystem built in $((SECONDS - started)) s ($(du -sh "$target" | cut -f1))"
}

# Run a command inside the root filesystem: private mount namespace (mounts vanish with it), /proc with the
# Cortex-A72 cpuinfo over it, /dev, the host's DNS, and this checkout copied (tracked + untracked, not ignored)
# to /src, so that the guest builds from a writable tree.
guest() {
  local suite=$1; shift
  local target="$CACHE/$suite"
  [ -f "$target/.sense-rootfs-ready" ] || die "no $suite root filesystem: run 'scripts/pi_check.sh rootfs $suite' first"
  host_tools
  cp /etc/resolv.conf "$target/etc/resolv.conf"
  rm -rf "$target/src" && mkdir -p "$target/src"
  git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | (cd "$REPO" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$target/src"
  # A host behind a TLS-inspecting proxy trusts its CA through pip's cert setting: the guest's pip gets the same.
  local host_ca="${PIP_CERT:-${SSL_CERT_FILE:-}}" guest_ca=""
  if [ -n "$host_ca" ] && [ -f "$host_ca" ]; then
    guest_ca=/etc/ssl/certs/host-pip-ca.crt
    touch "$target$guest_ca"
  fi
  unshare --mount --propagation private bash -c '
    set -e
    target=$1 host_ca=$2 guest_ca=$3; shift 3
    [ -z "$guest_ca" ] || mount --bind -o ro "$host_ca" "$target$guest_ca"
    mount -t proc proc "$target/proc"
    mount --bind "$target/etc/cpuinfo-cortex-a72" "$target/proc/cpuinfo"
    mount -t sysfs sysfs "$target/sys"  # onnxruntime reads the CPU lists there
    mount --rbind /dev "$target/dev"
    mount -t tmpfs tmpfs "$target/tmp"
    exec chroot "$target" /usr/bin/env -i HOME=/root PATH='"$VENV"'/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 TERM=dumb QEMU_CPU="$QEMU_CPU" ${guest_ca:+PIP_CERT=$guest_ca} /bin/bash -c "cd /src && $*"
  ' guest "$target" "$host_ca" "$guest_ca" "$@"
}

check() {
  local suite=$1 log_dir="$REPO/out/pi_check"
  mkdir -p "$log_dir"
  rootfs "$suite"
  local started=$SECONDS
  guest "$suite" "bash scripts/pi_check_guest.sh $suite" 2>&1 | tee "$log_dir/$suite.log"
  cp "$CACHE/$suite/src/out/pi_check/$suite.tsv" "$log_dir/"
  echo "pi_check: $suite checked in $((SECONDS - started)) s; summary in $log_dir/$suite.tsv"
}

case "${1:-}" in
  rootfs) rootfs "${2:?suite: bookworm or trixie}" ;;
  check) check "${2:?suite: bookworm or trixie}" ;;
  shell) suite=${2:?suite}; shift 2; guest "$suite" "$*" ;;
  *) die "usage: scripts/pi_check.sh rootfs|check|shell SUITE [CMD]" ;;
esac
