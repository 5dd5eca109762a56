#!/usr/bin/env node
/**
 * The command-line program. `npm start` runs `demo`.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runDemo } from './demo';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('diarkis-node')
    .description('Drive Diarkis-style realtime game servers from Node.js: demo, reference cluster, bots')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('demo')
    .description('start an embedded cluster and run a short live session of TCP bots against it')
    .option('-b, --bots <n>', 'number of bots', positiveInt('--bots'), 10)
    .option('-d, --duration <seconds>', 'how long the bots stream', positiveInt('--duration'), 3)
    .option('--no-encryption', 'switch encryption off cluster-wide')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { bots: number; duration: number; encryption: boolean; json?: boolean }) => {
      const report = await runDemo({
        bots: opts.bots,
        durationMs: opts.duration * 1000,
        encryption: opts.encryption,
        json: opts.json === true,
      });
      process.exitCode = report.ok ? 0 : 1;
    });

  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (typeof code === 'number') {
      process.exitCode = code;
      return;
    }
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
