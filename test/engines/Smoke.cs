// The C ABI's scenario from C# under Mono, through bindings/unity (the same code
// a Unity project drops into Plugins/). Run by test/engines/run.mjs:
//   mono smoke.exe <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac>
//   mono smoke.exe rooms ...   the room scenario (RoomsSmoke.cs)
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using Diarkis;
using Diarkis.Native;

static class Smoke
{
    static int failures;
    static readonly Queue<object[]> seen = new Queue<object[]>();
    static int mainThread;

    static void Check(bool ok, string what)
    {
        if (ok) return;
        Console.Error.WriteLine("FAIL: " + what);
        failures++;
    }

    static void Note(params object[] ev)
    {
        Check(Thread.CurrentThread.ManagedThreadId == mainThread, "event raised off the polling thread");
        seen.Enqueue(ev);
    }

    // The next event named `kind`; liveness events are skipped, anything else fails.
    static object[] Expect(DiarkisContext ctx, string kind)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (;;)
        {
            while (seen.Count > 0)
            {
                var ev = seen.Dequeue();
                var k = (string)ev[0];
                if (k == kind) return ev;
                if (k == "heartbeat" || k == "drain" || (k == "connect" && (bool)ev[1])) continue;
                throw new Exception("unexpected " + string.Join(" ", ev) + " waiting for " + kind);
            }
            if (DateTime.UtcNow > deadline) throw new Exception("timed out waiting for " + kind);
            ctx.Poll(1000);
        }
    }

    static uint Counter(DiarkisContext ctx, DiarkisClient c)
    {
        c.RSend(2, 2, null);
        var r = Expect(ctx, "response");
        var p = (byte[])r[4];
        Check((ushort)r[2] == 2 && p.Length == 4, "counter answer");
        return (uint)(p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
    }

    static void NegativeCases()
    {
        Check(Dk.ErrorName(Dk.ERR_QUEUE_FULL) == "queue-full", "dk_error_name");
        Check(Dk.ErrorName(7) == "unknown", "unknown code");
        using (var ctx = new DiarkisContext())
        {
            var c = new DiarkisClient(ctx, true);
            Check(c.State == DiarkisState.Idle, "idle");
            try { c.Send(2, 1, new byte[] { 1 }); Check(false, "send before connect"); }
            catch (DiarkisException e) { Check(e.Code == Dk.ERR_NOT_CONNECTED && e.CodeName == "not-connected", "not-connected"); }
            try { c.Connect(new DiarkisEndpoint { Host = "localhost", Port = 9, Sid = "00112233445566778899aabbccddeeff" }); Check(false, "host name"); }
            catch (DiarkisException e) { Check(e.Code == Dk.ERR_INVALID_ARGUMENT, "host name refused"); }
            c.Dispose();
            try { var s = c.State; Check(false, "state of a destroyed client " + s); }
            catch (DiarkisException e) { Check(e.Code == Dk.ERR_INVALID_ARGUMENT, "destroyed id"); }
            var open = new DiarkisClient(ctx, false);
            open.Connect(new DiarkisEndpoint { Host = "127.0.0.1", Port = 9, Sid = "00112233445566778899aabbccddeeff" });
            var waker = new Thread(() => { Thread.Sleep(50); ctx.Wake(); });
            waker.Start();
            ctx.Poll(-1);  // returns on the wake (or the connect's failure)
            waker.Join();
        }  // disposed with a client open
    }

    static int Main(string[] a)
    {
        if (a.Length > 0 && a[0] == "rooms")
        {
            var rest = new string[a.Length - 1];
            Array.Copy(a, 1, rest, 0, rest.Length);
            return RoomsSmoke.Run(rest);
        }
        mainThread = Thread.CurrentThread.ManagedThreadId;
        NegativeCases();
        bool udp = a[0] == "udp", manual = a[1] == "manual";
        var ep = new DiarkisEndpoint { Host = a[2], Port = ushort.Parse(a[3]), Sid = a[4], Key = a[5], Iv = a[6], MacKey = a[7] };
        using (var ctx = new DiarkisContext())
        {
            var c = new DiarkisClient(ctx, udp, manual ? Dk.MIGRATION_MANUAL : Dk.MIGRATION_AUTO);
            c.Connected += again => Note("connect", again);
            c.Disconnected += (code, msg) => Note("disconnect", code, msg);
            c.Response += (ver, cmd, st, p) => Note("response", ver, cmd, st, p);
            c.Pushed += (ver, cmd, p) => Note("push", ver, cmd, p);
            c.Offline += () => Note("offline");
            c.Migrated += (from, to, ms) => Note("migrated", from, to, ms);
            c.MigrationFailed += code => Note("migration-failed", code);
            c.Heartbeat += ms => Note("heartbeat", ms);
            c.Error += (code, msg) => Note("error", code, msg);
            c.Connect(ep);
            Expect(ctx, "connect");
            Check(c.State == DiarkisState.Connected, "connected");

            c.RSend(2, 1, Encoding.UTF8.GetBytes("hello"));
            var r = Expect(ctx, "response");
            Check(Encoding.UTF8.GetString((byte[])r[4]) == "hello" && (byte)r[3] == 1, "echo");
            c.RSend(2, 3, Encoding.UTF8.GetBytes("pp"));
            Check(Encoding.UTF8.GetString((byte[])Expect(ctx, "push")[3]) == "pp", "push");
            Expect(ctx, "response");
            Check(Counter(ctx, c) == 1, "counter 1");

            Console.WriteLine("AWAIT-OFFLINE " + ep.Port);
            Console.Out.Flush();
            Expect(ctx, "offline");
            if (manual) c.SendMigrate();
            var m = Expect(ctx, "migrated");
            Console.WriteLine("migrated " + m[1] + " -> " + m[2] + " in " + ((double)m[3]).ToString("F1") + " ms");
            Check(Counter(ctx, c) == 2, "counter 2/2 after the move");
            Check(c.Stats.migrations == 1, "stats.migrations");

            c.Close();
            Check((int)Expect(ctx, "disconnect")[1] == Dk.ERR_CLOSED_BY_USER, "closed-by-user");
            Check(c.State == DiarkisState.Closed, "closed");
            c.Dispose();
        }
        if (failures > 0) return 1;
        Console.WriteLine("PASS " + a[0] + " " + a[1]);
        return 0;
    }
}
