import { describe, expect, it, vi } from 'vitest';
import { Handoffs, type HandoffTarget } from '../src/server/handoff';
import { Session } from '../src/server/session';
import { MemoryStore, type HandoffRecord } from '../src/server/store';
import type { NodeInfo, NodeType } from '../src/server/types';

/** A node as Handoffs sees it: id, type, and whether it was asked to hold a pending session. */
function node(id: string, type: NodeType): HandoffTarget & { adopted: string[] } {
  const adopted: string[] = [];
  return {
    id,
    type,
    adopted,
    adoptSession: (rec) => {
      adopted.push(rec.sid);
      return new Session(rec);
    },
  } as unknown as HandoffTarget & { adopted: string[] };
}

/** A memory store that also picks and puts in one step (as RedisStore does), counting calls. */
function oneStepStore(): MemoryStore & { oneStep: Omit<HandoffRecord, 'to'>[] } {
  const s = new MemoryStore() as MemoryStore & { oneStep: Omit<HandoffRecord, 'to'>[]; putHandoffToLeastLoaded?: unknown };
  s.oneStep = [];
  s.putHandoffToLeastLoaded = async (rec: Omit<HandoffRecord, 'to'>, type: NodeType, ttlMs: number): Promise<NodeInfo | null> => {
    s.oneStep.push(rec);
    const best = await s.pickNode(type);
    if (best === null || best.id === rec.from) return null;
    await s.putHandoff({ ...rec, to: best.id }, ttlMs);
    return best;
  };
  return s;
}

describe('Handoffs: target pick and handoff in one store step', () => {
  it('uses the one-step store call when no node of the type is in this process, and returns its address', async () => {
    const store = oneStepStore();
    await store.registerNode({ id: 'to', type: 'UDP', host: '::1', port: 9000, ports: [9001], state: 'online' });
    const from = node('from', 'UDP');
    const h = new Handoffs({ store, nodes: new Map([['from', from]]), ttlMs: 1000, clock: { now: () => 5, setTimer: () => () => undefined } as never, emit: () => undefined });
    const listNodes = vi.spyOn(store, 'listNodes');
    const rec = { uid: 'u', sid: 'a'.repeat(32), nodeId: 'from', key: '', iv: '', macKey: '', clientKey: '', data: { n: 1 } };
    await store.registerSession(rec);
    const t = await h.migrate(from, new Session(rec));
    expect(t?.to).toBe('to');
    expect(t?.address).toBe('[::1]:9000');
    expect(store.oneStep).toHaveLength(1);
    expect(store.oneStep[0]).toMatchObject({ sid: rec.sid, from: 'from', ticket: t?.ticket.toString('hex'), createdAt: 5, data: { n: 1 } });
    expect('to' in (store.oneStep[0] as object)).toBe(false);
    expect(listNodes).not.toHaveBeenCalled();
    expect((await store.getSession(rec.sid))?.nodeId).toBe('to');
  });

  it('lists and prepares an in-process target first when a node of the type is in this process', async () => {
    const store = oneStepStore();
    await store.registerNode({ id: 'to', type: 'TCP', host: '127.0.0.1', port: 9000, state: 'online' });
    const from = node('from', 'TCP');
    const to = node('to', 'TCP');
    const h = new Handoffs({ store, nodes: new Map([['from', from], ['to', to]]), ttlMs: 1000, clock: { now: () => 5, setTimer: () => () => undefined } as never, emit: () => undefined });
    const rec = { uid: 'u', sid: 'b'.repeat(32), nodeId: 'from', key: '', iv: '', macKey: '', clientKey: '', data: {} };
    await store.registerSession(rec);
    const t = await h.migrate(from, new Session(rec));
    expect(t?.to).toBe('to');
    expect(store.oneStep).toHaveLength(0);
    // The in-process target held the session before the routing moved (no push lost).
    expect(to.adopted).toEqual([rec.sid]);
  });

  it('no other ONLINE node: null, nothing moved', async () => {
    const store = oneStepStore();
    const from = node('from', 'UDP');
    await store.registerNode({ id: 'from', type: 'UDP', host: 'h', port: 1, state: 'offline' });
    const h = new Handoffs({ store, nodes: new Map([['from', from]]), ttlMs: 1000, clock: { now: () => 5, setTimer: () => () => undefined } as never, emit: () => undefined });
    const rec = { uid: 'u', sid: 'c'.repeat(32), nodeId: 'from', key: '', iv: '', macKey: '', clientKey: '', data: {} };
    await store.registerSession(rec);
    expect(await h.migrate(from, new Session(rec))).toBeNull();
    expect(store.oneStep).toHaveLength(1);
    expect((await store.getSession(rec.sid))?.nodeId).toBe('from');
  });
});
