// DiarkisContext and DiarkisClient: the idiomatic C# face of the C ABI.
// Events are raised from DiarkisContext.Poll() on the caller's thread (Unity: a
// MonoBehaviour's Update), never from a native thread.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Diarkis.Native;

namespace Diarkis
{
    public class DiarkisException : Exception
    {
        public readonly int Code;       // a Dk.ERR_* number
        public readonly string CodeName; // the same string as the TypeScript DiarkisError.code
        public DiarkisException(int code, string what)
            : base(what + ": " + Dk.ErrorName(code)) { Code = code; CodeName = Dk.ErrorName(code); }

        internal static int Check(int rc, string what)
        {
            if (rc < 0) throw new DiarkisException(rc, what);
            return rc;
        }
    }

    public enum DiarkisState { Idle = 0, Connecting = 1, Connected = 2, Migrating = 3, Closing = 4, Closed = 5 }

    public struct DiarkisEndpoint
    {
        public string Host;      // numeric IPv4 or IPv6
        public ushort Port;
        public string Sid;       // 32 hex digits
        public string Key, Iv, MacKey;  // "" for an unencrypted endpoint
    }

    // One native context: its network thread, its event queue, its clients.
    // Dispose() destroys every client; Unity's Editor disposes all contexts on a
    // domain reload (DiarkisEditorReload.cs), so no native thread outlives the scripts.
    public sealed class DiarkisContext : IDisposable
    {
        static readonly List<DiarkisContext> live = new List<DiarkisContext>();
        IntPtr ctx;
        readonly Dictionary<int, DiarkisClient> clients = new Dictionary<int, DiarkisClient>();
        readonly DkEvent[] batch = new DkEvent[64];

        public DiarkisContext()
        {
            DiarkisEditorReload.Install();
            // The layouts are the contract (diarkis.h asserts the same on the C side).
            if (!Dk.LayoutsMatch()) throw new DiarkisException(Dk.ERR_INTERNAL_ERROR, "struct layout");
            if (Dk.dk_api_version() != Dk.ApiVersion) throw new DiarkisException(Dk.ERR_ADDON_UNAVAILABLE, "libdiarkis version");
            ctx = Dk.dk_context_create();
            if (ctx == IntPtr.Zero) throw new DiarkisException(Dk.ERR_INTERNAL_ERROR, "dk_context_create");
            lock (live) live.Add(this);
        }

        internal IntPtr Handle
        {
            get
            {
                if (ctx == IntPtr.Zero) throw new ObjectDisposedException("DiarkisContext");
                return ctx;
            }
        }

        internal void Register(DiarkisClient c) { clients[c.Id] = c; }
        internal void Forget(int id) { clients.Remove(id); }

        // Raises the waiting events on this thread; waits up to timeoutMs for the
        // first (0: a game frame's non-blocking poll; -1: until an event or Wake()).
        // Returns the number of events raised. One thread at a time.
        public int Poll(int timeoutMs = 0)
        {
            int total = 0;
            for (;;)
            {
                int n = DiarkisException.Check(Dk.dk_poll(Handle, batch, batch.Length, total == 0 ? timeoutMs : 0), "dk_poll");
                for (int i = 0; i < n; i++)
                {
                    DiarkisClient c;
                    if (clients.TryGetValue(batch[i].client, out c)) c.Raise(ref batch[i]);
                }
                total += n;
                if (n < batch.Length || ctx == IntPtr.Zero) return total;
            }
        }

        public void Wake() { if (ctx != IntPtr.Zero) Dk.dk_context_wake(ctx); }

        // Call from the polling thread (or after it stopped): dk_context_destroy
        // must not race a poll.
        public void Dispose()
        {
            if (ctx == IntPtr.Zero) return;
            foreach (var c in new List<DiarkisClient>(clients.Values)) c.Orphan();
            clients.Clear();
            Dk.dk_context_destroy(ctx);
            ctx = IntPtr.Zero;
            lock (live) live.Remove(this);
        }

        // Every context still open (Editor domain reload, process exit).
        public static void DisposeAll()
        {
            List<DiarkisContext> all;
            lock (live) all = new List<DiarkisContext>(live);
            foreach (var c in all) c.Dispose();
        }
    }

    public sealed class DiarkisClient : IDisposable
    {
        public event Action<bool> Connected;                 // true: reconnected after a migration
        public event Action<int, string> Disconnected;       // code (Dk.ERR_*), message
        public event Action<byte, ushort, byte, byte[]> Response;  // ver, cmd, status, payload
        public event Action<byte, ushort, byte[]> Pushed;    // ver, cmd, payload
        public event Action Offline;                         // the node is going offline
        public event Action<string, string, double> Migrated;  // from, to, took ms
        public event Action<int> MigrationFailed;            // Dk.ERR_NO_TARGET or ERR_MIGRATION_FAILED
        public event Action<double> Heartbeat;               // rtt ms (TCP heartbeat, UDP echo)
        public event Action Drained;
        public event Action<int, string> Error;              // non-fatal: code, message
        public event Action<byte, ushort, byte[]> Unsent;    // a held send handed back

        readonly DiarkisContext context;
        public readonly int Id;
        public readonly bool IsUdp;
        public readonly DiarkisRoom Room;  // its room (rooms: PROTOCOL section 10)

