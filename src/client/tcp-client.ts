/**
 * TcpClient: the Diarkis realtime protocol over TCP, driven by the native core's
 * DiarkisTcpBase on the shared network thread.
 *
 *   const client = new TcpClient();
 *   client.on('push', (ver, cmd, payload) => { ... });
 *   await client.connect(await getEndpoint(entryUrl, { type: 'TCP', uid }));
 *   const { status, payload } = await client.request(2, 1, Buffer.from('hi'));
 *   await client.close();
 */
import type { NativeAddon, NativeTcpOptions } from '../native';
import { BaseClient } from './base-client';
import type { ClientOptions } from './types';

export type TcpClientOptions = ClientOptions;

export class TcpClient extends BaseClient {
  constructor(options?: TcpClientOptions) {
    super(options);
  }

  protected override batchesSends(): boolean {
    return true;
  }

  protected override createNative(native: NativeAddon, options: NativeTcpOptions): number {
    return native.create({ ...options, ...this.options.migrationNative });
  }
}
