// Delay-load hook for Node-API addons built with mingw-w64 (what node-gyp's
// win_delay_load_hook.cc does for MSVC builds).
//
// The addon's Node-API and libuv imports name "node.exe" (that is what the import
// libraries made from node_api.def and node.exe's export table say). Electron's
// executable, and any renamed node.exe, is not called that, so a plain import would
// fail to load there or, worse, load a second node.exe. Delay-loaded imports come
// through this hook first: it answers with the module of the running process, which
// exports those functions whatever its name is.
#ifdef _WIN32
#include <windows.h>
// windows.h first: delayimp.h needs its types
#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI loadHostExecutable(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || info == nullptr || info->szDll == nullptr) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// The delay-load helper (libdelayimp) calls this before loading each DLL.
extern "C" {
PfnDliHook __pfnDliNotifyHook2 = loadHostExecutable;
}
#endif  // _WIN32
