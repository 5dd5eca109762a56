// The room scenario of rooms.c from C# under Mono, through bindings/unity's
// DiarkisRoom: two clients on one node, create, join, broadcasts, props, info,
// migrate refused, the room's migration when its node goes offline (both follow
// it, the owner stays owner, new room id in Migrated, broadcasts after it), leave.
//   mono smoke.exe rooms <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac> (x2)
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using Diarkis;
using Diarkis.Native;

static class RoomsSmoke
{
    static int failures;
    static int mainThread;
    static int memberJoins;
    static readonly List<object[]> seen = new List<object[]>();  // { client name, kind, args... }

    static void Check(bool ok, string what)
    {
        if (ok) return;
        Console.Error.WriteLine("FAIL: " + what);
        failures++;
    }

    static void Hook(DiarkisClient c, string who)
    {
        Action<object[]> note = ev =>
        {
            Check(Thread.CurrentThread.ManagedThreadId == mainThread, "event raised off the polling thread");
            var all = new object[ev.Length + 1];
            all[0] = who;
            ev.CopyTo(all, 1);
            seen.Add(all);
        };
        c.Connected += again => note(new object[] { "connect", again });
        c.Disconnected += (code, msg) => note(new object[] { "disconnect", code });
        c.Offline += () => note(new object[] { "offline" });
        c.Migrated += (from, to, ms) => note(new object[] { "migrated", to });
        var r = c.Room;
        r.Created += (code, id) => note(new object[] { "created", code, id });
        r.Joined += (code, st) => note(new object[] { "joined", code, st });
        r.Info += (code, st) => note(new object[] { "info", code, st });
        r.Left += (code, why, id) => note(new object[] { "left", code, why, id });
        r.Props += (code, answer, json) => note(new object[] { "props", code, answer, json });
        r.Migrated += (code, now, before) => note(new object[] { "room-migrated", code, now, before });
        r.MemberJoined += uid => { memberJoins++; note(new object[] { "member-join", uid }); };
        r.MemberLeft += uid => note(new object[] { "member-leave", uid });
        r.Message += (from, data) => note(new object[] { "message", from, Encoding.UTF8.GetString(data) });
        r.OwnerChanged += uid => note(new object[] { "owner", uid });
    }

