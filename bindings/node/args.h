// Argument checks for the exported functions. Every bad argument becomes a JS
// TypeError or RangeError with a `code` property ('invalid-argument', ...), thrown
// synchronously; nothing invalid reaches the native core.
#pragma once
#include "napi_include.h"

#include <cstdint>
#include <string>

#include "diarkis/errors.h"

namespace diarkis_node {

// Stable string name of an error code; the same table as errors.h, without a link
// dependency on the core.
const char* codeName(diarkis::ErrorCode code);

[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message,
                                 const char* code = "invalid-argument");
[[noreturn]] void throwRangeError(Napi::Env env, const std::string& message,
                                  const char* code = "invalid-argument");
// A plain Error carrying a core error code (queue-full, not-connected, ...).
[[noreturn]] void throwCodeError(Napi::Env env, diarkis::ErrorCode code, const std::string& message);

// An integer in [min, max] (a JS number with no fraction).
int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* name);
std::string stringArg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Optional numeric property of an options object: `fallback` when absent/undefined,
// otherwise a finite number in [min, max].
double numberOption(const Napi::Object& options, const char* name, double fallback, double min, double max);

}  // namespace diarkis_node
