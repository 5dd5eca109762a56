// UdpOptions is public API: its one definition is native/include/diarkis/udp_options.h.
#pragma once
#include "diarkis/udp_options.h"
