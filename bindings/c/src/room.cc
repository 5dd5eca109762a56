#include "room.h"

#include "convert.h"
#include "diarkis.h"
#include "session/room_rules.h"

namespace diarkis_c {

using diarkis::ErrorCode;

namespace {

// Only these room packets change the room id before their callback runs.
bool leavesOrMoves(uint8_t ver, uint16_t cmd) {
  return ver == diarkis::room::kVer && (cmd == diarkis::room::kCmdLeave || cmd == diarkis::room::kCmdMigrate);
}

diarkis::Event roomEvent(int type) {
  diarkis::Event ev;
  ev.type = diarkis::EventType::Room;
  ev.cmd = static_cast<uint16_t>(type);
  return ev;
}

}  // namespace

int Room::create(uint32_t maxMembers, const char* propsJson) {
  std::lock_guard<std::mutex> lk(mu_);
  return dkCode(SendCreateRoom(maxMembers, propsJson != nullptr ? propsJson : "{}"));
}

int Room::join(const char* roomId) {
  if (roomId == nullptr) return DK_ERR_INVALID_ARGUMENT;
  std::lock_guard<std::mutex> lk(mu_);
  return dkCode(SendJoinRoom(roomId));
}

int Room::leave() {
  std::lock_guard<std::mutex> lk(mu_);
  return dkCode(SendLeaveRoom());
}

int Room::info() {
  std::lock_guard<std::mutex> lk(mu_);
  return dkCode(SendGetRoomInfo());
}

int Room::setProps(const char* propsJson) {
  std::lock_guard<std::mutex> lk(mu_);
  return dkCode(SendSetRoomProps(propsJson != nullptr ? propsJson : "{}"));
}

int Room::broadcast(const uint8_t* data, size_t len, bool reliable) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (RoomId().empty()) return DK_ERR_NOT_IN_ROOM;
  }
  bool writable = true;  // sent outside the lock: the hot path does not wait on room callbacks
  const ErrorCode rc = broadcast_(data, len, reliable, &writable);
  if (rc != ErrorCode::None) return dkCode(rc);
  return writable ? 0 : 1;
}

int Room::migrate() {
  std::lock_guard<std::mutex> lk(mu_);
  if (RoomId().empty()) return DK_ERR_NOT_IN_ROOM;
  return dkCode(Migrate());
}

bool Room::onResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) {
  std::lock_guard<std::mutex> lk(mu_);
  if (leavesOrMoves(ver, cmd)) before_ = RoomId();
  inAnswer_ = true;
  const bool mine = HandleResponse(ver, cmd, status, payload, len);
  inAnswer_ = false;
  return mine;
}

bool Room::onPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) {
  std::lock_guard<std::mutex> lk(mu_);
  if (leavesOrMoves(ver, cmd)) before_ = RoomId();
  return HandlePush(ver, cmd, payload, len);
}

void Room::onOffline(bool autoMigrate) {
  std::lock_guard<std::mutex> lk(mu_);
  HandleOffline(autoMigrate);
}

void Room::onError(ErrorCode code) {
  std::lock_guard<std::mutex> lk(mu_);
  before_ = RoomId();
  HandleError(code);
}

void Room::post(int type, const std::string& error, std::string text, std::string text2) {
  diarkis::Event ev = roomEvent(type);
  if (!error.empty()) ev.code = ErrorCodeOf(error);
  const bool ownerFlag = type == DK_EV_ROOM_CREATED || type == DK_EV_ROOM_OWNER_CHANGE || type == DK_EV_ROOM_MIGRATED;
  if (ownerFlag) ev.status = IsOwner() ? 1 : 0;  // diarkis.h: "owner"
  ev.message = std::move(text);
  ev.address = std::move(text2);
  post_(std::move(ev));
}

void Room::postState(int type, bool ok, const diarkis::RoomState& st, const std::string& error) {
  if (!ok) {
    post(type, error.empty() ? "bad-answer" : error, std::string());
    return;
  }
  diarkis::Event ev = roomEvent(type);
  ev.message = st.roomId;
  ev.address = st.ownerId;
  ev.status = IsOwner() ? 1 : 0;
  ev.rttMs = static_cast<double>(st.members.size());
  ev.payload.assign(st.json.begin(), st.json.end());
  post_(std::move(ev));
}

void Room::OnRoomCreate(bool ok, const std::string& roomId, const std::string& error) {
  if (ok) post(DK_EV_ROOM_CREATED, std::string(), roomId, Uid());
  else post(DK_EV_ROOM_CREATED, error, std::string());
}

void Room::OnRoomJoin(bool ok, const diarkis::RoomState& state, const std::string& error) {
  postState(DK_EV_ROOM_JOINED, ok, state, error);
}

void Room::OnRoomInfo(bool ok, const diarkis::RoomState& state, const std::string& error) {
  postState(DK_EV_ROOM_INFO, ok, state, error);
}

void Room::OnRoomLeave(bool ok, const std::string& error) {
  if (!ok) {
    post(DK_EV_ROOM_LEFT, error, std::string());
    return;
  }
  diarkis::Event ev = roomEvent(DK_EV_ROOM_LEFT);
  ev.message = before_;
  if (error == "removed") {
    ev.status = DK_ROOM_LEFT_REMOVED;
  } else if (error == "room-migration-timeout") {
    ev.status = DK_ROOM_LEFT_MIGRATION_TIMEOUT;
    ev.code = ErrorCode::RoomMigrationTimeout;
  }
  post_(std::move(ev));
}

void Room::OnRoomProps(const std::string& propsJson) {
  diarkis::Event ev = roomEvent(DK_EV_ROOM_PROPS);
  ev.status = inAnswer_ ? 1 : 0;
  ev.message = RoomId();
  ev.payload.assign(propsJson.begin(), propsJson.end());
  post_(std::move(ev));
}

void Room::OnRoomPropsFailed(const std::string& error) {
  diarkis::Event ev = roomEvent(DK_EV_ROOM_PROPS);
  ev.status = 1;
  ev.code = ErrorCodeOf(error);
  post_(std::move(ev));
}

void Room::OnMemberJoin(const std::string& uid) { post(DK_EV_ROOM_MEMBER_JOIN, std::string(), uid); }

void Room::OnMemberLeave(const std::string& uid) { post(DK_EV_ROOM_MEMBER_LEAVE, std::string(), uid); }

void Room::OnMemberBroadcast(const std::string& uid, const uint8_t* data, size_t len) {
  diarkis::Event ev = roomEvent(DK_EV_ROOM_MESSAGE);
  ev.message = uid;
  if (len > 0) ev.payload.assign(data, data + len);  // the client's buffer is not ours to keep
  post_(std::move(ev));
}

void Room::OnOwnerChange(const std::string& ownerId) { post(DK_EV_ROOM_OWNER_CHANGE, std::string(), ownerId); }

void Room::OnMigrate(bool ok, const std::string& newRoomId, const std::string& error) {
  if (ok) post(DK_EV_ROOM_MIGRATED, std::string(), newRoomId, before_);
  else post(DK_EV_ROOM_MIGRATED, error.empty() ? "bad-push" : error, std::string());
}

}  // namespace diarkis_c
