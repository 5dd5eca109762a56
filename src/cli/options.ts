/**
 * Argument parsers shared by the subcommands. Each throws commander's InvalidArgumentError, so a
 * bad value ends the program with a message naming the flag and a non-zero exit.
 */
import { InvalidArgumentError } from 'commander';
import type { MigrationMode } from './bot';
import type { Mix } from './swarm';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number.');
  return n;
}

/** `--offline-pacing`: 'off' (or 0) = every notice at once, else the window (sessions at a time). */
/** `--offline-pacing`: off, a window, or window/drainMs (every notice sent within drainMs of OFFLINE). */
export function offlinePacing(value: string): number | false | { window: number; drainMs: number } {
  if (value === 'off' || value === '0') return false;
  const [w = '', d] = value.split('/');
  const n = Number(w);
  if (w.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`must be 'off', a positive integer (the window) or window/drainMs.`);
  if (d === undefined) return n;
  const ms = Number(d);
  if (d.trim() === '' || !Number.isFinite(ms) || ms <= 0) throw new InvalidArgumentError(`window/drainMs: drainMs must be a positive number of ms.`);
  return { window: n, drainMs: ms };
}

export function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535.');
  return n;
}

export function migrationMode(value: string): MigrationMode {
  if (value !== 'auto' && value !== 'manual') throw new InvalidArgumentError(`must be 'auto' or 'manual'.`);
  return value;
}

export function botType(value: string): 'TCP' | 'UDP' {
  const v = value.toUpperCase();
  if (v !== 'TCP' && v !== 'UDP') throw new InvalidArgumentError(`must be 'tcp' or 'udp'.`);
  return v;
}

export function nodeState(value: string): 'online' | 'taken' | 'offline' {
  if (value !== 'online' && value !== 'taken' && value !== 'offline') throw new InvalidArgumentError(`must be online, taken or offline.`);
  return value;
}

/** `tcp=50,udp=50`: weights (shares of --bots), not counts; either may be omitted (= 0). */
export function mixWeights(value: string): Mix {
  const mix: Mix = { tcp: 0, udp: 0 };
  const seen = new Set<string>();
  for (const part of value.split(',')) {
    const m = /^\s*(tcp|udp)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*$/i.exec(part);
    if (m === null) throw new InvalidArgumentError(`'${part}' is not tcp=<n> or udp=<n> (e.g. --mix tcp=50,udp=50).`);
    const key = (m[1] ?? '').toLowerCase() as keyof Mix;
    if (seen.has(key)) throw new InvalidArgumentError(`${key} given twice.`);
    seen.add(key);
    mix[key] = Number(m[2]);
  }
  if (mix.tcp + mix.udp <= 0) throw new InvalidArgumentError('the weights must not all be 0.');
  return mix;
}

/**
 * The bot counts: --tcp/--udp counts win; else --type (all one kind); else --mix weights
 * applied to --bots.
 */
export function resolveMix(o: { bots: number; mix?: Mix; tcp?: number; udp?: number; type?: 'TCP' | 'UDP' }, dflt: Mix): Mix {
  if (o.tcp !== undefined || o.udp !== undefined) return { tcp: o.tcp ?? 0, udp: o.udp ?? 0 };
  if (o.type !== undefined) return o.type === 'TCP' ? { tcp: o.bots, udp: 0 } : { tcp: 0, udp: o.bots };
  const w = o.mix ?? dflt;
  const tcp = Math.round((o.bots * w.tcp) / (w.tcp + w.udp));
  return { tcp, udp: o.bots - tcp };
}
