# Sourced by scripts/setup.sh and scripts/device_setup.sh: install the Debian packages of a list that are missing.
#   apt_install_missing LABEL PACKAGE...      (uses sudo when not root; does nothing off Debian or when all are there)
apt_install_missing() {
  local label=$1 package missing=()
  shift
  if command -v dpkg-query >/dev/null 2>&1; then
    for package in "$@"; do
      dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "$label: installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
