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
  timingSafeEqual,
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
    const pad = AES_BLOCK - (body.length % AES_BLOCK); // 1..16 zero bytes
    const padded = Buffer.alloc(body.length + pad);
    padded.set(body, 0);
    const c = this.enc.run(padded);
    const out = Buffer.allocUnsafe(headroom + SECURE_HEADER_SIZE + c.length);
    out.writeUInt32BE(body.length, headroom);
    c.copy(out, headroom + SECURE_HEADER_SIZE);
    createHmac('sha256', k.macKey).update(c).digest().copy(out, headroom + 4);
    return out;
  }

  /** body, or why `secured` was rejected. The MAC is checked (constant time) before decrypting. */
  open(secured: Buffer): Buffer | OpenError {
    const k = this.keys;
    if (k === null || this.dec === null) return secured;
    if (secured.length < SECURE_HEADER_SIZE + AES_BLOCK) return BAD_SECURE;
    const c = secured.subarray(SECURE_HEADER_SIZE);
    if (c.length % AES_BLOCK !== 0) return BAD_SECURE;
    const plen = secured.readUInt32BE(0);
    if (plen > c.length) return BAD_SECURE;
    const mac = createHmac('sha256', k.macKey).update(c).digest();
    if (!timingSafeEqual(mac, secured.subarray(4, 4 + MAC_SIZE))) return BAD_MAC;
    return this.dec.run(c).subarray(0, plen);
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
