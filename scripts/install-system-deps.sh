#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers, when any is missing:
#   dcmtk (storescu/echoscu/dcmdump), dicom3tools (dciodvfy), orthanc + orthanc-dicomweb (a PACS peer),
#   redis-server (BullMQ), chromium (worklist page tests), python3-torch/numpy/pil/scipy (model training smoke test), python3-pydicom.
set -euo pipefail
PACKAGES=(dcmtk dicom3tools orthanc orthanc-dicomweb redis-server chromium python3-torch python3-numpy python3-pil python3-scipy python3-pydicom)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Through env: sudo drops the variable from the environment (env_reset), and a debconf prompt would stop the tests.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
