// DiarkisRoom: a client's room (PROTOCOL section 10) over the dk_room_* functions.
// Requests return at once; their answers, and what the other members do, are C#
// events raised from DiarkisContext.Poll() on the caller's thread. Id, OwnerId and
// IsOwner are what the events raised so far said (the caller's view, not the
// network thread's). A client is in one room at most; the room follows it across
// migrations under a new id (Migrated).
using System;
using System.Text;
using Diarkis.Native;

namespace Diarkis
{
    public enum DiarkisRoomLeft { Leave = Dk.ROOM_LEFT_LEAVE, Removed = Dk.ROOM_LEFT_REMOVED, MigrationTimeout = Dk.ROOM_LEFT_MIGRATION_TIMEOUT }

    public struct DiarkisRoomState
    {
        public string RoomId;
        public string OwnerId;
        public int Members;
        public string Json;  // {"roomId","ownerId","members":[...],"props":{...}}: members in join order
    }

    public sealed class DiarkisRoom
    {
        // Answers: code 0, or the Dk.ERR_* of the refusal (e.g. ERR_ROOM_FULL, ERR_NOT_IN_ROOM).
        public event Action<int, string> Created;               // code, room id
        public event Action<int, DiarkisRoomState> Joined;      // code, the room (default when refused)
        public event Action<int, DiarkisRoomState> Info;        // code, the room now
        public event Action<int, DiarkisRoomLeft, string> Left; // code, why, the room id (Leave: Leave()'s answer)
        public event Action<int, bool, string> Props;           // code, answer to SetProps (else a member's change), props JSON
        public event Action<int, string, string> Migrated;      // code (refused Migrate()), new room id, old room id
        // What the members do.
        public event Action<string> MemberJoined;               // uid
        public event Action<string> MemberLeft;                 // uid
        public event Action<string, byte[]> Message;            // sender uid, bytes
        public event Action<string> OwnerChanged;               // the new owner's uid

        readonly DiarkisContext context;
        readonly int client;

        internal DiarkisRoom(DiarkisContext context, int client)
        {
            this.context = context;
            this.client = client;
        }

        public string Id { get; private set; }       // null outside a room
        public string OwnerId { get; private set; }
        public bool IsOwner { get; private set; }

        // propsJson: a JSON object ("{\"map\":\"dunes\"}"), null for none.
        public void Create(uint maxMembers, string propsJson = null)
        {
            DiarkisException.Check(Dk.dk_room_create(context.Handle, client, maxMembers, Dk.Utf8z(propsJson)), "room create");
        }
        public void Join(string roomId) { DiarkisException.Check(Dk.dk_room_join(context.Handle, client, Dk.Utf8z(roomId)), "room join"); }
        public void Leave() { DiarkisException.Check(Dk.dk_room_leave(context.Handle, client), "room leave"); }
        public void RequestInfo() { DiarkisException.Check(Dk.dk_room_info(context.Handle, client), "room info"); }
        public void SetProps(string propsJson)
        {
            DiarkisException.Check(Dk.dk_room_set_props(context.Handle, client, Dk.Utf8z(propsJson)), "room set props");
        }
        // To every other member. false: accepted but past the high-water mark (the client's Drained follows).
        // Unreliable: one datagram on UDP (may be lost); reliable on TCP anyway.
        public bool Broadcast(byte[] data, bool reliable = true)
        {
            uint len = (uint)(data == null ? 0 : data.Length);
            int rc = reliable ? Dk.dk_room_broadcast(context.Handle, client, data, len)
                              : Dk.dk_room_broadcast_unreliable(context.Handle, client, data, len);
            return DiarkisException.Check(rc, "room broadcast") == 0;
        }
        // The owner moves the room off its OFFLINE node (manual mode: from Offline). Migrated follows.
        public void Migrate() { DiarkisException.Check(Dk.dk_room_migrate(context.Handle, client), "room migrate"); }

        internal void Raise(ref DkEvent ev)
        {
            string text = Dk.Utf8(ev.text), text2 = Dk.Utf8(ev.Text2);
            bool owner = ev.status == 1;
            switch (ev.type)
            {
                case Dk.EV_ROOM_CREATED:
                    if (ev.code == 0) Enter(text, text2, owner);
                    if (Created != null) Created(ev.code, text);
                    break;
                case Dk.EV_ROOM_JOINED:
                case Dk.EV_ROOM_INFO:
                    var st = new DiarkisRoomState();
                    if (ev.code == 0)
                    {
                        st = new DiarkisRoomState { RoomId = text, OwnerId = text2, Members = (int)ev.value,
                                                    Json = Encoding.UTF8.GetString(DiarkisClient.Payload(ref ev)) };
                        Enter(text, text2, owner);
                    }
                    if (ev.type == Dk.EV_ROOM_JOINED) { if (Joined != null) Joined(ev.code, st); }
                    else if (Info != null) Info(ev.code, st);
                    break;
                case Dk.EV_ROOM_LEFT:
                    if (ev.code == 0 || ev.status != Dk.ROOM_LEFT_LEAVE) Enter(null, null, false);
                    if (Left != null) Left(ev.code, (DiarkisRoomLeft)ev.status, text);
                    break;
                case Dk.EV_ROOM_PROPS:
                    if (Props != null) Props(ev.code, ev.status == 1, Encoding.UTF8.GetString(DiarkisClient.Payload(ref ev)));
                    break;
                case Dk.EV_ROOM_MEMBER_JOIN: if (MemberJoined != null) MemberJoined(text); break;
                case Dk.EV_ROOM_MEMBER_LEAVE: if (MemberLeft != null) MemberLeft(text); break;
                case Dk.EV_ROOM_MESSAGE: if (Message != null) Message(text, DiarkisClient.Payload(ref ev)); break;
                case Dk.EV_ROOM_OWNER_CHANGE:
                    OwnerId = text;
                    IsOwner = owner;
                    if (OwnerChanged != null) OwnerChanged(text);
                    break;
                case Dk.EV_ROOM_MIGRATED:
                    if (ev.code == 0)
                    {
                        Id = text;
                        IsOwner = owner;
                    }
                    if (Migrated != null) Migrated(ev.code, text, text2);
                    break;
            }
        }

        void Enter(string id, string ownerId, bool owner)
        {
            Id = id;
            OwnerId = ownerId;
            IsOwner = owner;
        }
    }
}
