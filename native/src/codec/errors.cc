// String names for ErrorCode and DropReason, generated from the X-macro tables in
// errors.h so that the enum and its names cannot drift apart.
#include "diarkis/errors.h"

#include <cstring>

namespace diarkis {
namespace {

constexpr const char* kErrorNames[] = {
#define DIARKIS_X(name, str) str,
    DIARKIS_ERROR_CODES(DIARKIS_X)
#undef DIARKIS_X
};
constexpr size_t kErrorCount = sizeof(kErrorNames) / sizeof(kErrorNames[0]);

constexpr const char* kDropNames[] = {
#define DIARKIS_X(name, str) str,
    DIARKIS_DROP_REASONS(DIARKIS_X)
#undef DIARKIS_X
};
static_assert(sizeof(kDropNames) / sizeof(kDropNames[0]) == static_cast<size_t>(DropReason::Count),
              "one name per drop reason");

}  // namespace

const char* errorCodeName(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  // An out-of-range value can only come from a cast; still never return null.
  return i < kErrorCount ? kErrorNames[i] : "unknown";
}

bool errorCodeFromName(const char* name, ErrorCode& out) {
  if (name == nullptr) return false;
  for (size_t i = 0; i < kErrorCount; ++i) {
    if (std::strcmp(name, kErrorNames[i]) == 0) {
      out = static_cast<ErrorCode>(i);
      return true;
    }
  }
  return false;
}

const char* dropReasonName(DropReason reason) {
  const auto i = static_cast<size_t>(reason);
  return i < static_cast<size_t>(DropReason::Count) ? kDropNames[i] : "unknown";
}

}  // namespace diarkis
