// libFuzzer target for DiarkisRoomBase's decoders: the first two bytes pick the
// kind (push or answer), the command and the status; the rest is the body from
// the server. Nothing may throw or crash; state stays consistent.
#include <cstddef>
#include <cstdint>

#include "diarkis/room.h"
#include "fuzz_common.h"

namespace {

class FuzzRoom : public diarkis::DiarkisRoomBase {
 public:
  FuzzRoom()
      : DiarkisRoomBase([](uint8_t, uint16_t, const uint8_t*, size_t, bool) { return diarkis::ErrorCode::None; }) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  if (len < 2) return 0;
  FuzzRoom room;
  const bool push = (data[0] & 0x80) != 0;
  const auto cmd = static_cast<uint16_t>(data[0] & 0x0F);
  const uint8_t statuses[] = {1, 4, 5, 0xFF};
  const uint8_t status = statuses[data[1] & 3];
  // Twice over the same room: a decoded state must survive a second packet.
  for (int i = 0; i < 2; ++i) {
    const bool consumed = push ? room.HandlePush(1, cmd, data + 2, len - 2)
                               : room.HandleResponse(1, cmd, status, data + 2, len - 2);
    fuzz::check(consumed);
  }
  fuzz::check(!room.HandlePush(2, cmd, data + 2, len - 2));
  if (room.IsOwner()) fuzz::check(!room.RoomId().empty());
  return 0;
}
