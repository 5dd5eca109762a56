// Diarkis.cs: the P/Invoke declarations of the C ABI (bindings/c/include/diarkis.h).
// Blittable structs only (fixed-width fields, IntPtr for pointers), so Mono and
// IL2CPP marshal them without a custom marshaller; strings cross as UTF-8 IntPtr.
// The layouts and numbers are the contract of CAPI.md: append-only.
using System;
using System.Runtime.InteropServices;

namespace Diarkis.Native
{
    public static class Dk
    {
#if (UNITY_IOS || UNITY_WEBGL) && !UNITY_EDITOR
        public const string Lib = "__Internal";  // statically linked into the player
#else
        public const string Lib = "diarkis";     // libdiarkis.so, diarkis.dll, libdiarkis.dylib
#endif
        public const int ApiVersion = 1;

        // Error codes (fixed numbers; dk_error_name gives the TypeScript DiarkisError.code strings).
        public const int OK = 0;
        public const int ERR_INVALID_ARGUMENT = -1;
        public const int ERR_NOT_CONNECTED = -2;
        public const int ERR_REFUSED = -3;
        public const int ERR_CONNECT_TIMEOUT = -4;
        public const int ERR_TIMEOUT = -5;
        public const int ERR_CLOSED_BY_SERVER = -6;
        public const int ERR_CLOSED_BY_USER = -7;
        public const int ERR_SERVER_SHUTDOWN = -8;
        public const int ERR_PROTOCOL_ERROR = -9;
        public const int ERR_PAYLOAD_TOO_LARGE = -10;
        public const int ERR_QUEUE_FULL = -11;
        public const int ERR_NO_TARGET = -12;
        public const int ERR_MIGRATION_FAILED = -13;
        public const int ERR_NETWORK_ERROR = -14;
        public const int ERR_INTERNAL_ERROR = -15;
        public const int ERR_KICKED = -16;
        public const int ERR_UNAUTHORIZED = -17;
        public const int ERR_ENDPOINT_UNAVAILABLE = -18;
        public const int ERR_ENDPOINT_ERROR = -19;
        public const int ERR_ADDON_UNAVAILABLE = -20;
        public const int ERR_BAD_MAC = -21;
        public const int ERR_ROOM_MIGRATION_TIMEOUT = -22;
        public const int ERR_NOT_OWNER = -23;
        public const int ERR_NOT_IN_ROOM = -24;
        public const int ERR_ALREADY_IN_ROOM = -25;
        public const int ERR_ROOM_NOT_FOUND = -26;
        public const int ERR_ROOM_FULL = -27;
        public const int ERR_ROOM_BUSY = -28;
        public const int ERR_RECEIVE_STALLED = -29;

        public const int EV_CONNECT = 1, EV_DISCONNECT = 2, EV_RESPONSE = 3, EV_PUSH = 4, EV_OFFLINE = 5,
            EV_MIGRATED = 6, EV_MIGRATION_FAILED = 7, EV_HEARTBEAT = 8, EV_ECHO = 9, EV_DRAIN = 10,
            EV_ERROR = 11, EV_UNSENT = 12;
        public const int EV_ROOM_CREATED = 13, EV_ROOM_JOINED = 14, EV_ROOM_LEFT = 15, EV_ROOM_INFO = 16,
            EV_ROOM_PROPS = 17, EV_ROOM_MEMBER_JOIN = 18, EV_ROOM_MEMBER_LEAVE = 19, EV_ROOM_MESSAGE = 20,
            EV_ROOM_OWNER_CHANGE = 21, EV_ROOM_MIGRATED = 22;
        public const int ROOM_LEFT_LEAVE = 0, ROOM_LEFT_REMOVED = 1, ROOM_LEFT_MIGRATION_TIMEOUT = 2;

