#!/usr/bin/env bash
# The C ABI's layouts on the targets engines run on, not only this machine's: diarkis.h
# static-asserts its struct offsets and sizes (64-bit and 32-bit), and this compiles it
# as C11 and C++17 for each target with clang (freestanding: the header needs only
# <stddef.h> and <stdint.h>, which clang brings, so no multilib or SDK is needed).
# A layout that differs on any target fails here, before any engine binding breaks.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(x86_64-linux-gnu i686-linux-gnu x86_64-pc-windows-msvc i686-pc-windows-msvc x86_64-w64-windows-gnu
         i686-w64-windows-gnu aarch64-linux-android armv7a-linux-androideabi arm64-apple-ios x86_64-apple-macosx)
for t in "${targets[@]}"; do
  clang --target="$t" -ffreestanding -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c bindings/c/include/diarkis.h
  clang++ --target="$t" -ffreestanding -nostdinc++ -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ bindings/c/include/diarkis.h
done
echo "diarkis.h layouts hold on ${#targets[@]} targets: ${targets[*]}"
