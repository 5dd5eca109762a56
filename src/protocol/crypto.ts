/**
 * secure(body) of PROTOCOL.md section 2: uint32 plaintextLength || HMAC-SHA256(macKey, C) || C,
 * C = AES-128-CBC(key, iv, zeroPad(body)). Node's crypto (OpenSSL) does the primitives.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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

export class SessionCrypto {
  private readonly keys: SessionKeys | null;

  /** `null` keys = encryption off: seal/open pass the body through. */
  constructor(keys: SessionKeys | null) {
    if (keys !== null) {
      for (const [name, b] of Object.entries(keys) as [string, Buffer][]) {
        if (!Buffer.isBuffer(b) || b.length !== KEY_SIZE) throw new RangeError(`${name} must be ${KEY_SIZE} bytes`);
      }
      // Own copies: the caller may reuse its buffers.
      this.keys = { key: Buffer.from(keys.key), iv: Buffer.from(keys.iv), macKey: Buffer.from(keys.macKey) };
    } else this.keys = null;
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
    if (k === null) {
      const out = Buffer.allocUnsafe(headroom + body.length);
      out.set(body, headroom);
      return out;
    }
    const pad = AES_BLOCK - (body.length % AES_BLOCK); // 1..16 zero bytes
    const padded = Buffer.alloc(body.length + pad);
    padded.set(body, 0);
    const cipher = createCipheriv('aes-128-cbc', k.key, k.iv).setAutoPadding(false);
    const c1 = cipher.update(padded);
    const c2 = cipher.final();
    const clen = c1.length + c2.length;
    const out = Buffer.allocUnsafe(headroom + SECURE_HEADER_SIZE + clen);
    out.writeUInt32BE(body.length, headroom);
    c1.copy(out, headroom + SECURE_HEADER_SIZE);
    c2.copy(out, headroom + SECURE_HEADER_SIZE + c1.length);
    const c = out.subarray(headroom + SECURE_HEADER_SIZE);
    createHmac('sha256', k.macKey).update(c).digest().copy(out, headroom + 4);
    return out;
  }

  /** body, or why `secured` was rejected. The MAC is checked (constant time) before decrypting. */
  open(secured: Buffer): Buffer | OpenError {
    const k = this.keys;
    if (k === null) return secured;
    if (secured.length < SECURE_HEADER_SIZE + AES_BLOCK) return BAD_SECURE;
    const c = secured.subarray(SECURE_HEADER_SIZE);
    if (c.length % AES_BLOCK !== 0) return BAD_SECURE;
    const plen = secured.readUInt32BE(0);
    if (plen > c.length) return BAD_SECURE;
    const mac = createHmac('sha256', k.macKey).update(c).digest();
    if (!timingSafeEqual(mac, secured.subarray(4, 4 + MAC_SIZE))) return BAD_MAC;
    const d = createDecipheriv('aes-128-cbc', k.key, k.iv).setAutoPadding(false);
    const p1 = d.update(c);
    const p2 = d.final();
    const plain = p2.length === 0 ? p1 : Buffer.concat([p1, p2]);
    return plain.subarray(0, plen);
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
