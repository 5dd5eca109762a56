// The smallest Node-API addon, cross-built with mingw-w64 like the phase-2 addon
// will be: Node-API and libuv imports delay-loaded from the host executable. It
// proves the loading path (import libraries, delay-load hook, -static runtime) from
// a renamed node.exe under wine, before the real addon is ported.
#include <node_api.h>
#include <uv.h>

namespace {

// hello() -> "diarkis-win-smoke uv <version>": one Node-API call and one libuv call,
// so that both import libraries are exercised.
napi_value hello(napi_env env, napi_callback_info /*info*/) {
  char text[128];
  const char* uv = uv_version_string();
  const char prefix[] = "diarkis-win-smoke uv ";
  size_t n = 0;
  for (const char* p = prefix; *p != 0 && n + 1 < sizeof text; ++p) text[n++] = *p;
  for (const char* p = uv; *p != 0 && n + 1 < sizeof text; ++p) text[n++] = *p;
  text[n] = 0;
  napi_value result = nullptr;
  napi_create_string_utf8(env, text, n, &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn = nullptr;
  if (napi_create_function(env, "hello", NAPI_AUTO_LENGTH, hello, nullptr, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "hello", fn) != napi_ok) {
    return nullptr;
  }
  return exports;
}
