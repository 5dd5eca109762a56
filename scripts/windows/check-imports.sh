#!/usr/bin/env bash
# Fails when a Windows binary imports a DLL that is not part of Windows itself
# (node.exe is allowed for addons: Node-API and libuv come from the host process;
# diarkis.dll for the programs on the C ABI).
# Usage: bash scripts/windows/check-imports.sh file.exe|file.node ...
set -euo pipefail
# Lower-case names; api-ms-win-* are Windows' API sets.
allowed='^(kernel32|user32|advapi32|bcrypt|ws2_32|msvcrt|ntdll|ucrtbase|shell32|ole32|iphlpapi|node|diarkis)\.(dll|exe)$|^api-ms-win-'
status=0
for f in "$@"; do
  dlls="$(x86_64-w64-mingw32-objdump -p "$f" | awk '/DLL Name:/ {print tolower($3)}' | sort -u)"
  bad="$(grep -Ev "$allowed" <<<"$dlls" || true)"
  echo "imports of $(basename "$f"): $(tr '\n' ' ' <<<"$dlls")"
  if [ -n "$bad" ]; then
    echo "error: $(basename "$f") imports non-system DLLs: $bad" >&2
    status=1
  fi
done
exit $status
