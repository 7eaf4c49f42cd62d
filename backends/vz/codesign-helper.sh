#!/bin/sh
# meson install (darwin): sign the installed fleetbox-helper ad hoc with the
# virtualization entitlement. Run by meson with MESON_INSTALL_DESTDIR_PREFIX
# set; $1 is the entitlements file, $2 the helper relative to the prefix.
set -eu
entitlements=$1
helper="${MESON_INSTALL_DESTDIR_PREFIX}/$2"
if [ ! -f "$helper" ]; then
  echo "codesign-helper: $helper is not installed; nothing to sign" >&2
  exit 0
fi
codesign --entitlements "$entitlements" --force -s - "$helper"
codesign --display --entitlements - "$helper" >/dev/null
echo "codesign-helper: signed $helper ad hoc with $(basename "$entitlements")"
