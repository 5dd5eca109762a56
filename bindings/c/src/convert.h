// Between the C structs of diarkis.h and the core's C++ types.
#pragma once
#include <cstddef>
#include <string>

#include "diarkis.h"
#include "diarkis/event.h"
#include "diarkis/tcp_client.h"
#include "diarkis/udp_client.h"

namespace diarkis_c {

inline int dkCode(diarkis::ErrorCode code) { return -static_cast<int>(code); }

// False when the caller's struct is too small for version 1 or a field is out of range.
bool toTcpOptions(const dk_options* in, diarkis::TcpOptions& out);
bool toUdpOptions(const dk_options* in, diarkis::UdpOptions& out);
// False for a NULL field, a bad struct_size or bad hex; the host is checked by Connect.
bool toEndpoint(const dk_endpoint* in, std::string& host, diarkis::SessionKeys& keys);
// Fills out from ev, whose strings and payload must outlive out's use (the text of
// MIGRATED and ECHO is composed into ev.message).
void toEvent(int client, diarkis::Event& ev, dk_event& out);
// Fills what out.struct_size covers (at least kStatsV1).
void toStats(const diarkis::StatsSnapshot& s, dk_stats& out);
constexpr size_t kStatsV1 = offsetof(dk_stats, dropped) + sizeof(uint64_t);

}  // namespace diarkis_c
