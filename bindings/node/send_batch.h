// sendBatch / queuedBytes exports (send_batch.cc): a JS turn's sends in one call.
#pragma once
#include "napi_include.h"

namespace diarkis_node {

void registerSendBatchExports(Napi::Env env, Napi::Object exports);

}  // namespace diarkis_node
