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

        public static string ErrorName(int code) { return Utf8(dk_error_name(code)) ?? "unknown"; }

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
        public ulong reserved1, reserved2;  // uint8_t reserved[16]
    }
}
