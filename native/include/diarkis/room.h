// DiarkisRoomBase: rooms (PROTOCOL.md section 10) on top of a DiarkisTcpBase or a
// DiarkisUdpBase, in the shape of the C++ SDK's room module.
//
// Use: subclass DiarkisRoomBase and override the On* callbacks you need; give it
// the client to send through (SenderOf(client)); from your client's OnResponse
// and OnPush call HandleResponse / HandlePush first (they return true for room
// packets, which are then consumed).
//
// Threading: the On* callbacks run on the thread that calls Handle* (the client's
// callbacks run on the network thread) and must not block. RoomId()/OwnerId()/
// IsOwner() are updated there; read them from that thread, or guard them yourself.
//
// Properties travel as JSON object text ("{\"map\":\"dunes\"}"): the room does not
// impose a JSON library on its users. Malformed packets from the server are
// counted (BadPackets()) and dropped, never thrown.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "diarkis/errors.h"

namespace diarkis {

struct RoomState {
  std::string roomId;
  std::string ownerId;
  std::vector<std::string> members;  // in join order
  std::string propsJson;             // a JSON object
  std::string json;                  // the node's whole answer as JSON object text
};

class DiarkisRoomBase {
 public:
  // How the room sends a ver 1 request (reliable = RSend, else Send).
  using SendFn = std::function<ErrorCode(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable)>;

  explicit DiarkisRoomBase(SendFn send) : send_(std::move(send)) {}
  virtual ~DiarkisRoomBase() = default;
  DiarkisRoomBase(const DiarkisRoomBase&) = delete;
  DiarkisRoomBase& operator=(const DiarkisRoomBase&) = delete;

  // A SendFn over a DiarkisTcpBase / DiarkisUdpBase (or anything with Send and RSend).
  template <class Client>
  static SendFn SenderOf(Client& client) {
    return [&client](uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable) {
      return reliable ? client.RSend(ver, cmd, body, len) : client.Send(ver, cmd, body, len);
    };
  }

  // Requests. InvalidArgument for a bad argument (props must be a JSON object),
  // else what the client's Send returns. Answers come through the On* below.
  ErrorCode SendCreateRoom(uint32_t maxMembers, const std::string& propsJson = "{}");
  ErrorCode SendJoinRoom(const std::string& roomId);
  ErrorCode SendLeaveRoom();
  ErrorCode SendGetRoomInfo();
  ErrorCode SendSetRoomProps(const std::string& propsJson);
  // To every other member; reliable by default (unreliable = one datagram on UDP).
  ErrorCode SendBroadcast(const uint8_t* data, size_t len, bool reliable = true);
  // The owner moves the room off its OFFLINE node (call it from OnOffline). The
  // client carries out its own move; OnMigrate(true, newId) reaches every member.
  // A non-owner gets OnMigrate(false, "", "not-owner").
  ErrorCode Migrate();

  // Feed the client's answers and pushes; true = a room packet (consumed).
  bool HandleResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len);
  bool HandlePush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len);
  // Feed the client's OnOffline. With autoMigrate (the client's automatic mode) the
  // owner moves its room at once (Migrate()); a refusal of that move is not reported:
  // the node moves the owner itself when the room lives on another node.
  void HandleOffline(bool autoMigrate);
  // Feed the client's OnError. RoomMigrationTimeout (automatic mode: the room did not
  // move this client within the handoff TTL, so it migrated alone) leaves the room:
  // OnRoomLeave(true, "room-migration-timeout"), and a leave request goes to the new
  // node (held by the migration; its answer is consumed). True for that error.
  bool HandleError(ErrorCode code);

  // A node's Bad code ("room-full", "not-owner", ...) as an ErrorCode; ProtocolError
  // for anything else ("status-5", "bad-answer").
  static ErrorCode ErrorCodeOf(const std::string& nodeCode);

  const std::string& RoomId() const { return roomId_; }  // empty outside a room
  const std::string& OwnerId() const { return ownerId_; }
  const std::string& Uid() const { return me_; }          // known after create or join
  bool IsOwner() const { return !roomId_.empty() && !me_.empty() && ownerId_ == me_; }
  uint64_t BadPackets() const { return bad_; }

 protected:
  // `error` is the node's code ("room-full", "not-owner", ...) when ok is false.
  virtual void OnRoomCreate(bool ok, const std::string& roomId, const std::string& error) {
    (void)ok; (void)roomId; (void)error;
  }
  virtual void OnRoomJoin(bool ok, const RoomState& state, const std::string& error) {
    (void)ok; (void)state; (void)error;
  }
  virtual void OnRoomLeave(bool ok, const std::string& error) { (void)ok; (void)error; }
  virtual void OnRoomInfo(bool ok, const RoomState& state, const std::string& error) {
    (void)ok; (void)state; (void)error;
  }
  // The merged properties: the answer to SendSetRoomProps and every member's 1/6 push.
  virtual void OnRoomProps(const std::string& propsJson) { (void)propsJson; }
  // SendSetRoomProps refused (the node's code, e.g. "not-in-room").
  virtual void OnRoomPropsFailed(const std::string& error) { (void)error; }
  virtual void OnMemberJoin(const std::string& uid) { (void)uid; }
  virtual void OnMemberLeave(const std::string& uid) { (void)uid; }
  virtual void OnMemberBroadcast(const std::string& uid, const uint8_t* data, size_t len) {
    (void)uid; (void)data; (void)len;
  }
  virtual void OnOwnerChange(const std::string& ownerId) { (void)ownerId; }
  // Every member, once per move (the SDK's OnMigrate(ok, newRoomId)).
  virtual void OnMigrate(bool ok, const std::string& newRoomId, const std::string& error) {
    (void)ok; (void)newRoomId; (void)error;
  }

 private:
  ErrorCode sendJson(uint16_t cmd, const std::string& json);

  SendFn send_;
  // Leave and migrate requests in flight, oldest first: true for the ones this class
  // sent on its own (HandleError's leave, HandleOffline's migrate), whose answers
  // are not reported. Answers come in request order.
  std::deque<bool> leaves_;
  std::deque<bool> migrates_;
  std::string roomId_;
  std::string ownerId_;
  std::string me_;
  uint64_t bad_ = 0;
};

}  // namespace diarkis
