#!/usr/bin/env node
// npm publish: refuse a tarball without the win32-x64 prebuild. Electron launchers run on
// Windows first, and prepack ships that prebuild only when DIARKIS_PREBUILD_WIN32=1 (plain
// `npm pack` on a developer machine has no mingw). DIARKIS_PUBLISH_WITHOUT_WIN32=1 publishes
// a Linux-only package on purpose.
'use strict';
if (process.env.DIARKIS_PREBUILD_WIN32 !== '1' && process.env.DIARKIS_PUBLISH_WITHOUT_WIN32 !== '1') {
  console.error(
    'prepublishOnly: this publish would ship no win32-x64 prebuild, so Windows users would need a compiler.\n' +
      '  Publish with DIARKIS_PREBUILD_WIN32=1 (run scripts/windows/setup.sh once first),\n' +
      '  or set DIARKIS_PUBLISH_WITHOUT_WIN32=1 to publish without it on purpose.',
  );
  process.exit(1);
}
