// The same package from a CommonJS TypeScript file (module: nodenext resolves "require").
import { TcpClient, type DiarkisErrorCode } from 'diarkis-node';

const code: DiarkisErrorCode = 'addon-unavailable';
export const made: TcpClient = new TcpClient();
made.destroy();
console.log('cts: types resolve through the require condition', code);
