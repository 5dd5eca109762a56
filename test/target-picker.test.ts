// Issue 12: migration targets for a burst of sessions come from one node listing per burst,
// spread over the ONLINE targets, and a listing never serves a request made after it started.
import { describe, expect, it } from 'vitest';
import type { NodeInfo, NodeType } from '../src/server';
import { TargetPicker } from '../src/server/target-picker';

const node = (id: string, users: number, state: NodeInfo['state'] = 'online'): NodeInfo => ({ id, type: 'TCP', host: '127.0.0.1', port: 1, state, users });

/** A store whose listings resolve only when the test says so. */
class GatedStore {
  calls: Array<{ type: NodeType | undefined; release: (n: NodeInfo[]) => void; fail: (e: Error) => void }> = [];
  listNodes(type?: NodeType): Promise<NodeInfo[]> {
    return new Promise((release, fail) => this.calls.push({ type, release, fail }));
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TargetPicker', () => {
  it('serves a burst with one listing and spreads it least loaded first', async () => {
    const store = new GatedStore();
    const picker = new TargetPicker(store);
    const picks = Array.from({ length: 10 }, () => picker.pick('TCP', 'old'));
    await tick();
    expect(store.calls.length).toBe(1);
    store.calls[0]?.release([node('old', 10, 'offline'), node('a', 0), node('b', 2), node('c', 0, 'taken')]);
    const got = (await Promise.all(picks)).map((n) => n?.id);
    expect(got.filter((id) => id === 'a').length).toBe(6);
    expect(got.filter((id) => id === 'b').length).toBe(4);
    expect(picker.listings).toBe(1);
  });

  it('a request made while a listing is in flight waits for the next one', async () => {
    const store = new GatedStore();
    const picker = new TargetPicker(store);
    const first = picker.pick('TCP', 'old');
    await tick();
    const second = picker.pick('TCP', 'old');
    store.calls[0]?.release([node('a', 0)]);
    expect((await first)?.id).toBe('a');
    await tick();
    expect(store.calls.length).toBe(2);
    store.calls[1]?.release([node('a', 0, 'offline'), node('b', 0)]);
    expect((await second)?.id).toBe('b');
  });

  it('null without another ONLINE node; a failed listing rejects its batch only', async () => {
    const store = new GatedStore();
    const picker = new TargetPicker(store);
    const lone = picker.pick('TCP', 'old');
    await tick();
    store.calls[0]?.release([node('old', 3)]);
    expect(await lone).toBeNull();
    const failing = picker.pick('TCP', 'old');
    await tick();
    store.calls[1]?.fail(new Error('redis down'));
    await expect(failing).rejects.toThrow('redis down');
    const after = picker.pick('TCP', 'old');
    await tick();
    store.calls[2]?.release([node('a', 0)]);
    expect((await after)?.id).toBe('a');
  });
});
