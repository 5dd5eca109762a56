/**
 * secure(body) of PROTOCOL.md section 2: uint32 plaintextLength || HMAC-SHA256(macKey, C) || C,
 * C = AES-128-CBC(key, iv, zeroPad(body)). Node's crypto (OpenSSL) does the primitives.
 */
import {
  Cipher,
  createCipheriv,
  createDecipheriv,
  createHmac,
  Decipher,
  randomBytes,
} from 'node:crypto';
import { AES_BLOCK, KEY_SIZE, MAC_SIZE, SECURE_HEADER_SIZE, SID_SIZE } from './constants';

export interface SessionKeys {
  key: Buffer;
  iv: Buffer;
  macKey: Buffer;
}

export type OpenError = { error: 'bad-mac' | 'bad-secure' };

export function isOpenError(r: Buffer | OpenError): r is OpenError {
  return !Buffer.isBuffer(r);
}

const BAD_MAC: OpenError = Object.freeze({ error: 'bad-mac' });
const BAD_SECURE: OpenError = Object.freeze({ error: 'bad-secure' });
/** openAll's placeholder for "passed the checks, not decrypted yet". */
const EMPTY = Buffer.alloc(0);

/**
 * HMAC-SHA256 as a 32-character latin1 string: node:crypto builds a string straight from the digest,
 * where a Buffer costs an ArrayBuffer of its own per message (allocated, tracked, collected).
 */
function macOf(macKey: Buffer, data: Uint8Array): string {
  return createHmac('sha256', macKey).update(data).digest('binary'); // 'binary' = latin1
}

/** `mac` (latin1) against b[at..at + 32), in constant time (no early exit). */
function sameMac(mac: string, b: Buffer, at: number): boolean {
  let x = 0;
  for (let i = 0; i < MAC_SIZE; i++) x |= mac.charCodeAt(i) ^ b[at + i];
  return x === 0 && mac.length === MAC_SIZE;
}

/**
 * CBC with a fixed IV, reusing one OpenSSL context per direction (creating one per packet costs
 * more than the AES itself). A CBC context that is never finalised carries the last ciphertext
 * block as its chaining value; XOR-ing (IV ^ that block) into the first block of the next message
 * makes it exactly a fresh CBC run from the IV. The golden vectors check this byte for byte.
 */
class CbcStream {
  private readonly ctx: Cipher | Decipher;
  private readonly prev: Buffer;

  constructor(
    private readonly decrypt: boolean,
    key: Buffer,
    private readonly iv: Buffer,
  ) {
    this.ctx = (decrypt ? createDecipheriv : createCipheriv)('aes-128-cbc', key, iv).setAutoPadding(false);
    this.prev = Buffer.from(iv); // the chaining value the context holds now
  }

  /** `data` is a whole number of blocks. Encrypting modifies `data`'s first block in place. */
  run(data: Buffer): Buffer {
    const iv = this.iv;
    const prev = this.prev;
    if (!this.decrypt) for (let i = 0; i < AES_BLOCK; i++) data[i] ^= iv[i] ^ prev[i];
    const out = this.ctx.update(data);
    if (out.length !== data.length) throw new Error('aes-128-cbc: unexpected output length');
    if (this.decrypt) for (let i = 0; i < AES_BLOCK; i++) out[i] ^= iv[i] ^ prev[i];
    const last = this.decrypt ? data : out;
    last.copy(prev, 0, last.length - AES_BLOCK, last.length);
    return out;
  }

  /**
   * Decrypts several messages laid end to end in `data` in one call: message m starts at block
   * offset starts[m]; its first block is corrected as run() corrects one message's, with the
   * previous message's last ciphertext block as the chaining value the context used.
   */
  runMany(data: Buffer, starts: readonly number[]): Buffer {
    const iv = this.iv;
    const prev = this.prev;
    const out = this.ctx.update(data);
    if (out.length !== data.length) throw new Error('aes-128-cbc: unexpected output length');
    for (let i = 0; i < AES_BLOCK; i++) out[i] ^= iv[i] ^ prev[i];
    for (let m = 1; m < starts.length; m++) {
      const s = starts[m];
      for (let i = 0; i < AES_BLOCK; i++) out[s + i] ^= iv[i] ^ data[s - AES_BLOCK + i];
    }
    data.copy(prev, 0, data.length - AES_BLOCK, data.length);
    return out;
  }
}

export class SessionCrypto {
  private readonly keys: SessionKeys | null;
  private readonly enc: CbcStream | null;
  private readonly dec: CbcStream | null;

  /** `null` keys = encryption off: seal/open pass the body through. */
  constructor(keys: SessionKeys | null) {
    if (keys !== null) {
      for (const [name, b] of Object.entries(keys) as [string, Buffer][]) {
        if (!Buffer.isBuffer(b) || b.length !== KEY_SIZE) throw new RangeError(`${name} must be ${KEY_SIZE} bytes`);
      }
      // Own copies: the caller may reuse its buffers.
      this.keys = { key: Buffer.from(keys.key), iv: Buffer.from(keys.iv), macKey: Buffer.from(keys.macKey) };
      this.enc = new CbcStream(false, this.keys.key, this.keys.iv);
      this.dec = new CbcStream(true, this.keys.key, this.keys.iv);
    } else {
      this.keys = null;
      this.enc = null;
      this.dec = null;
    }
  }

