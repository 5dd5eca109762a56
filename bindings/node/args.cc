#include "args.h"

#include <cmath>

namespace diarkis_node {

const char* codeName(diarkis::ErrorCode code) {
  static const char* const kNames[] = {
#define DIARKIS_X(name, str) str,
      DIARKIS_ERROR_CODES(DIARKIS_X)
#undef DIARKIS_X
  };
  const auto i = static_cast<size_t>(code);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "none";
}

namespace {
[[noreturn]] void throwWithCode(Napi::Error err, const char* code) {
  err.Value().Set("code", Napi::String::New(err.Env(), code));
  throw err;
}
}  // namespace

void throwTypeError(Napi::Env env, const std::string& message, const char* code) {
  throwWithCode(Napi::TypeError::New(env, message), code);
}

void throwRangeError(Napi::Env env, const std::string& message, const char* code) {
  throwWithCode(Napi::RangeError::New(env, message), code);
}

void throwCodeError(Napi::Env env, diarkis::ErrorCode code, const std::string& message) {
  throwWithCode(Napi::Error::New(env, message), codeName(code));
}

int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  const Napi::Value v = info[index];
  if (!v.IsNumber()) throwTypeError(info.Env(), std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) {
    throwRangeError(info.Env(), std::string(name) + " must be an integer");
  }
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throwRangeError(info.Env(), std::string(name) + " must be in " + std::to_string(min) + ".." +
                                    std::to_string(max));
  }
  return static_cast<int64_t>(d);
}

bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value v = info[index];
  if (!v.IsBoolean()) throwTypeError(info.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string stringArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value v = info[index];
  if (!v.IsString()) throwTypeError(info.Env(), std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double numberOption(const Napi::Object& options, const char* name, double fallback, double min, double max) {
  const Napi::Value v = options.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throwTypeError(options.Env(), std::string("options.") + name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    throwRangeError(options.Env(), std::string("options.") + name + " must be a finite number in " +
                                       std::to_string(min) + ".." + std::to_string(max));
  }
  return d;
}

}  // namespace diarkis_node