    // The first event `kind` of `who` (others stay queued), polling up to 20 s.
    static object[] Take(DiarkisContext ctx, string who, string kind)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (;;)
        {
            for (int i = 0; i < seen.Count; i++)
            {
                if ((string)seen[i][0] != who || (string)seen[i][1] != kind) continue;
                var ev = seen[i];
                seen.RemoveAt(i);
                return ev;
            }
            if (DateTime.UtcNow > deadline) throw new Exception("timed out waiting for " + who + " " + kind);
            ctx.Poll(1000);
        }
    }

    static void Refused(Action call, int code, string what)
    {
        try { call(); Check(false, what + " accepted"); }
        catch (DiarkisException e) { Check(e.Code == code, what + ": " + e.CodeName); }
    }

    static DiarkisEndpoint Endpoint(string[] a, int at)
    {
        return new DiarkisEndpoint { Host = a[at], Port = ushort.Parse(a[at + 1]), Sid = a[at + 2], Key = a[at + 3], Iv = a[at + 4], MacKey = a[at + 5] };
    }

    public static int Run(string[] a)
    {
        mainThread = Thread.CurrentThread.ManagedThreadId;
        bool udp = a[0] == "udp", manual = a[1] == "manual";
        var epA = Endpoint(a, 2);
        using (var ctx = new DiarkisContext())
        {
            int mode = manual ? Dk.MIGRATION_MANUAL : Dk.MIGRATION_AUTO;
            var ca = new DiarkisClient(ctx, udp, mode);
            var cb = new DiarkisClient(ctx, udp, mode);
            Hook(ca, "a");
            Hook(cb, "b");
            // not connected, not in a room, bad arguments: refused at the call
            Refused(() => cb.Room.Create(4), Dk.ERR_NOT_CONNECTED, "create before connect");
            Refused(() => cb.Room.Broadcast(new byte[] { 1 }), Dk.ERR_NOT_IN_ROOM, "broadcast outside a room");
            Refused(() => cb.Room.Migrate(), Dk.ERR_NOT_IN_ROOM, "migrate outside a room");
            Refused(() => cb.Room.Join(null), Dk.ERR_INVALID_ARGUMENT, "join null");
            Refused(() => cb.Room.Create(4, "[1]"), Dk.ERR_INVALID_ARGUMENT, "props not an object");
            ca.Connect(epA);
            cb.Connect(Endpoint(a, 8));
            Take(ctx, "a", "connect");
            Take(ctx, "b", "connect");

            cb.Room.Leave();  // not in a room: the node says so
            var left = Take(ctx, "b", "left");
            Check((int)left[2] == Dk.ERR_NOT_IN_ROOM && (DiarkisRoomLeft)left[3] == DiarkisRoomLeft.Leave, "leave outside a room");
            cb.Room.Join("no-such-room");
            Check((int)Take(ctx, "b", "joined")[2] == Dk.ERR_ROOM_NOT_FOUND, "join an unknown room");

            ca.Room.Create(4, "{\"map\":\"dunes\"}");
            var created = Take(ctx, "a", "created");
            Check((int)created[2] == 0 && ca.Room.IsOwner && ca.Room.Id == (string)created[3], "created");
            string room = ca.Room.Id, owner = ca.Room.OwnerId;
            cb.Room.Join(room);
            var joined = (DiarkisRoomState)Take(ctx, "b", "joined")[3];
            Check(joined.RoomId == room && joined.OwnerId == owner && joined.Members == 2 && joined.Json.Contains("dunes"), "joined");
            Check(cb.Room.Id == room && !cb.Room.IsOwner, "b's view");
            string uidB = (string)Take(ctx, "a", "member-join")[2];

            cb.Room.Broadcast(Encoding.UTF8.GetBytes("hello"));
            var m = Take(ctx, "a", "message");
            Check((string)m[2] == uidB && (string)m[3] == "hello", "message to a");
            ca.Room.Broadcast(Encoding.UTF8.GetBytes("r1"));
            m = Take(ctx, "b", "message");
            Check((string)m[2] == owner && (string)m[3] == "r1", "message to b");

            ca.Room.SetProps("{\"round\":2}");
            var p1 = Take(ctx, "a", "props");
            var p2 = Take(ctx, "a", "props");
            Check((bool)p1[3] != (bool)p2[3] && ((string)p1[4]).Contains("\"round\":2"), "props answer and push");
            Check(((string)Take(ctx, "b", "props")[4]).Contains("\"map\":\"dunes\""), "props merged at b");

            cb.Room.Migrate();
            Check((int)Take(ctx, "b", "room-migrated")[2] == Dk.ERR_NOT_OWNER, "non-owner migrate");

            Console.WriteLine("AWAIT-OFFLINE " + epA.Port);
            Console.Out.Flush();
            Take(ctx, "a", "offline");
            Take(ctx, "b", "offline");
            if (manual) ca.Room.Migrate();
            var ma = Take(ctx, "a", "room-migrated");
            var mb = Take(ctx, "b", "room-migrated");
            string moved = (string)ma[3];
            Check((int)ma[2] == 0 && moved != room && (string)ma[4] == room, "a followed the room");
            Check((int)mb[2] == 0 && (string)mb[3] == moved && (string)mb[4] == room, "b followed the room");
            Take(ctx, "a", "migrated");
            Take(ctx, "b", "migrated");
            Check(ca.Room.IsOwner && ca.Room.Id == moved && cb.Room.Id == moved, "views after the move");

            ca.Room.Broadcast(Encoding.UTF8.GetBytes("after-a"), false);  // unreliable: on UDP it may be lost
            ca.Room.Broadcast(Encoding.UTF8.GetBytes("after-a2"));
            cb.Room.Broadcast(Encoding.UTF8.GetBytes("after-b"));
            Check((string)Take(ctx, "a", "message")[3] == "after-b", "broadcast after the move to a");
            for (;;)
            {
                var got = (string)Take(ctx, "b", "message")[3];
                if (got == "after-a2") break;
                Check(got == "after-a", "b got " + got);
            }
            cb.Room.RequestInfo();
            var info = (DiarkisRoomState)Take(ctx, "b", "info")[3];
            Check(info.RoomId == moved && info.OwnerId == owner && info.Members == 2 && info.Json.Contains("round"), "info after the move");
            Check(ca.Stats.migrations == 1 && cb.Stats.migrations == 1, "one migration each");

            cb.Room.Leave();
            left = Take(ctx, "b", "left");
            Check((int)left[2] == 0 && (string)left[4] == moved && cb.Room.Id == null, "left");
            Check((string)Take(ctx, "a", "member-leave")[2] == uidB, "member leave");
            Refused(() => cb.Room.Broadcast(new byte[] { 1 }), Dk.ERR_NOT_IN_ROOM, "broadcast after leave");
            Check(memberJoins == 1, "one member join (none for the move): " + memberJoins);

            ca.Close();
            cb.Close();
            Check((int)Take(ctx, "a", "disconnect")[2] == Dk.ERR_CLOSED_BY_USER, "a closed");
            Check((int)Take(ctx, "b", "disconnect")[2] == Dk.ERR_CLOSED_BY_USER, "b closed");
            ca.Dispose();
            cb.Dispose();
            Refused(() => ca.Room.Leave(), Dk.ERR_INVALID_ARGUMENT, "the room of a destroyed client");
        }
        if (failures > 0) return 1;
        Console.WriteLine("PASS rooms " + a[0] + " " + a[1]);
        return 0;
    }
}