  static plain(): SessionCrypto {
    return new SessionCrypto(null);
  }

  get encrypted(): boolean {
    return this.keys !== null;
  }

  /** Length of seal(body) for a body of `n` bytes. */
  sealedLength(n: number): number {
    return this.keys === null ? n : SECURE_HEADER_SIZE + n + (AES_BLOCK - (n % AES_BLOCK));
  }

  /**
   * secure(body), in a fresh buffer with `headroom` bytes left free at the front so a packet header
   * (and SID) can be written there without another copy.
   */
  seal(body: Uint8Array, headroom = 0): Buffer {
    const k = this.keys;
    if (k === null || this.enc === null) {
      const out = Buffer.allocUnsafe(headroom + body.length);
      out.set(body, headroom);
      return out;
    }
    const n = body.length;
    const pad = AES_BLOCK - (n % AES_BLOCK); // 1..16 zero bytes
    // The zero-padded plaintext is laid out where the ciphertext goes (one pooled buffer, not a
    // zero-filled one per message), then overwritten by it.
    const at = headroom + SECURE_HEADER_SIZE;
    const out = Buffer.allocUnsafe(at + n + pad);
    out.set(body, at);
    out.fill(0, at + n);
    const c = this.enc.run(out.subarray(at));
    c.copy(out, at);
    out.writeUInt32BE(n, headroom);
    out.write(macOf(k.macKey, c), headroom + 4, MAC_SIZE, 'latin1');
    return out;
  }

  /** body, or why `secured` was rejected. The MAC is checked (constant time) before decrypting. */
  open(secured: Buffer): Buffer | OpenError {
    if (this.keys === null || this.dec === null) return secured;
    const bad = this.check(this.keys, secured);
    if (bad !== null) return bad;
    return this.dec.run(secured.subarray(SECURE_HEADER_SIZE)).subarray(0, secured.readUInt32BE(0));
  }

  /**
   * open() for the messages of one datagram, in order: every MAC checked first, then one AES call
   * for all that passed (one call into OpenSSL and one output buffer, not one per message).
   * Bodies are views of that one fresh buffer.
   */
  openAll(secured: readonly Buffer[]): (Buffer | OpenError)[] {
    const k = this.keys;
    const dec = this.dec;
    if (k === null || dec === null) return secured.slice();
    if (secured.length === 1) return [this.open(secured[0])];
    const out: (Buffer | OpenError)[] = new Array<Buffer | OpenError>(secured.length);
    const starts: number[] = [];
    let total = 0;
    for (let i = 0; i < secured.length; i++) {
      const bad = this.check(k, secured[i]);
      out[i] = bad ?? EMPTY;
      if (bad === null) {
        starts.push(total);
        total += secured[i].length - SECURE_HEADER_SIZE;
      }
    }
    if (starts.length === 0) return out;
    const joined = Buffer.allocUnsafe(total);
    for (let i = 0, o = 0; i < secured.length; i++) {
      if (out[i] !== EMPTY) continue;
      joined.set(secured[i].subarray(SECURE_HEADER_SIZE), o);
      o += secured[i].length - SECURE_HEADER_SIZE;
    }
    const plain = dec.runMany(joined, starts);
    for (let i = 0, m = 0; i < secured.length; i++) {
      if (out[i] !== EMPTY) continue;
      const s = starts[m++];
      out[i] = plain.subarray(s, s + secured[i].readUInt32BE(0));
    }
    return out;
  }

  /** null when `secured` is well formed and its MAC is right (compared in constant time). */
  private check(k: SessionKeys, secured: Buffer): OpenError | null {
    if (secured.length < SECURE_HEADER_SIZE + AES_BLOCK) return BAD_SECURE;
    const c = secured.subarray(SECURE_HEADER_SIZE);
    if (c.length % AES_BLOCK !== 0) return BAD_SECURE;
    if (secured.readUInt32BE(0) > c.length) return BAD_SECURE;
    return sameMac(macOf(k.macKey, c), secured, 4) ? null : BAD_MAC;
  }
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses exactly `bytes` bytes of hex (32 characters for keys and SIDs); throws otherwise. */
export function fromHex(hex: string, bytes = KEY_SIZE): Buffer {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RangeError(`expected ${bytes * 2} hex characters`);
  }
  return Buffer.from(hex, 'hex');
}

export interface SessionSecrets extends SessionKeys {
  sid: Buffer;
}

/** A fresh random SID and key set for one session. */
export function randomSessionSecrets(): SessionSecrets {
  const b = randomBytes(SID_SIZE + 3 * KEY_SIZE);
  return {
    sid: b.subarray(0, 16),
    key: b.subarray(16, 32),
    iv: b.subarray(32, 48),
    macKey: b.subarray(48, 64),
  };
}
