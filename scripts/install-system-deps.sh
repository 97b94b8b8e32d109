#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers, when any is missing:
#   dcmtk (storescu/echoscu/dcmdump), dicom3tools (dciodvfy), orthanc + orthanc-dicomweb (a PACS peer),
#   redis-server (BullMQ), chromium (worklist page tests), python3-torch/numpy/pil/scipy (model training smoke test), python3-pydicom, openssl (the TLS export test's certificate).
# Why each: README.md, "Dependencies and why".
set -euo pipefail
PACKAGES=(dcmtk dicom3tools orthanc orthanc-dicomweb redis-server chromium python3-torch python3-numpy python3-pil python3-scipy python3-pydicom openssl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "these Debian packages are needed: ${missing[*]}; run as root, or install sudo" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  # Through env: sudo drops the variable from the environment (env_reset), and a debconf prompt would stop the tests.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts (and enables at boot) the system daemons of redis-server and orthanc on install. The tests start
  # private ones on free ports and need neither: those installed here are stopped and disabled again, so that a
  # test run leaves no Redis on 6379 or Orthanc on 4242/8042 behind. Ones that were installed before are left alone.
  if [ -d /run/systemd/system ] && command -v systemctl > /dev/null; then
    for unit in redis-server orthanc; do
      if [[ " ${missing[*]} " == *" $unit "* ]] && systemctl is-enabled --quiet "$unit" 2> /dev/null; then
        echo "stopping and disabling the $unit system service that its package started (the tests run their own)" >&2
        $SUDO systemctl disable --now "$unit" > /dev/null 2>&1 || echo "could not stop $unit: systemctl disable --now $unit" >&2
      fi
    done
  fi
fi