        // migration: Dk.MIGRATION_AUTO (default) or Dk.MIGRATION_MANUAL (call SendMigrate on Offline).
        public DiarkisClient(DiarkisContext context, bool udp, int migration = Dk.MIGRATION_AUTO)
        {
            this.context = context;
            IsUdp = udp;
            var o = new DkOptions { struct_size = (uint)Marshal.SizeOf(typeof(DkOptions)), migration = migration };
            Id = DiarkisException.Check(udp ? Dk.dk_udp_create(context.Handle, ref o) : Dk.dk_tcp_create(context.Handle, ref o),
                                        "create");
            context.Register(this);
            Room = new DiarkisRoom(context, Id);
        }

        public void Connect(DiarkisEndpoint ep)
        {
            var strings = new List<IntPtr>();
            try
            {
                var e = new DkEndpoint
                {
                    struct_size = (uint)Marshal.SizeOf(typeof(DkEndpoint)),
                    port = ep.Port,
                    host = Utf8(ep.Host, strings), sid_hex = Utf8(ep.Sid, strings),
                    key_hex = Utf8(ep.Key ?? "", strings), iv_hex = Utf8(ep.Iv ?? "", strings),
                    mac_key_hex = Utf8(ep.MacKey ?? "", strings),
                };
                DiarkisException.Check(Dk.dk_connect(context.Handle, Id, ref e), "connect");
            }
            finally
            {
                foreach (var p in strings) Marshal.FreeHGlobal(p);
            }
        }

        // false: accepted but past the high-water mark (Drained follows).
        public bool Send(byte ver, ushort cmd, byte[] data)
        {
            return DiarkisException.Check(Dk.dk_send(context.Handle, Id, ver, cmd, data, (uint)(data == null ? 0 : data.Length)), "send") == 0;
        }
        public bool RSend(byte ver, ushort cmd, byte[] data)
        {
            return DiarkisException.Check(Dk.dk_rsend(context.Handle, Id, ver, cmd, data, (uint)(data == null ? 0 : data.Length)), "rsend") == 0;
        }
        public void SendMigrate() { DiarkisException.Check(Dk.dk_send_migrate(context.Handle, Id), "send_migrate"); }
        public void Close() { DiarkisException.Check(Dk.dk_close(context.Handle, Id), "close"); }
        public DiarkisState State { get { return (DiarkisState)DiarkisException.Check(Dk.dk_state(context.Handle, Id), "state"); } }
        public DkStats Stats
        {
            get
            {
                var s = new DkStats { struct_size = (uint)Marshal.SizeOf(typeof(DkStats)) };
                DiarkisException.Check(Dk.dk_stats_get(context.Handle, Id, ref s), "stats");
                return s;
            }
        }

        bool disposed;
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            context.Forget(Id);
            Dk.dk_destroy(context.Handle, Id);
        }
        internal void Orphan() { disposed = true; }  // its context destroys it

        internal void Raise(ref DkEvent ev)
        {
            switch (ev.type)
            {
                case Dk.EV_CONNECT: if (Connected != null) Connected(ev.value == 1); break;
                case Dk.EV_DISCONNECT: if (Disconnected != null) Disconnected(ev.code, Dk.Utf8(ev.text)); break;
                case Dk.EV_RESPONSE: if (Response != null) Response(ev.ver, ev.cmd, ev.status, Payload(ref ev)); break;
                case Dk.EV_PUSH: if (Pushed != null) Pushed(ev.ver, ev.cmd, Payload(ref ev)); break;
                case Dk.EV_OFFLINE: if (Offline != null) Offline(); break;
                case Dk.EV_MIGRATED:
                    if (Migrated != null)
                    {
                        var parts = (Dk.Utf8(ev.text) ?? " ").Split(' ');
                        Migrated(parts[0], parts.Length > 1 ? parts[1] : "", ev.value);
                    }
                    break;
                case Dk.EV_MIGRATION_FAILED: if (MigrationFailed != null) MigrationFailed(ev.code); break;
                case Dk.EV_HEARTBEAT:
                case Dk.EV_ECHO: if (Heartbeat != null) Heartbeat(ev.value); break;
                case Dk.EV_DRAIN: if (Drained != null) Drained(); break;
                case Dk.EV_ERROR: if (Error != null) Error(ev.code, Dk.Utf8(ev.text)); break;
                case Dk.EV_UNSENT: if (Unsent != null) Unsent(ev.ver, ev.cmd, Payload(ref ev)); break;
                default: if (ev.type >= Dk.EV_ROOM_CREATED && ev.type <= Dk.EV_ROOM_MIGRATED) Room.Raise(ref ev); break;
            }
        }

        internal static byte[] Payload(ref DkEvent ev)
        {
            var b = new byte[ev.len];
            if (ev.len > 0) Marshal.Copy(ev.payload, b, 0, (int)ev.len);
            return b;
        }

        static IntPtr Utf8(string s, List<IntPtr> owned)
        {
            if (s == null) return IntPtr.Zero;
            var bytes = System.Text.Encoding.UTF8.GetBytes(s);
            var p = Marshal.AllocHGlobal(bytes.Length + 1);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            Marshal.WriteByte(p, bytes.Length, 0);
            owned.Add(p);
            return p;
        }
    }
}