        public const int MIGRATION_AUTO = 0, MIGRATION_MANUAL = 1;

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_api_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr dk_error_name(int code);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern IntPtr dk_context_create();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern void dk_context_destroy(IntPtr ctx);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_context_wake(IntPtr ctx);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_tcp_create(IntPtr ctx, ref DkOptions opts);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_udp_create(IntPtr ctx, ref DkOptions opts);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_connect(IntPtr ctx, int client, ref DkEndpoint ep);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_send(IntPtr ctx, int client, byte ver, ushort cmd, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_rsend(IntPtr ctx, int client, byte ver, ushort cmd, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_send_migrate(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_close(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_destroy(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_state(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_stats_get(IntPtr ctx, int client, ref DkStats stats);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_poll(IntPtr ctx, [In, Out] DkEvent[] events, int max, int timeoutMs);
        // Rooms. Strings go in as NUL-terminated UTF-8 byte arrays (Utf8z); null = NULL.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_create(IntPtr ctx, int client, uint maxMembers, byte[] propsJson);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_join(IntPtr ctx, int client, byte[] roomId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_leave(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_info(IntPtr ctx, int client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_set_props(IntPtr ctx, int client, byte[] propsJson);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_broadcast(IntPtr ctx, int client, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_broadcast_unreliable(IntPtr ctx, int client, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] public static extern int dk_room_migrate(IntPtr ctx, int client);

        public static string ErrorName(int code) { return Utf8(dk_error_name(code)) ?? "unknown"; }

        // s as NUL-terminated UTF-8 for a const char* parameter; null stays null (NULL).
        public static byte[] Utf8z(string s)
        {
            if (s == null) return null;
            var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
            System.Text.Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        // The struct layouts this library was built against (diarkis.h asserts the same on the
        // C side, scripts/abi-check.sh on 32- and 64-bit targets): false when the runtime lays
        // them out differently, which would corrupt every call.
        public static bool LayoutsMatch()
        {
            bool wide = IntPtr.Size == 8;
            return Marshal.SizeOf(typeof(DkEvent)) == (wide ? 64 : 56) && Offset(typeof(DkEvent), "value") == 24 &&
                   Offset(typeof(DkEvent), "payload") == 32 && Offset(typeof(DkEvent), "text") == (wide ? 40 : 36) &&
                   Offset(typeof(DkEvent), "text2_bits") == (wide ? 48 : 40) &&
                   Marshal.SizeOf(typeof(DkEndpoint)) == (wide ? 48 : 28) && Offset(typeof(DkEndpoint), "host") == 8 &&
                   Marshal.SizeOf(typeof(DkOptions)) == (wide ? 48 : 44) && Offset(typeof(DkOptions), "client_key") == 32 &&
                   Marshal.SizeOf(typeof(DkStats)) == 88 && Offset(typeof(DkStats), "packets_sent") == 8;
        }

        static int Offset(Type t, string field) { return Marshal.OffsetOf(t, field).ToInt32(); }

        // A NUL-terminated UTF-8 string (Marshal.PtrToStringAnsi is not UTF-8 on Windows).
        public static string Utf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return System.Text.Encoding.UTF8.GetString(bytes);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct DkEndpoint
    {
        public uint struct_size;
        public ushort port;
        public ushort reserved0;
        public IntPtr host, sid_hex, key_hex, iv_hex, mac_key_hex;  // UTF-8, NUL-terminated
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct DkOptions
    {
        public uint struct_size;
        public int migration;
        public uint connect_timeout_ms, heartbeat_interval_ms, handoff_ttl_ms, high_water_mark, max_queued_bytes;
        public uint reserved0;
        public IntPtr client_key;
        public uint receive_high_water_mark, max_receive_stall_ms;  // 0 = default (4 MiB, 60000 ms)
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct DkStats
    {
        public uint struct_size;
        public uint reserved0;
        public ulong packets_sent, packets_received, bytes_sent, bytes_received;
        public ulong retransmits, migrations, queued_bytes, dropped;
        public ulong undelivered_bytes, receive_pauses;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct DkEvent
    {
        public int client;
        public int type;
        public int code;
        public byte ver;
        public byte status;
        public ushort cmd;
        public uint len;
        public uint reserved0;
        public double value;
        public IntPtr payload;  // valid until the next dk_poll
        public IntPtr text;
        // const char* text2 and then reserved bytes: text2 is all 8 bytes of this on 64-bit and
        // the low 4 on 32-bit (little-endian), where it sits at 40 and C pads to 56; a ulong keeps
        // one sequential layout right on both (see Text2).
        public ulong text2_bits;
        public ulong reserved2;

        public IntPtr Text2
        {
            get { return IntPtr.Size == 8 ? new IntPtr((long)text2_bits) : new IntPtr((int)(uint)text2_bits); }
        }
    }
}
