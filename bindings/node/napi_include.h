// node-addon-api, included with its own warnings silenced: its headers shadow
// parameters (-Wshadow), and ours must stay warning-clean. Include this, not <napi.h>.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <napi.h>
#pragma GCC diagnostic pop
