// Room: a client's room for the C ABI, a DiarkisRoomBase whose callbacks become
// DK_EV_ROOM_* events in the context's queue (diarkis::EventType::Room, with the
// DK_EV_ROOM_* number in cmd, text in message, text2 in address, value in rttMs).
//
// Threads: the dk_room_* entry points run on the host's threads, the Handle* feeds
// on the network thread (the client's callbacks). One mutex serialises them, since
// DiarkisRoomBase's state is not thread-safe. Lock order: the client's callback
// lock, then this mutex, then the client's send lock (never the other way).
#pragma once
#include <functional>
#include <mutex>
#include <string>

#include "diarkis/event.h"
#include "diarkis/room.h"

namespace diarkis_c {

class Room final : private diarkis::DiarkisRoomBase {
 public:
  // How a broadcast goes (reliable or not), with the client's high-water report.
  using BroadcastFn = std::function<diarkis::ErrorCode(const uint8_t* data, size_t len, bool reliable, bool* writable)>;
  using PostFn = std::function<void(diarkis::Event&&)>;

  Room(SendFn send, BroadcastFn broadcast, PostFn post)
      : DiarkisRoomBase(std::move(send)), broadcast_(std::move(broadcast)), post_(std::move(post)) {}

  // Host threads: DK_OK / DK_ERR_* (0 or 1 for a broadcast, as dk_rsend).
  int create(uint32_t maxMembers, const char* propsJson);
  int join(const char* roomId);
  int leave();
  int info();
  int setProps(const char* propsJson);
  int broadcast(const uint8_t* data, size_t len, bool reliable);
  int migrate();

  // Network thread: the client's callbacks. True when a room packet was consumed.
  bool onResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len);
  bool onPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len);
  void onOffline(bool autoMigrate);
  void onError(diarkis::ErrorCode code);

 private:
  void OnRoomCreate(bool ok, const std::string& roomId, const std::string& error) override;
  void OnRoomJoin(bool ok, const diarkis::RoomState& state, const std::string& error) override;
  void OnRoomLeave(bool ok, const std::string& error) override;
  void OnRoomInfo(bool ok, const diarkis::RoomState& state, const std::string& error) override;
  void OnRoomProps(const std::string& propsJson) override;
  void OnRoomPropsFailed(const std::string& error) override;
  void OnMemberJoin(const std::string& uid) override;
  void OnMemberLeave(const std::string& uid) override;
  void OnMemberBroadcast(const std::string& uid, const uint8_t* data, size_t len) override;
  void OnOwnerChange(const std::string& ownerId) override;
  void OnMigrate(bool ok, const std::string& newRoomId, const std::string& error) override;

  void post(int type, const std::string& error, std::string text, std::string text2 = std::string());
  void postState(int type, bool ok, const diarkis::RoomState& st, const std::string& error);

  std::mutex mu_;
  BroadcastFn broadcast_;
  PostFn post_;
  std::string before_;     // the room id before the packet being handled (leave, migrate)
  bool inAnswer_ = false;  // handling an answer, not a push (DK_EV_ROOM_PROPS.status)
};

}  // namespace diarkis_c
